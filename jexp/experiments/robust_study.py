"""A robust model next to a standard one (sheet HW2 ex. 2D): train the robust model adversarially,
with FGSM from a random start (Wong, Rice & Kolter 2020) or with PGD (Madry et al. 2018), the budget
optionally warmed up over the first epochs; evaluate both with strong PGD
and the gradient-masking checks of ``robustness``, attack both with the sheet's generators, and
write the figures, metrics and results. The experiments `robust` (MNIST) and `robust_cifar` call
``run`` with their data and network; their configs are ``RobustStudyConfig`` with their defaults."""
from dataclasses import dataclass
import jax
import numpy as np

from jexp.attacks import generator, pairs, pgd, robustness
from jexp.data import datasets
from jexp.experiments import base
from jexp.io import artifacts, keras_h5
from jexp.nn import checkpoint, evaluate, nets, train
from jexp.plots import attack_figures, classifiers
from jexp.runtime import rng

FIGURES = ("accuracy_vs_eps.png", "grid_robust.png", "perturbations_robust.png")


@dataclass(frozen=True)
class RobustStudyConfig(generator.AttackConfig):
    """The settings of a standard-vs-robust study, with the MNIST study's defaults (``robust``);
    ``robust_cifar`` changes the defaults, not the fields."""
    seed: int = 0                              # the seed every PRNG key of the run is derived from
    standard: str = "artifacts/digits/cnn.h5"  # the standard model: a Keras .h5 for the robust network's inputs
    epochs: int = 15                           # epochs of adversarial training
    batch_size: int = 100                      # minibatch size
    lr: float = 1e-3                           # AdamW's peak learning rate (one-cycle)
    weight_decay: float = 0.0                  # AdamW's weight decay
    train_size: int = 0                        # 0: every training image there is
    eps: float = 0.3                           # the L∞ budget, for training and evaluation
    alpha: float = 0.1                         # the step of the training attack (FGSM-RS: 1.25 ε)
    train_steps: int = 5                       # attack steps per training minibatch: 1 FGSM-RS, more PGD
    warmup_epochs: int = 4                     # ε grows linearly from 0 over this many epochs (0: off)
    select_size: int = 512                     # early stopping: PGD check on this many training images (0: off)
    select_steps: int = 10                     # PGD steps of that check
    eval_size: int = 1000                      # first test images for the attacks
    pgd_steps: int = 100                       # the evaluation attack's PGD steps
    restarts: int = 20                         # its random restarts (an image is robust if every one fails)
    eps_grid: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)  # budgets of the accuracy-against-ε curve
    curve_size: int = 500                      # first test images of that curve
    broken_below: float = 0.1                  # the largest ε must bring PGD accuracy to this or less
    samples: tuple[int, ...] = ()             # test indices for the generator attack; empty: drawn
    n_samples: int = 5                         # images the generators attack (one per class)
    min_confidence: float = 0.9                # their required confidence under both models
    n_many: int = 20                           # test images × every target in the generators' larger evaluation (0: off)
    model_from: str = ""                       # an earlier run's folder: re-evaluate its robust model, no training


TRAINING_KEYS = ("seed", "epochs", "batch_size", "lr", "weight_decay", "train_size", "eps", "alpha", "train_steps",
                 "warmup_epochs", "select_size", "select_steps")


def _earlier_run(cfg, name: str, net) -> dict:
    """The robust model of the earlier run in ``cfg.model_from`` (its training settings must be
    these): its weights, its training history and record, and who trained it."""
    folder, saved, old = base.earlier_run(name, cfg, "model_from", TRAINING_KEYS)
    restored = checkpoint.restore_latest(folder / "robust.orbax", nets.init(net, jax.random.key(0)))
    if restored is None:
        raise base.UsageError(f"--model_from={folder}: no robust.orbax there")
    _, (params, state), _ = restored
    training = old["training"]
    history = {k: np.array([np.nan if v is None else v for v in vals], np.float32) for k, vals in training["history"].items()}
    history.setdefault("test_loss", np.full_like(history["test_acc"], np.nan))  # runs before 2026-12 kept none: no curve
    return {"params": params, "state": state, "history": history, "training": training,
            "trained_by": training.get("trained_by") or f"an earlier run with the same training settings ({folder}, "
                                                         f"code {saved.get('code', '?')}, jax {saved.get('jax')})"}


def _method(steps: int) -> str:
    return "FGSM-RS" if steps == 1 else f"PGD-{steps}"


def run(cfg, ctx, *, net: nets.Sequential, ds: datasets.Dataset, made_by: str, augment=None, data_note: str = "",
        reference: tuple[str, float] | None = None) -> None:
    """The whole study; ``cfg`` has the fields of the two experiments' configs."""
    standard_net, *standard = keras_h5.load_classifier(cfg.standard, net.input_shape,
                                                       hint=f"run `{made_by}` first, or pass --standard=PATH.h5")
    standard = tuple(standard)  # (logits_fn, variables)
    tr = datasets.subset(ds.train, cfg.train_size or None)
    d = train.make_data(tr, ds.test, rng.key(cfg.seed, "probe"), split="test")
    check_f, _ = nets.classifier(net, *nets.init(net, jax.random.key(0)))  # a template: one compiled PGD program
    check_x, check_y = tr.x[:cfg.select_size], tr.y[:cfg.select_size]

    def pgd_check(p, s):  # early stopping against catastrophic overfitting (Wong et al. 2020)
        v = nets.classifier(net, p, s)[1]
        return float(pgd.pgd_survivors(check_f, v, check_x, check_y, rng.key(cfg.seed, "check"), cfg.eps,
                                       steps=cfg.select_steps)[-1].mean())
    adversary = pgd.linf_training(cfg.eps, cfg.train_steps, cfg.alpha,
                                  warmup=cfg.warmup_epochs * (len(tr.y) // cfg.batch_size))
    earlier = _earlier_run(cfg, ctx.name, net) if cfg.model_from else None
    if earlier is None:
        params, state, history = train.fit_net(
            net, d, cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
            augment=augment, adversary=adversary, ckpt_dir=ctx.checkpoints("robust"),
            progress=ctx.progress(cfg.epochs, f"{ctx.name}/adversarial training"),
            keep_best=pgd_check if cfg.select_size else None)
    else:
        params, state, history = earlier["params"], earlier["state"], earlier["history"]
    keras_h5.save(ctx.out.path("robust.h5"), net, params, state)
    checkpoint.save(ctx.out.path("robust.orbax"), cfg.epochs, (params, state))
    models = {"standard": standard, "robust": nets.classifier(net, params, state)}

    probs = {n: evaluate.batched(nets.probabilities(f, v), ds.test.x, 500)
             for n, (f, v) in models.items()}
    ex, ey = ds.test.x[:cfg.eval_size], ds.test.y[:cfg.eval_size]
    bar = ctx.progress(2 * (5 + bool(cfg.n_many)), f"{ctx.name}/evaluation")  # per model: 4 robustness phases, the generators
    metrics = {"data": {"train_size": int(len(tr.y)), "test_size": int(len(ds.test.y)), "eval_size": int(len(ey)),
                        "note": data_note},
               "training": {"method": _method(cfg.train_steps), "steps": cfg.train_steps, "eps": cfg.eps,
                            "alpha": cfg.alpha, "warmup_epochs": cfg.warmup_epochs, "epochs": cfg.epochs,
                            "history": {k: history[k].tolist() for k in ("train_loss", "train_acc", "test_acc", "test_loss")},
                            "selection": None if "select_score" not in history else {
                                "size": int(len(check_y)), "steps": cfg.select_steps,
                                "scores": history["select_score"].tolist(),
                                "epoch": int(history["selected_epoch"])}},
               "params": nets.count_params(params), "models": {},
               "standard_net": {"params": nets.count_params(standard[1][0]),
                                "same_as_robust": nets.without_softmax(standard_net) == net},
               "reference": None if reference is None else {"source": reference[0], "pgd": reference[1]}}
    if earlier is not None:
        metrics["training"] = {**earlier["training"], "trained_by": earlier["trained_by"]}
    for i, (name, (f, v)) in enumerate(models.items()):
        other = models["robust" if name == "standard" else "standard"]
        ev = robustness.evaluate(f, v, ex, ey, jax.random.fold_in(rng.key(cfg.seed, "pgd"), i), cfg.eps, steps=cfg.pgd_steps,
                                 restarts=cfg.restarts, eps_grid=cfg.eps_grid, curve_size=cfg.curve_size,
                                 transfer_from=other, progress=bar)
        metrics["models"][name] = {"test_acc": float(np.mean(probs[name].argmax(-1) == ds.test.y)), **ev,
                                   "checks": robustness.masking_checks(ev, broken_below=cfg.broken_below)}

    both = np.stack([probs["standard"], probs["robust"]])
    ids = base.attack_samples(cfg.samples, rng.key(cfg.seed, "samples"), both, ds.test.y, cfg.n_samples,
                              cfg.min_confidence)
    x, labels = ds.test.x[ids], ds.test.y[ids]
    many = pairs.pick_many(rng.key(cfg.seed, "many samples"), both, ds.test.y, cfg.n_many) if cfg.n_many else []
    metrics.update(samples=ids, labels=labels, many_samples=many)
    classes = list(ds.classes)
    for name, (f, v) in models.items():
        say = lambda what, name=name: (lambda s: bar.note(f"{name}: {what}, {s}"))
        att = pairs.attack_pairs(f, v, x, rng.key(cfg.seed, "attack"), generator.AttackConfig.of(cfg),
                                 note=say("generators"))
        bar.update(1, f"{name}: generators")
        metrics["models"][name]["generator"] = {**pairs.summarize(att, labels),
                                                "generators": pairs.pair_records(att, labels, ids)}
        if cfg.n_many:
            big = pairs.attack_pairs(f, v, ds.test.x[many], rng.key(cfg.seed, "many"), generator.AttackConfig.of(cfg),
                                     note=say(f"{10 * len(many)} generators"))
            other = big["targets"] != ds.test.y[many][:, None]
            broken = (big["success"] & other & (big["linf"] <= cfg.eps)).any(1)  # a change within the ε-ball fools it
            metrics["models"][name]["generator"]["many"] = {**pairs.evaluate_many(big, ds.test.y[many]),
                                                            "broken_within_eps": int(broken.sum())}
            ctx.out.arrays(f"generators_{name}.npz", **pairs.many_arrays(big, many, ds.test.y[many]))
            bar.update(1, f"{name}: {big['success'].size} generators")
        ctx.out.figure(f"grid_{name}.png", attack_figures.attack_grid(
            x, probs[name][ids], att["images"], att["probs"], att["targets"], att["success"], classes,
            f"{name} model: generator images for every target (title: its prediction)"))
        ctx.out.figure(f"perturbations_{name}.png", attack_figures.perturbations(
            x, att["images"], att["targets"], classes, f"{name} model: generator image − original"))
    bar.close()
    ctx.out.figure("accuracy_vs_eps.png", attack_figures.accuracy_vs_eps(
        {n: (m["curve"]["eps"], m["curve"]["acc"]) for n, m in metrics["models"].items()}, cfg.eps,
        f"PGD-{cfg.pgd_steps} accuracy on the first {metrics['models']['robust']['curve']['n']} test images"))
    ctx.out.figure("learning_curves.png", classifiers.net_curves(
        {"robust": history}, f"adversarial training (train metrics on {metrics['training']['method']} examples, ε = {cfg.eps:.3g})"))
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, ctx.name, metrics))


def _p(a) -> str:
    return artifacts.pct(a)


def results_md(cfg, name: str, m: dict) -> str:
    """The run's results, every number and verdict computed from ``m`` and ``cfg``."""
    st, ro = m["models"]["standard"], m["models"]["robust"]
    eps = f"{cfg.eps:.3g}" if cfg.eps >= 0.05 else f"{255 * cfg.eps:.0f}/255"
    rows = [[n, _p(s["test_acc"]), _p(s["clean"]), _p(s["noise"]), _p(s["fgsm"]), _p(s["transfer"]), _p(s["pgd"])]
            for n, s in m["models"].items()]
    text = (f"# {name}: standard vs adversarially trained model (seed {cfg.seed})\n\n"
            f"Data: {m['data']['train_size']:,} training images, {m['data']['test_size']:,} test images"
            f"{'; ' + m['data']['note'] if m['data']['note'] else ''}. Standard model: `{cfg.standard}`. "
            f"Robust model: {_network(m)}, {cfg.epochs} epochs of {_training(m['training'], eps)}."
            f"{_selection(m['training'].get('selection'), cfg)}"
            + (f" The robust model was trained by {m['training']['trained_by']}; this run re-evaluated it."
               if m["training"].get("trained_by") else "") + "\n\n"
            f"Accuracy on the first {m['data']['eval_size']:,} test images under L∞ attacks at ε = {eps} "
            f"(PGD: {cfg.pgd_steps} steps × {cfg.restarts} random restarts; an image counts as robust only if "
            f"every restart fails; transfer: PGD examples made on the other model):\n\n"
            + artifacts.md_table(["model", "test acc % (all)", "clean %", "random ±ε noise %", "FGSM %",
                                  "transfer %", f"PGD-{cfg.pgd_steps}×{cfg.restarts} %"], rows))
    gain = ro["pgd"] - st["pgd"]
    text += (f"\nAdversarial training {'raises' if gain > 0 else 'does not raise'} PGD accuracy at ε = {eps}: "
             f"{_p(st['pgd'])} % → {_p(ro['pgd'])} %, at a clean-accuracy cost of "
             f"{100 * (st['test_acc'] - ro['test_acc']):.1f} points on the whole test set.")
    if m["reference"]:
        ref_name, ref = m["reference"]["source"], m["reference"]["pgd"]
        n = m["data"]["eval_size"]
        half = 1.96 * np.sqrt(ro["pgd"] * (1 - ro["pgd"]) / n)  # normal approximation to the binomial
        text += (f" For reference, {ref_name} report {100 * ref:.3g} %; this model is "
                 f"{abs(100 * (ro['pgd'] - ref)):.1f} points {'above' if ro['pgd'] >= ref else 'below'} that, "
                 f"{'outside' if abs(ro['pgd'] - ref) > half else 'within'} the 95 % interval of a figure measured "
                 f"on {n:,} images (±{100 * half:.1f} points).")
    if ro["fgsm"] - ro["pgd"] > 0.2:
        text += f" The robust model resists FGSM ({_p(ro['fgsm'])} %) but not PGD ({_p(ro['pgd'])} %)"
        text += (": it learned to defeat the single step it was trained on, not the ε-ball. This is the catastrophic "
                 "overfitting of FGSM training that Wong et al. (2020) describe; the remedies are a smaller step α, "
                 "early stopping on a PGD check during training, or PGD training."
                 if m["training"].get("steps", 1) == 1 else
                 f", although it was trained on {m['training']['steps']}-step PGD examples.")
    text += "\n\n## Is the robustness real? Gradient-masking checks on the robust model\n\n"
    checks = ro["checks"]
    text += artifacts.md_table(["check", "passed", "figures"],
                               [[k, "yes" if c["passed"] else "**no**", c["detail"]] for k, c in checks.items()])
    failed = [k for k, c in checks.items() if not c["passed"]]
    text += ("\n" + ("Every check passes: the gradient attack beats the weaker attacks, more budget breaks the "
                     "model, and more restarts no longer help, so the PGD figure is not an artefact of masked gradients."
                     if not failed else
                     f"Failed: {', '.join(failed)}. The PGD figure may overstate the robustness; treat it as an upper "
                     "bound.") + f" (Slack for sampling noise: 1 point; 'broken' means ≤ {_p(cfg.broken_below)} %.)\n")
    text += "\n## The sheet's generator attack, standard vs robust\n\n"
    rows = []
    for n, s in m["models"].items():
        g = s["generator"]
        rows.append([n, f"{g['attacks']}", _p(g["success_rate"]), _fmt(g["median_rounds"], ".0f"),
                     _fmt(g["median_l2"]), _fmt(g["median_linf"]), _fmt(g["own_class"]["median_l2"])])
    text += artifacts.md_table(["model", "attacks (j ≠ class)", "success %", "median rounds", "median L2",
                                "median L∞", "own-class L2"], rows)
    gs, gr = st["generator"], ro["generator"]
    text += (f"\nSamples: test images {', '.join(map(str, m['samples']))} (classes "
             f"{', '.join(str(c) for c in m['labels'])}), classified correctly with p ≥ {cfg.min_confidence} by both "
             f"models. The generators succeed on {_p(gs['success_rate'])} % of the standard model's pairs and "
             f"{_p(gr['success_rate'])} % of the robust model's: the robust model is "
             f"{'harder' if gr['success_rate'] < gs['success_rate'] else 'not harder'} to fool this way")
    if gr["median_l2"] is not None and gs["median_l2"] is not None:
        text += (f", and its successful generators move the image "
                 f"{'further' if gr['median_l2'] > gs['median_l2'] else 'less far'} (median L2 "
                 f"{gr['median_l2']:.2f} vs {gs['median_l2']:.2f})")
    text += ".\n"
    if "many" in gs and "many" in gr:
        ms, mr = gs["many"], gr["many"]
        ci = artifacts.with_interval
        text += (f"\nOn {len(m['many_samples'])} more test images × every target ({10 * len(m['many_samples']):,} generators "
                 "at once per model; 95 % intervals: success Wilson's, medians from order statistics; the images are in "
                 "`generators_<model>.npz`):\n\n"
                 + artifacts.md_table(["model", "attacks", "success % [95 %]", "median L2 [95 %]", "median L∞ [95 %]",
                                       "median rounds"],
                                      [[n, f"{e['attacks']}", ci(e["success_rate"], e["success_ci"], ".1f", 100),
                                        ci(e["median_l2"], e["median_l2_ci"]), ci(e["median_linf"], e["median_linf_ci"], ".3f"),
                                        _fmt(e["median_rounds"], ".0f")] for n, e in (("standard", ms), ("robust", mr))]))
        if None not in (ms["median_l2"], mr["median_l2"]):
            apart = mr["median_l2_ci"] and ms["median_l2_ci"] and mr["median_l2_ci"][0] > ms["median_l2_ci"][1]
            text += (f"\nThe robust model needs {mr['median_l2'] / ms['median_l2']:.1f}× the standard model's median L2 "
                     f"change{' (the 95 % intervals do not overlap)' if apart else ' (the 95 % intervals overlap)'}.")
        n = len(m["many_samples"])
        k = mr["broken_within_eps"]
        lo, hi = pairs.rate_interval(k, n)
        pgd_broken = 1 - ro["pgd"]
        text += (f" A re-check of the PGD figure: the generators, which minimise L2 and are not bounded in L∞, fool the "
                 f"robust model within the ε-ball (some target reached with L∞ ≤ {eps}) on {k} of these {n} images "
                 f"({100 * k / n:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]); PGD-{cfg.pgd_steps}×{cfg.restarts} leaves "
                 f"{_p(pgd_broken)} % of the first {m['data']['eval_size']:,} test images (clean errors included) fooled "
                 "within it. " + ("The generators find more, beyond their 95 % interval: the PGD figure overstates the "
                                  "robustness." if lo > pgd_broken else
                                  "PGD's share lies at or above the lower end of the generators' 95 % interval: they do "
                                  "not contradict the PGD figure.") + "\n")
    return text


def _network(m: dict) -> str:
    std = m.get("standard_net")
    if std is None or std["same_as_robust"]:
        return f"the same network ({m['params']:,} parameters)"
    return f"a different network from the standard model's ({m['params']:,} parameters against {std['params']:,})"


def _training(t: dict, eps: str) -> str:
    warm = (f", the budget growing linearly from 0 to ε over the first {t['warmup_epochs']} epoch{'s' if t['warmup_epochs'] > 1 else ''}"
            if t.get("warmup_epochs") else "")
    if t.get("steps", 1) == 1:
        return (f"FGSM adversarial training from a random start (Wong et al. 2020: uniform start in the ε-ball, one "
                f"signed-gradient step of α = {t['alpha']:.3g}, projected), ε = {eps}{warm}")
    return (f"PGD adversarial training (Madry et al. 2018: from a uniform random start in the ε-ball, "
            f"{t['steps']} signed-gradient steps of α = {t['alpha']:.3g}, each projected), ε = {eps}{warm}")


def _fmt(v, spec=".2f") -> str:
    return "–" if v is None else format(v, spec)


def _selection(sel, cfg) -> str:
    if not sel:
        return " The model of the last epoch is evaluated."
    scores = ", ".join(f"{100 * a:.0f}" for a in sel["scores"][1:] if a == a)
    last = sel["epoch"] == cfg.epochs
    return (f" Early stopping: after every epoch, PGD-{sel['steps']} accuracy on {sel['size']} training images "
            f"(%: {scores}); the best epoch, {sel['epoch']}, is kept"
            + (" (the last one)." if last else f", not the last ({cfg.epochs}).")
            )
