"""CIFAR-10: a CNN trained on the images at hand, exported to .h5, then one test image turned into every class by 10 generators at once (HW2 ex. 2C), and 1,000 generators (100 test images × 10 targets) with 95 % intervals.

Command:  jexp run adversarial_cifar     (about 20 min on a 2-core CPU)
Setting:  reads every CIFAR-10 binary batch present (here: data_batch_1, 10,000 training images,
          and the first 1,000 test records); architectures.CIFAR_CNN (0.29 M parameters) with random crops
          and flips, AdamW one-cycle; the generator f(w) = sigmoid(Dense(1 → 32·32·3)(1)) with the
          same attack as `adversarial` (Carlini & Wagner's L2 attack as phase (b), a warm start, c
          growing from 1e-4), targeted PGD as reference on the one image; the 100 images are drawn
          with the seed among those the CNN classifies correctly.
Result:   artifacts/adversarial_cifar/: cifar.h5, grid.png, perturbations.png, rounds.png, per_target.png,
          generators_cifar.npz (the 1,000 images; a test checks them in Keras), learning_curves.png,
          confusion.png, metrics.json, results.md. The committed run was made on a 2-core AMD EPYC (its
          time is in timing.json); its model is bitwise the one committed before.
Measured: (the committed run, seed 0; every figure here is in its results.md, a test checks)
          test accuracy 63.2 %. On the 1,000 generators, 100.0 % of the 900 other-class pairs succeed
          (Wilson interval 99.6-100), median L2 1.21 [1.15, 1.26] and L∞ 0.107 (27.2/255) in pixel
          units of [0, 1], median 7 rounds; cat and dog are the farthest targets (median L2 1.87).
          On the one image (a ship): 9 of 9 targets at median L2 1.86, where the smallest L∞ PGD
          budget that reaches them gives L2 2.77-3.07 (at 16/255).
Defaults: those of `adversarial` (the sheet's MSE reading had needed a median L2 of 7.36 on this
          image, in the committed run before this attack, at 74fe936); in a scratch trial on the committed model (50 generators, 5 of
          these images) c starting at 1e-6 instead of 1e-4 gave a larger median L2 (1.12 vs 0.98)
          after 51 rounds instead of 5.
"""
from dataclasses import dataclass

import numpy as np

from jexp.attacks import generator, pairs
from jexp.data import cifar10
from jexp.experiments import base
from jexp.io import artifacts, keras_h5
from jexp.nn import architectures, augment, checkpoint, evaluate, nets, train
from jexp.plots import attack_figures, classifiers
from jexp.runtime import rng

FIGURES = ("grid.png", "perturbations.png", "confusion.png")


@dataclass(frozen=True)
class Config(generator.AttackConfig):
    seed: int = 0             # the seed every PRNG key of the run is derived from
    epochs: int = 8           # training epochs
    batch_size: int = 128     # minibatch size
    lr: float = 3e-3          # peak learning rate (AdamW, one-cycle)
    weight_decay: float = 5e-4  # AdamW's weight decay
    train_size: int = 0       # 0: every training image present
    sample: int = -1          # test index to attack; -1: drawn with the seed among confident ones
    min_confidence: float = 0.9  # the attacked image's required confidence
    pgd_eps: tuple[float, ...] = (0.5 / 255, 1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255)  # budgets of the targeted-PGD reference
    pgd_steps: int = 100      # its PGD steps
    n_many: int = 100         # test images × every target in the evaluation of the draw (0: off)


QUICK = dict(epochs=1, train_size=512, max_rounds=10, pgd_eps=(8 / 255,), pgd_steps=5, min_confidence=0.0, n_many=2)
TARGET_RATE = 0.95  # issue 25's target: ≥ 95 % of the other-class pairs succeed


def run(cfg: Config, ctx) -> None:
    ds, used = cifar10.load(ctx.data_dir)
    tr = ds.train if not cfg.train_size else ds.train._replace(x=ds.train.x[:cfg.train_size], y=ds.train.y[:cfg.train_size])
    d = train.make_data(tr, ds.test, rng.key(cfg.seed, "probe"), split="test")
    params, state, history = train.fit_net(
        architectures.CIFAR_CNN, d, cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size, lr=cfg.lr,
        weight_decay=cfg.weight_decay, augment=augment.CropFlip(), ckpt_dir=ctx.checkpoints("cnn"),
        progress=ctx.progress(cfg.epochs, f"{ctx.name}/train"))
    keras_h5.save(ctx.out.path("cifar.h5"), architectures.CIFAR_CNN, params, state)
    checkpoint.save(ctx.out.path("cifar.orbax"), cfg.epochs, (params, state))
    f, v = nets.classifier(architectures.CIFAR_CNN, params, state)
    probs = evaluate.batched(nets.probabilities(f, v), ds.test.x, 500)
    pred = probs.argmax(-1)
    conf = evaluate.confusion(ds.test.y, pred)
    ids = base.attack_samples([cfg.sample] if cfg.sample >= 0 else [], rng.key(cfg.seed, "samples"), probs[None],
                              ds.test.y, 1, cfg.min_confidence, flag="sample")
    x, labels = ds.test.x[ids], ds.test.y[ids]
    acfg = generator.AttackConfig.of(cfg)
    with ctx.progress(2 + bool(cfg.n_many), f"{ctx.name}/attack") as bar:
        att = pairs.attack_pairs(f, v, x, rng.key(cfg.seed, "attack"), acfg, note=lambda s: bar.note(f"generators, {s}"))
        bar.update(1, "generators")
        pgd = pairs.pgd_min_eps(f, v, x, rng.key(cfg.seed, "pgd"), cfg.pgd_eps, cfg.threshold, steps=cfg.pgd_steps)
        bar.update(1, "PGD")
        if cfg.n_many:
            many = pairs.pick_many(rng.key(cfg.seed, "many samples"), probs[None], ds.test.y, cfg.n_many)
            big = pairs.attack_pairs(f, v, ds.test.x[many], rng.key(cfg.seed, "many"), acfg,
                                     note=lambda s: bar.note(f"{10 * len(many)} generators, {s}"))
            ctx.out.arrays("generators_cifar.npz", **pairs.many_arrays(big, many, ds.test.y[many]))
            bar.update(1, f"{big['success'].size} generators")
    metrics = {"data": {"train_files": used["train"], "test_files": used["test"], "train_size": len(tr.y),
                        "test_size": len(ds.test.y)},
               "classes": ds.classes, "test_acc": float(np.mean(pred == ds.test.y)),
               "per_class_recall": (np.diag(conf) / np.maximum(conf.sum(1), 1)).tolist(), "confusion": conf,
               "history": {k: history[k].tolist() for k in ("train_loss", "train_acc", "test_loss", "test_acc")},
               "params": nets.count_params(params), "sample": ids, "label": labels,
               **pairs.summarize(att, labels, pgd), "generators": pairs.pair_records(att, labels, ids, pgd)}
    if cfg.n_many:
        metrics.update(many_samples=many, many=pairs.evaluate_many(big, ds.test.y[many]))
        ctx.out.figure("per_target.png", attack_figures.per_target(
            {"cnn": metrics["many"]}, f"{len(many)} test images × every other class: generators per target class",
            TARGET_RATE))
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, metrics))
    ctx.out.figure("grid.png", attack_figures.attack_grid(x, probs[ids], att["images"], att["probs"], att["targets"],
                                                          att["success"], ds.classes, "CIFAR-10 CNN: one test image, every target"))
    ctx.out.figure("perturbations.png", attack_figures.perturbations(x, att["images"], att["targets"], ds.classes,
                                                                     "generator image − original"))
    ctx.out.figure("rounds.png", attack_figures.target_curves(att["trace"], labels, att["targets"], cfg.threshold, ds.classes,
                                                              "p(target) after each round"))
    ctx.out.figure("learning_curves.png", classifiers.net_curves({"cnn": history}, "CIFAR-10 CNN (train metrics on augmented images)"))
    ctx.out.figure("confusion.png", classifiers.confusion(conf, list(ds.classes), "CIFAR-10 CNN on the test images"))


def results_md(cfg, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    m = metrics
    f = lambda v, fmt=".2f": "–" if v is None else format(v, fmt)
    classes, recall = m["classes"], m["per_class_recall"]
    worst, best = int(np.argmin(recall)), int(np.argmax(recall))
    rows = [[classes[r["target"]], "yes" if r["success"] else "no", r["rounds"], f"{r['target_prob']:.2f}",
             f"{r['l2']:.2f}", f"{r['linf']:.3f}", "–" if not np.isfinite(r["pgd_min_eps"]) else f"{255 * r['pgd_min_eps']:.1f}/255",
             "–" if not np.isfinite(r["pgd_l2"]) else f"{r['pgd_l2']:.2f}"] for r in m["generators"]]
    data = m["data"]
    return (f"# adversarial_cifar: CNN on the CIFAR-10 images at hand, then a generator attack (seed {cfg.seed})\n\n"
            f"Data: {data['train_size']:,} training images ({', '.join(data['train_files'])}), "
            f"{data['test_size']:,} test images ({', '.join(data['test_files'])}). "
            f"That is {100 * data['train_size'] / 50000:.0f} % of CIFAR-10's 50,000 training and "
            f"{100 * data['test_size'] / 10000:.0f} % of its 10,000 test images.\n\n"
            f"Test accuracy after {cfg.epochs} epochs: **{artifacts.pct(m['test_acc'], digits=1)} %** "
            f"({m['params']:,} parameters). Best class: {classes[best]} ({artifacts.pct(recall[best])} % recall); "
            f"worst: {classes[worst]} ({artifacts.pct(recall[worst])} %).\n\n"
            f"Generator attack on test image {int(m['sample'][0])} (a {classes[int(m['label'][0])]}): "
            f"{artifacts.pct(m['success_rate'])} % of the {m['attacks']} other targets reached p ≥ {cfg.threshold}; "
            f"median L2 {f(m['median_l2'])}, median L∞ {f(m['median_linf'], '.3f')} over the successes. "
            f"Targeted PGD reaches {artifacts.pct(m['pgd']['success_rate'])} % of them within ε ≤ "
            f"{255 * max(cfg.pgd_eps):.0f}/255.\n\n"
            + artifacts.md_table(["target", "success", "rounds", "p(target)", "L2", "L∞", "PGD min ε", "PGD L2"], rows)
            + (_many_md(m, cfg) if "many" in m else ""))


def _many_md(m: dict, cfg) -> str:
    e, classes = m["many"], m["classes"]
    ci = artifacts.with_interval
    per = e["per_target"]
    hardest = min(per, key=lambda j: (per[j]["success_rate"], -(per[j]["median_l2"] or np.inf)))
    rows = [[classes[int(j)], f"{t['attacks']}", ci(t["success_rate"], t["success_ci"], ".0f", 100),
             ci(t["median_l2"], t["median_l2_ci"]), ci(t["median_linf"], t["median_linf_ci"], ".3f")]
            for j, t in per.items()]
    n = len(m["many_samples"])
    linf255 = "" if e["median_linf"] is None else f"{255 * e['median_linf']:.1f}/255, "
    rounds = "–" if e["median_rounds"] is None else f"{e['median_rounds']:.0f}"
    return (f"\n## {n} test images × every target: {10 * n:,} generators at once\n\n"
            f"They run vmapped, {generator.CHUNK} rounds per compiled call over the generators still running. The "
            "images are drawn with the seed among those the CNN classifies correctly; intervals are 95 % "
            "(success: Wilson's; medians: from order statistics); distances in pixel units of [0, 1]. Images, "
            "samples, targets and successes are in `generators_cifar.npz`.\n\n"
            f"Overall: {ci(e['success_rate'], e['success_ci'], '.1f', 100)} % of {e['attacks']} attacks succeed "
            f"(the target is ≥ {100 * TARGET_RATE:.0f} %: {'met' if e['success_rate'] >= TARGET_RATE else '**missed**'}); "
            f"median L2 {ci(e['median_l2'], e['median_l2_ci'])}, median L∞ {ci(e['median_linf'], e['median_linf_ci'], '.3f')} "
            f"({linf255}median {rounds} rounds). Hardest target: "
            f"{classes[int(hardest)]} ({100 * per[hardest]['success_rate']:.0f} % succeed).\n\n"
            + artifacts.md_table(["target", "attacks", "success % [95 %]", "median L2 [95 %]", "median L∞ [95 %]"], rows))
