"""Digit recogniser for other people's handwriting (augmented CNN), plus the MNIST MLP and CNN baselines, as Keras .h5.

Command:  jexp run digits       (about 40 min on a 2-core CPU: MLP 20, CNN 15, recogniser 20 epochs)
          jexp run digits --models_from=artifacts/digits   (minutes: re-evaluate the committed models)
Setting:  MNIST less 5,000 training digits held out as the validation split, AdamW (lr 2e-3,
          one-cycle, weight decay 1e-4), batch 128. The recogniser is the CNN trained on augmented
          digits (jexp.nn.augment: affine, elastic, stretched to fill the box with aspect ignored,
          stroke thickness up to two dilations, low resolution down to 7 px, binarised, blur,
          contrast, noise), and on two more kinds besides MNIST's: 8,400 digits typeset in 21 of
          matplotlib's TrueType fonts (digit_sets.typeset; a 1 with a flag, as many people write
          it) and 12,000 training digits re-rendered as low-resolution scans (digit_sets.scan_copies).
          Out-of-MNIST check (jexp.data.digit_sets): MNIST test digits re-rendered at 8–64 px,
          inverted and on grey paper, drawn to fill their frame (thick, binarised, 16 px), stretched
          to fill a 16×16 box as a low-resolution scanner does (mnist_boxfill); digits drawn with
          OpenCV's Hershey fonts, also through that scanner (fonts_boxfill); UCI optdigits (8×8, 13
          writers not in MNIST) when present in the data dir. Then which property of such a scan
          costs accuracy (digit_sets.PROPERTIES, one at a time), and a temperature fitted on the
          validation split (its digits as they are and re-rendered as every family) that makes the
          stated confidence calibrated (jexp.nn.calibration; ECE per family).
Result:   artifacts/digits/: digits.h5, cnn.h5, mlp.h5 (+ *.orbax; the .h5 carry the temperature),
          metrics.json, results.md, learning_curves.png, ood_accuracy.png, confusion_*.png,
          reliability.png, ood_examples.png.
Measured: (the committed run, seed 0, trained on a 2-core Intel Xeon in 41 min; every figure here
          is in its results.md, a test checks) MNIST test 98.55 / 99.48 / 99.66 % (mlp / cnn /
          recogniser); digits stretched to fill a 16×16 box (mnist_boxfill) 85.8 / 92.7 / 97.5 %;
          optdigits 87.6 / 89.0 / 97.4 %; the recogniser's weakest families are fonts_boxfill
          (80.6 %), mnist_8px (95.4 %) and fonts (94.8 %), below the 97 % target. Stretching to
          fill the box is the property that costs the mlp most alone (7.9 points); a flagged 1
          stretched becomes a 7 (fonts_boxfill: the recogniser's 1s are right 48 %, read as 7).
          Temperature T = 1.187 (validation ECE 0.4 % → 0.3 %) lowers the ECE on 2 of the 14 test
          sets only.
"""
from dataclasses import dataclass

import jax
import numpy as np

from jexp.data import datasets, digit_sets, mnist
from jexp.experiments import base
from jexp.io import artifacts, keras_h5
from jexp.nn import architectures, augment, calibration, checkpoint, evaluate, nets, train
from jexp.plots import classifiers
from jexp.runtime import rng

FIGURES = ("ood_accuracy.png", "learning_curves.png", "confusion_optdigits.png", "reliability.png")
MODELS = {"mlp": (architectures.MNIST_MLP, False), "cnn": (architectures.MNIST_CNN, False), "digits": (architectures.MNIST_CNN, True)}


@dataclass(frozen=True)
class Config:
    seed: int = 0           # the seed every PRNG key of the run is derived from
    models: tuple[str, ...] = ("mlp", "cnn", "digits")  # which of MODELS to train (mlp, cnn, digits)
    epochs: tuple[int, ...] = (20, 15, 20)  # one per model
    batch_size: int = 128   # minibatch size
    lr: float = 2e-3        # peak learning rate (AdamW, one-cycle)
    weight_decay: float = 1e-4  # AdamW's weight decay
    train_size: int = 0  # 0: all
    val_size: int = 5000    # MNIST training digits held out (never trained on): the validation split
    fill_prob: float = 0.3  # recogniser's augmentation: share of digits stretched towards filling their box
    binarise_prob: float = 0.2  # recogniser's augmentation: share of digits thresholded to black and white
    thickness_max: float = 2.0  # recogniser's augmentation: up to this many 3×3 dilations of the pen
    lowres_prob: float = 0.3  # recogniser's augmentation: share of digits scaled down and back up
    lowres_sizes: tuple[int, ...] = (7, 9, 11, 14, 18)  # recogniser's augmentation: the sizes they go down to
    typeset_samples: int = 40  # recogniser only: digits per class typeset in each of matplotlib's fonts, added to training
    scan_copies: int = 12000  # recogniser only: training digits (MNIST or typeset) re-rendered as low-resolution scans, added
    test_size: int = 0      # 0: every test image; n: the first n
    ood_sizes: tuple[int, ...] = (8, 10, 12, 16, 28, 64)  # MNIST test digits re-rendered at these sizes
    ood_count: int = 2000  # MNIST test digits per out-of-MNIST variant
    font_samples: int = 10  # drawings per digit and font variant (16 variants)
    unsure_below: float = 0.9  # calibrated confidence under which an answer is flagged "unsure"
    models_from: str = ""   # a folder of an earlier digits run: evaluate its NAME.orbax models, do not train


QUICK = dict(epochs=(1, 1, 1), train_size=1024, val_size=128, test_size=256, ood_sizes=(8, 28), ood_count=64,
             font_samples=1, batch_size=64, typeset_samples=1, scan_copies=64)


def augmentation(cfg: Config) -> augment.Augment:
    """The recogniser's augmentation: ``augment.Augment`` with this config's knobs."""
    return augment.Augment(fill_prob=cfg.fill_prob, binarise_prob=cfg.binarise_prob, thickness_max=cfg.thickness_max,
                           lowres_prob=cfg.lowres_prob, lowres_sizes=cfg.lowres_sizes)


def run(cfg: Config, ctx) -> None:
    if len(cfg.epochs) != len(cfg.models) or not set(cfg.models) <= set(MODELS):
        raise base.UsageError(f"--models must be among {', '.join(MODELS)} with one --epochs value each")
    ds = mnist.load("mnist", ctx.data_dir)
    key = rng.key(cfg.seed, "split")
    try:
        fit_split, val = datasets.split(key, datasets.subset(ds.train, cfg.train_size), cfg.val_size)
    except ValueError as e:
        raise base.UsageError(f"--val_size: {e}") from None
    ds = ds._replace(train=fit_split, test=datasets.subset(ds.test, cfg.test_size))
    data = train.make_data(ds.train, ds.test, rng.key(cfg.seed, "probe"), split="test")
    prep = ctx.progress(4, f"{ctx.name}/data")  # a minute or two of making pictures before any training
    prep.note("typesetting digits")
    # the recogniser's training data: the same digits plus typeset ones (fonts that are not the fonts family's)
    typeset = (digit_sets.typeset(cfg.typeset_samples, np.random.default_rng([cfg.seed, 3])) if cfg.typeset_samples
               else (np.zeros((0, 28, 28, 1), np.float32), np.zeros(0, np.int64)))
    pool_x, pool_y = np.concatenate([ds.train.x, typeset[0]]), np.concatenate([ds.train.y, typeset[1]])
    scan_rng = np.random.default_rng([cfg.seed, 4])
    pick = scan_rng.choice(len(pool_y), min(cfg.scan_copies, len(pool_y)), replace=False)
    prep.update(1, "scan copies")
    scans = digit_sets.scan_copies(np.rint(pool_x[pick, ..., 0] * 255).astype(np.uint8), pool_y[pick], scan_rng)
    prep.update(1, "the test families")
    rec_train = datasets.Split(np.concatenate([pool_x, scans[0]]),
                               np.concatenate([pool_y, scans[1]]).astype(ds.train.y.dtype))
    rec_data = train.make_data(rec_train, ds.test, rng.key(cfg.seed, "probe"), split="test")
    sets, unreadable = digit_sets.build(ds.test, cfg.seed, cfg.ood_sizes, cfg.ood_count, cfg.font_samples,
                                        ctx.data_dir)
    prep.update(1, "the validation families and digit properties")
    # the validation copy of the families, from the held-out training digits (other digits, other draws)
    val_families, _ = digit_sets.build(val, [cfg.seed, 2], cfg.ood_sizes, cfg.ood_count, cfg.font_samples)
    val_sets = {"MNIST validation (as is)": (val.x, val.y), **val_families}
    props, props_unreadable = digit_sets.properties(ds.test, cfg.seed, cfg.ood_count, cfg.font_samples)
    prep.update(1)
    metrics = {"mnist_test_size": len(ds.test.y), "train_count": len(ds.train.y), "val_size": len(val.y),
               "typeset_count": len(typeset[1]), "scan_count": len(scans[1]),
               "sets": {k: len(v[1]) for k, v in sets.items()}, "unreadable": {**unreadable, **props_unreadable},
               "val_sets": {k: len(v[1]) for k, v in val_sets.items()}}
    histories, confusions, reliability = {}, {}, {}
    earlier = _earlier_run(cfg) if cfg.models_from else None
    for name, epochs in zip(cfg.models, cfg.epochs):
        net, augmented = MODELS[name]
        if earlier is None:
            params, state, history = train.fit_net(
                net, rec_data if augmented else data, epochs, seed=cfg.seed, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                augment=augmentation(cfg) if augmented else None, ckpt_dir=ctx.checkpoints(name),
                progress=ctx.progress(epochs, f"{ctx.name}/{name}"))
        else:
            params, state, history = _reuse(cfg, earlier, name, net, data)
        bar = ctx.progress(len(sets) + 3, f"{ctx.name}/{name} evaluation")
        bar.note("validation split, temperature")
        logits_of = jax.jit(lambda x, p=params, s=state, n=net: nets.apply(n, p, s, x))
        logits = lambda images: (evaluate.batched(logits_of, images).astype(np.float64) if len(images)
                                 else np.zeros((0, 10)))  # a family whose every picture was unreadable
        val_z = np.concatenate([logits(x) for x, _ in val_sets.values()])  # the pooled validation split
        val_y = np.concatenate([y for _, y in val_sets.values()])
        temperature = calibration.fit_temperature(val_z, val_y)
        keras_h5.save(ctx.out.path(f"{name}.h5"), net, params, state,
                      metadata={"temperature": temperature, "unsure_below": cfg.unsure_below,
                                "calibrated_on": CALIBRATED_ON})
        checkpoint.save(ctx.out.path(f"{name}.orbax"), epochs, (params, state))
        bar.update(1, "MNIST test")
        scores, calibrated = {}, {"MNIST test (as is)": (logits(np.asarray(data.eval_x)), np.asarray(data.eval_y))}
        for set_name, (images, labels) in sets.items():
            z = logits(images)
            pred = z.argmax(-1)
            scores[set_name] = float(np.mean(pred == labels)) if len(labels) else float("nan")
            confusions[(name, set_name)] = evaluate.confusion(labels, pred)
            calibrated[set_name] = (z, labels)
            bar.update(1, set_name)
        reliability[name] = {k: (calibration.probabilities(z, temperature), y) for k, (z, y) in calibrated.items()
                             if len(y)}
        histories[name] = history
        bar.update(1, "digit properties")
        metrics[name] = {"epochs": epochs, "params": nets.count_params(params),
                         "test_acc": float(history["test_acc"][-1]), "sets": scores,
                         "properties": {k: _per_digit(logits(x).argmax(-1), y) for k, (x, y) in props.items()},
                         "calibration": {"temperature": temperature, "unsure_below": cfg.unsure_below,
                                         "validation": calibration.summary(val_z, val_y, temperature,
                                                                           cfg.unsure_below),
                                         "sets": {k: calibration.summary(z, y, temperature, cfg.unsure_below)
                                                  for k, (z, y) in calibrated.items()}},
                         **({"trained_by": earlier["trained_by"]} if earlier else {}),
                         "history": {k: history[k].tolist() for k in ("train_loss", "train_acc", "test_loss", "test_acc")}}
        bar.update(1)
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, metrics))
    ctx.out.figure("learning_curves.png", classifiers.net_curves(
        histories, "MNIST models (the recogniser's training curves are on augmented digits)"))
    ctx.out.figure("ood_accuracy.png", classifiers.set_accuracy({m: metrics[m]["sets"] for m in cfg.models}))
    best = cfg.models[-1]
    for set_name in ("optdigits", "fonts", "mnist_8px", "mnist_boxfill"):
        if (best, set_name) in confusions:
            ctx.out.figure(f"confusion_{set_name}.png", classifiers.confusion(
                confusions[(best, set_name)], [str(i) for i in range(10)], f"{best} model on {set_name}"))
    ctx.out.figure("reliability.png", classifiers.reliability(
        reliability[best], f"{best}: calibrated confidence (T = {metrics[best]['calibration']['temperature']:.2f}, "
        "fitted on the validation split) against accuracy"))
    ctx.out.figure("ood_examples.png", classifiers.image_grid(
        {k: v[0][np.linspace(0, len(v[0]) - 1, 12).astype(int)] for k, v in sets.items() if len(v[0])}))


CALIBRATED_ON = ("the digits experiment's validation split: MNIST training digits held out from training, as they "
                 "are and re-rendered as every out-of-MNIST family (optdigits excepted)")


def _per_digit(pred: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, per-digit accuracy and each digit's commonest wrong answer (None when never wrong)."""
    counts = evaluate.confusion(labels, pred)
    rows, right = counts.sum(1), np.diag(counts)
    wrong = counts - np.diag(right)
    return {"accuracy": float(np.mean(pred == labels)) if len(labels) else float("nan"),
            "per_digit": [float(r / n) if n else float("nan") for r, n in zip(right, rows)],
            "wrong_as": [int(w.argmax()) if w.any() else None for w in wrong]}


TRAINING_KEYS = ("seed", "models", "epochs", "batch_size", "lr", "weight_decay", "train_size", "val_size",
                 "fill_prob", "binarise_prob", "thickness_max", "lowres_prob", "lowres_sizes", "typeset_samples",
                 "scan_copies")


def _earlier_run(cfg: Config) -> dict:
    """config and metrics of the earlier run in ``cfg.models_from``; its training settings must be these."""
    folder, saved, old = base.earlier_run("digits", cfg, "models_from", TRAINING_KEYS)
    return {"folder": folder, "metrics": old,
            "trained_by": old.get(cfg.models[0], {}).get("trained_by")
            or f"an earlier run with the same training settings ({folder}, jax {saved.get('jax')}, {saved.get('backend')})"}


def _reuse(cfg: Config, earlier: dict, name: str, net, data):
    """(params, state, history) of model ``name`` from the earlier run: its weights, its training
    history, and the test accuracy of those weights measured again here."""
    params, state = nets.init(net, jax.random.key(0))
    restored = checkpoint.restore_latest(earlier["folder"] / f"{name}.orbax", (params, state))
    if restored is None:
        raise base.UsageError(f"--models_from={earlier['folder']}: no {name}.orbax there")
    _, (params, state), _ = restored
    old = earlier["metrics"][name]["history"]
    history = {k: np.array([np.nan if v is None else v for v in old[k]], np.float32) for k in old}
    classify = jax.jit(lambda x: nets.apply(net, params, state, x))
    history["test_acc"][-1] = np.mean(evaluate.batched(classify, np.asarray(data.eval_x)).argmax(-1)
                                      == np.asarray(data.eval_y))
    return params, state, history


TARGET_FAMILY, TARGET_MNIST = 0.97, 0.996  # issue 27: every family ≥ 97 %, MNIST test ≥ 99.6 %


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    models = list(cfg.models)
    head = ["evaluation set", "digits"] + [f"{m} % ({metrics[m]['epochs']} epochs)" for m in models]
    rows = [["MNIST test (as is)", f"{metrics['mnist_test_size']:,}"]
            + [artifacts.pct(metrics[m]["test_acc"], digits=2) for m in models]]
    rows += [[s, f"{metrics['sets'][s]:,}"] + [artifacts.pct(metrics[m]["sets"][s], digits=1) for m in models]
             for s in metrics["sets"]]
    params = ", ".join(f"{m} {metrics[m]['params']:,}" for m in models)
    rec = models[-1]
    best = metrics[rec]["sets"]
    weakest = min(best, key=best.get)
    below = [s for s in best if best[s] < TARGET_FAMILY]
    mnist_ok = metrics[rec]["test_acc"] >= TARGET_MNIST
    targets = (f"Targets for `{rec}` (≥ {100 * TARGET_FAMILY:.0f} % on every out-of-MNIST family, MNIST test ≥ "
               f"{100 * TARGET_MNIST:.1f} %): " + ("every family reaches it" if not below else
                                                  "**not reached** on " + ", ".join(
                                                      f"{s} ({artifacts.pct(best[s], digits=1)} %)" for s in below))
               + "; MNIST test " + ("reaches it" if mnist_ok else "**does not**")
               + f" ({artifacts.pct(metrics[rec]['test_acc'], digits=2)} %).")
    origin = ("" if "trained_by" not in metrics[models[0]] else
              f"The models were not retrained in this run: their weights and training curves come from "
              f"{metrics[models[0]]['trained_by']}; this run re-evaluated them (MNIST test accuracy measured "
              "again) on the sets below.\n\n")
    return (f"# digits: MNIST test accuracy and out-of-MNIST checks (seed {cfg.seed})\n\n" + origin
            + artifacts.md_table(head, rows) + f"\nParameters: {params}. `digits` is the CNN trained with "
            "augmentation; `cnn` the same network without. The weakest out-of-MNIST family for "
            f"`{rec}` is {weakest} ({artifacts.pct(best[weakest], digits=1)} %). {targets}"
            + (f" All models train on {metrics['train_count']:,} MNIST training digits; {metrics['val_size']:,} more are "
               "held out as the validation split." if "train_count" in metrics else "")
            + (f" `{rec}` also trains on {metrics['typeset_count']:,} digits typeset in {len(digit_sets.TYPESET_FONTS)} "
               "of matplotlib's TrueType fonts (`digit_sets.typeset`); the `fonts` family's Hershey fonts are not among "
               "them." if metrics.get("typeset_count") else "") + _seen_md(rec, metrics) + "\n\n"
            + digit_sets.DESCRIPTION + "\n" + _why_md(models, metrics) + "\n" + _calibration_md(rec, metrics))


def seen_process(family: str) -> bool:
    """Whether ``digit_sets.scan_copies`` renders training digits the way ``family`` is made (other
    digits, same process): MNIST shrunk to 20 px or less, and the scans that fill their frame or box."""
    size = family.removeprefix("mnist_").removesuffix("px")
    return (family.startswith("mnist_") and size.isdigit() and int(size) <= 20) or family in (
        "mnist_framefill", "mnist_boxfill", "fonts_boxfill")


def _seen_md(rec: str, metrics: dict) -> str:
    """Which families' making the recogniser trained on, when it trained on scan copies."""
    if not metrics.get("scan_count"):
        return ""
    seen = [s for s in metrics["sets"] if seen_process(s)]
    unseen = [s for s in metrics["sets"] if not seen_process(s)]
    return (f" It trains on {metrics['scan_count']:,} more: training digits (MNIST and typeset) re-rendered as "
            "low-resolution scans (`digit_sets.scan_copies`). So for " + ", ".join(seen) + " the process that makes "
            "the family was in training, though not its digits or fonts: they are checks of unseen digits; "
            + (", ".join(unseen) + " come from processes it never trained on" if unseen else "no family is unseen in "
               "process") + ".")


def _why_md(models: list[str], metrics: dict) -> str:
    """Which property of a low-resolution scan costs accuracy: one property at a time (``digit_sets.PROPERTIES``)."""
    if "properties" not in metrics[models[0]]:
        return ""
    names = list(metrics[models[0]]["properties"])

    def weakest(m, p):
        r = metrics[m]["properties"][p]
        if np.isnan(r["per_digit"]).all():
            return "no readable picture"
        d = int(np.nanargmin(r["per_digit"]))
        wrong = r["wrong_as"][d]
        return f"{d}: {artifacts.pct(r['per_digit'][d], digits=0)} %" + ("" if wrong is None else f", read as {wrong}")
    rows = [[p] + [artifacts.pct(metrics[m]["properties"][p]["accuracy"], digits=1) for m in models]
            + [weakest(m, p) for m in models] for p in names]
    ref = names[0]
    single = [p for p in names[1:] if digit_sets.PROPERTIES.get(p, ("",))[0] == "mnist" and "(" not in p]
    loss = {m: {p: metrics[m]["properties"][ref]["accuracy"] - metrics[m]["properties"][p]["accuracy"]
                for p in single} for m in models}
    lines = []
    for m in models:
        if not loss[m] or not all(np.isfinite(list(loss[m].values()))):
            continue
        worst = max(loss[m], key=loss[m].get)
        if loss[m][worst] > 0:
            lines.append(f"for `{m}`, the property that costs most on its own is “{worst}” "
                         f"({100 * loss[m][worst]:.1f} points below “{ref}”)")
        else:
            lines.append(f"for `{m}`, no single property costs accuracy against “{ref}”")
    return ("Why digits scanned at low resolution fail: the same MNIST test digits with one property of such a scan "
            "at a time, then all of them, then the same Hershey-font drawings (whose 1 has a flag) kept in aspect "
            "and stretched (`digit_sets.PROPERTIES`); accuracy % and the weakest digit (its accuracy, and what it "
            "is read as most often):\n\n"
            + artifacts.md_table(["pictures"] + [f"{m} %" for m in models] + [f"{m}: weakest digit" for m in models],
                                 rows) + "\n" + "; ".join(lines) + ".\n")


def _calibration_md(rec: str, metrics: dict) -> str:
    """The recogniser's confidence: temperature, ECE before and after, the "unsure" flag per family."""
    c = metrics[rec].get("calibration")
    if not c:
        return ""
    pct = lambda x: "—" if not np.isfinite(x) else artifacts.pct(x, digits=1)  # no answer of that kind
    rows = [[k] + [pct(v[f]) for f in ("accuracy", "ece_raw", "ece", "unsure_share", "accuracy_sure", "accuracy_unsure")]
            for k, v in c["sets"].items()]
    scored = {k: v for k, v in c["sets"].items() if v["n"]}
    better = sum(v["ece"] < v["ece_raw"] for v in scored.values())
    worst = max(scored, key=lambda k: scored[k]["ece"])
    direction = "softens" if c["temperature"] > 1 else "sharpens"
    return (f"Calibrated confidence of `{rec}`: the logits are divided by T = {c['temperature']:.3f}, fitted on the "
            f"validation split ({CALIBRATED_ON}; its ECE {artifacts.pct(c['validation']['ece_raw'], digits=1)} % → "
            f"{artifacts.pct(c['validation']['ece'], digits=1)} %), which {direction} the answers' stated confidence "
            f"and never changes them. An answer whose calibrated confidence is under {c['unsure_below']:.0%} is "
            "flagged unsure (`jexp predict-digit`). Expected calibration error (15 bins) on each test family:\n\n"
            + artifacts.md_table(["evaluation set", "accuracy %", "ECE % (T = 1)", "ECE % (calibrated)",
                                  "flagged unsure %", "accuracy % of the sure", "accuracy % of the unsure"], rows)
            + f"\nCalibration lowers the ECE on {better} of the {len(scored)} sets with readable pictures; the largest left is {worst}'s "
            f"({artifacts.pct(c['sets'][worst]['ece'], digits=1)} %)." + _one_temperature(scored)
            + _flag_md(scored) + " Figure: reliability.png.\n")


def _one_temperature(scored: dict) -> str:
    """Why one temperature helps some families and not others, when it does not help most."""
    helped = [k for k, v in scored.items() if v["ece"] < v["ece_raw"]]
    if 2 * len(helped) >= len(scored) or not helped:
        return ""
    rest = [v["ece_raw"] for k, v in scored.items() if k not in helped]
    over = all("mean_confidence_raw" in scored[k] and scored[k]["mean_confidence_raw"] > scored[k]["accuracy"]
               for k in helped)
    return (f" One temperature does not fit every family: it helps {', '.join(helped)}"
            + (", where the raw softmax was over-confident" if over else "") + f", while on the other sets the raw confidence was already within "
            f"{artifacts.pct(max(rest), digits=1)} % of the accuracy (ECE), and the temperature that the pooled "
            "validation split asks for moves them away from it.")


def _flag_md(scored: dict) -> str:
    """How right the answers flagged unsure are, against the others, over the families."""
    sure = [v["accuracy_sure"] for v in scored.values() if np.isfinite(v["accuracy_sure"])]
    unsure = [v["accuracy_unsure"] for v in scored.values() if np.isfinite(v["accuracy_unsure"])]
    if not sure or not unsure:
        return ""
    return (f" The flag separates the answers to trust: those not flagged are right {artifacts.pct(min(sure), digits=1)}–"
            f"{artifacts.pct(max(sure), digits=1)} % of the time on every set, those flagged unsure "
            f"{artifacts.pct(min(unsure), digits=1)}–{artifacts.pct(max(unsure), digits=1)} %.")
