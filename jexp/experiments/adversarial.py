"""Adversarial MNIST digits from generator networks optimised at once, against the CNN and the MLP: the sheet's 5 samples × 10 targets, 1,000 generators (100 test digits × 10 targets) with 95 % intervals, the sheet's literal reading beside them, and targeted PGD as reference (HW2 ex. 2).

Command:  jexp run adversarial     (about 10 min on a 2-core CPU; needs
          artifacts/digits/{cnn,mlp}.h5 from `jexp run digits`, or --model=ANY.h5, a Keras digit
          classifier with 28×28 inputs)
Setting:  generator f(w) = sigmoid(Dense(1 → 784)(1)), first 200 Adam steps on MSE(f, x_i); per
          round (a) 1 Adam step on MSE(f, x_i), (b) 20 Adam steps (lr 0.02) on MSE(f, x_i) +
          c · margin, Carlini & Wagner's L2 attack with C frozen (the margin is zero once
          p_j ≥ 0.9), c = 1e-4 × 1.1^(rounds without success); stop at p_j ≥ 0.9 or after 300
          rounds. The five samples are test digits of five classes that every model classifies
          correctly with p ≥ 0.99, the 100 digits any that every model classifies correctly, both
          drawn with the seed. Beside them: the sheet's literal reading (generator.SHEET: (b) on
          MSE(C(f), onehot(j)), 20 + 10 steps at lr 0.1) on the grid, and targeted L∞ PGD (100
          steps) at budgets 0.02…0.3 on the same 50 pairs.
Result:   artifacts/adversarial/: grid_<model>.png, perturbations_<model>.png, rounds_<model>.png,
          per_target.png, generators_<model>.npz (the 1,000 images with samples, labels, targets,
          success and probabilities; a test checks them in Keras), metrics.json, results.md. The
          committed run was made on a 2-core Intel Xeon (its time is in timing.json), against the
          digits models retrained in issue 27.
Measured: (the committed run, seed 0; every figure here is in its results.md, a test checks)
          on the 1,000 generators, 100.0 % of the 900 other-class pairs succeed for both models
          (Wilson interval 99.6-100), median L2 1.60 [1.56, 1.63] (cnn) and 1.77 [1.71, 1.83] (mlp),
          L∞ 0.41 / 0.26: both meet issue 25's targets (≥ 95 %, L2 ≤ 2). The hardest target is 1
          for both (median L2 2.08 / 2.54). On the grid: 100.0 % at L2 1.60 / 1.82, where targeted
          L∞ PGD needs L2 2.82 / 2.92 (at a smaller L∞, 0.15); the sheet's literal reading
          succeeds on 13.3 % / 37.8 %, 6 of 6 / 9 of 17 of its successes in round 1.
Defaults: chosen in scratch trials on the earlier committed models (issue 25) and the grid's samples (2-core Intel
          Xeon, not committed runs). Phase (b) on the target's cross-entropy or on the margin alone,
          with a warm start and a growing step, reached every pair but at median L2 3.5-3.9: Adam
          moves every pixel by about the same step, an L∞-like change. With the distance in (b)
          (cw) and 5 reconstruction steps per round, starting c at 0.01 gave L2 3.05 (mlp), at
          1e-4 1.97; one reconstruction step per round gave 1.75 (mlp) and 1.68 (cnn): phase (a)'s
          Adam pulls every pixel back by the same step, favouring sparse, larger changes.
"""
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from jexp.attacks import generator, pairs
from jexp.data import mnist
from jexp.experiments import base
from jexp.io import artifacts, keras_h5
from jexp.nn import evaluate, nets
from jexp.plots import attack_figures
from jexp.runtime import rng

FIGURES = ("grid_cnn.png", "perturbations_cnn.png")


@dataclass(frozen=True)
class Config(generator.AttackConfig):
    seed: int = 0                             # the seed every PRNG key of the run is derived from
    models: tuple[str, ...] = ("cnn", "mlp")  # Keras files <model_dir>/<name>.h5
    model_dir: str = "artifacts/digits"       # folder of the models' Keras files
    model: str = ""                           # a Keras .h5 digit classifier; replaces --models
    samples: tuple[int, ...] = ()             # MNIST test indices; empty: chosen with the seed
    n_samples: int = 5                        # test digits attacked (one per class)
    min_confidence: float = 0.99              # the samples' required confidence under every model
    pgd_eps: tuple[float, ...] = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)  # budgets of the targeted-PGD reference
    pgd_steps: int = 100                      # its PGD steps
    n_many: int = 100                         # test digits × every target in the evaluation of the draw (0: off)
    sheet_too: bool = True                    # also run the sheet's literal reading (generator.SHEET) on the grid


QUICK = dict(max_rounds=20, pgd_eps=(0.1, 0.3), pgd_steps=10, n_samples=3, min_confidence=0.5, n_many=4)
TARGET_RATE, TARGET_L2 = 0.95, 2.0  # issue 25's targets for the standard models: success ≥ 95 %, median L2 ≤ 2


def load_models(cfg) -> dict:
    """{name: (logits_fn, variables)} from the Keras files; a missing file says how to make it."""
    paths = {Path(cfg.model).stem: Path(cfg.model)} if cfg.model else {m: Path(cfg.model_dir) / f"{m}.h5" for m in cfg.models}
    how = ("check the path" if cfg.model else "run `jexp run digits` first") + \
        " (or pass --model=PATH to a Keras .h5 digit classifier)"
    return {name: tuple(keras_h5.load_classifier(path, (28, 28, 1), hint=how)[1:]) for name, path in paths.items()}


def run(cfg: Config, ctx) -> None:
    models = load_models(cfg)
    ds = mnist.load("mnist", ctx.data_dir)
    test_probs = np.stack([evaluate.batched(nets.probabilities(f, v), ds.test.x)
                           for f, v in models.values()])
    ids = base.attack_samples(cfg.samples, rng.key(cfg.seed, "samples"), test_probs, ds.test.y, cfg.n_samples,
                              cfg.min_confidence)
    x, labels = ds.test.x[ids], ds.test.y[ids]
    many = pairs.pick_many(rng.key(cfg.seed, "many samples"), test_probs, ds.test.y, cfg.n_many) if cfg.n_many else []
    metrics = {"samples": ids, "labels": labels, "many_samples": many, "models": {}}
    acfg = generator.AttackConfig.of(cfg)
    sheet = replace(generator.SHEET, threshold=cfg.threshold, max_rounds=cfg.max_rounds)
    bar = ctx.progress((3 + cfg.sheet_too + bool(cfg.n_many)) * len(models), ctx.name)
    for m, (name, (f, v)) in enumerate(models.items()):
        say = lambda what, name=name: (lambda s: bar.note(f"{name}: {what}, {s}"))
        att = pairs.attack_pairs(f, v, x, rng.key(cfg.seed, "attack"), acfg, note=say("generators"))
        bar.update(1, f"{name}: generators")
        pgd = pairs.pgd_min_eps(f, v, x, rng.key(cfg.seed, "pgd"), cfg.pgd_eps, cfg.threshold, steps=cfg.pgd_steps)
        bar.update(1, f"{name}: PGD")
        metrics["models"][name] = {"test_acc": float(np.mean(test_probs[m].argmax(-1) == ds.test.y)),
                                   **pairs.summarize(att, labels, pgd),
                                   "generators": pairs.pair_records(att, labels, ids, pgd)}
        if cfg.sheet_too:
            old = pairs.attack_pairs(f, v, x, rng.key(cfg.seed, "attack"), sheet, note=say("the sheet's reading"))
            metrics["models"][name]["sheet"] = {**pairs.summarize(old, labels), "round_1": _round_1(old, labels)}
            bar.update(1, f"{name}: the sheet's reading")
        if cfg.n_many:
            big = pairs.attack_pairs(f, v, ds.test.x[many], rng.key(cfg.seed, "many"), acfg,
                                     note=say(f"{10 * len(many)} generators"))
            metrics["models"][name]["many"] = pairs.evaluate_many(big, ds.test.y[many])
            ctx.out.arrays(f"generators_{name}.npz", **pairs.many_arrays(big, many, ds.test.y[many]))
            bar.update(1, f"{name}: {big['success'].size} generators")
        classes = [str(c) for c in range(10)]
        ctx.out.figure(f"grid_{name}.png", attack_figures.attack_grid(
            x, test_probs[m][ids], att["images"], att["probs"], att["targets"], att["success"], classes,
            f"{name}: generator images for every target (title: {name}'s prediction)"))
        ctx.out.figure(f"perturbations_{name}.png", attack_figures.perturbations(
            x, att["images"], att["targets"], classes, f"{name}: generator image − original"))
        ctx.out.figure(f"rounds_{name}.png", attack_figures.target_curves(
            att["trace"], labels, att["targets"], cfg.threshold, classes, f"{name}: p(target) after each round"))
    bar.close()
    if cfg.n_many:
        ctx.out.figure("per_target.png", attack_figures.per_target(
            {n: m["many"] for n, m in metrics["models"].items()},
            f"{len(many)} test digits × every other class: generators per target class", TARGET_RATE, TARGET_L2))
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, metrics))


def _round_1(att: dict, labels) -> int:
    """How many of the other-class successes came in round 1."""
    other = att["targets"] != np.asarray(labels)[:, None]
    return int((att["success"] & other & (att["rounds"] == 1)).sum())


def _f(v, fmt=".2f"):
    return "–" if v is None else format(v, fmt)


def meets(m: dict) -> bool:
    """Whether an evaluation (``pairs.evaluate_many``) meets the targets: success ≥ 95 %, median L2 ≤ 2."""
    return m["success_rate"] >= TARGET_RATE and m["median_l2"] is not None and m["median_l2"] <= TARGET_L2


def results_md(cfg, metrics: dict) -> str:
    models = metrics["models"]
    rows = [[name, artifacts.pct(m["test_acc"], digits=2), f"{m['attacks']}", artifacts.pct(m["success_rate"]),
             _f(m["median_rounds"], ".0f"), _f(m["median_l2"]), _f(m["median_linf"]), _f(m["own_class"]["median_l2"]),
             artifacts.pct(m["pgd"]["success_rate"]), _f(m["pgd"]["median_min_eps"]), _f(m["pgd"]["median_l2"])]
            for name, m in models.items()]
    text = (f"# adversarial: generator attack on MNIST (seed {cfg.seed})\n\n"
            f"## The sheet's grid: {len(metrics['samples'])} test digits × 10 targets\n\n"
            f"Samples: test digits {', '.join(map(str, metrics['samples']))}, classes "
            f"{', '.join(map(str, metrics['labels']))}.\n\n"
            + artifacts.md_table(["model", "test acc %", "attacks (j ≠ class)", "generator success %",
                                  "median rounds", "median L2", "median L∞", "own-class L2 (reconstruction)",
                                  f"PGD success % (ε ≤ {max(cfg.pgd_eps)})", "PGD median min ε", "PGD median L2"], rows)
            + f"\nMedians are over the successful attacks. A success is p(target) ≥ {cfg.threshold} within "
            f"{cfg.max_rounds} rounds of ({cfg.recon_steps} reconstruction step{'s' if cfg.recon_steps != 1 else ''} "
            f"at lr {cfg.recon_lr}, {cfg.attack_steps} attack steps at lr {cfg.attack_lr}"
            + (f"; {generator.choices(cfg)}" if generator.choices(cfg) else "") + "). The own-class pairs (target = the "
            "sample's class) measure how far the generator's image is from the sample when nothing is attacked.\n")
    sheet = {n: m["sheet"] for n, m in models.items() if "sheet" in m}
    if sheet:
        text += ("\nThe sheet's literal reading on the same grid (phase (b) on the MSE between C's softmax and the "
                 f"one-hot target, {generator.SHEET.recon_steps} + {generator.SHEET.attack_steps} steps at lr "
                 f"{generator.SHEET.attack_lr}, no warm start, a fixed step):\n\n"
                 + artifacts.md_table(["model", "success %", "median L2", "median L∞", "successes in round 1"],
                                      [[n, artifacts.pct(s["success_rate"]), _f(s["median_l2"]), _f(s["median_linf"]),
                                        f"{s['round_1']} of {round(s['success_rate'] * s['attacks'])}"]
                                       for n, s in sheet.items()]))
        for n, s in sheet.items():
            m, won = models[n], round(s["success_rate"] * s["attacks"])
            text += (f"\n{n}: the sheet's reading succeeds on {artifacts.pct(s['success_rate'])} % of the pairs, this "
                     f"attack on {artifacts.pct(m['success_rate'])} %"
                     + (f"; {s['round_1']} of the sheet's {won} successes came in round 1, from an image the "
                        "reconstruction had not yet brought to its sample: once it has, the MSE's vanishing gradient "
                        "(∂/∂logit ∝ p(1 − p) where p(target) ≈ 0) loses to phase (a)." if won and s["round_1"] * 2 > won
                        else "." if not won else f"; {s['round_1']} of its {won} successes came in round 1."))
        text += "\n"
    many = {n: m["many"] for n, m in models.items() if "many" in m}
    ci = artifacts.with_interval
    if many:
        n_digits = len(metrics["many_samples"])
        text += (f"\n## {n_digits} test digits × every target: {n_digits * 10:,} generators at once per model\n\n"
                 f"They run vmapped, {generator.CHUNK} rounds per compiled call over the generators still running. "
                 "The digits are drawn with the seed among those every model classifies correctly; "
                 "intervals are 95 % (success: Wilson's; medians: from order statistics). Images, samples, targets "
                 "and successes are in `generators_<model>.npz`.\n\n"
                 + artifacts.md_table(["model", "attacks (j ≠ class)", "success % [95 %]", "median L2 [95 %]",
                                       "median L∞ [95 %]", "median rounds",
                                       f"success ≥ {artifacts.pct(TARGET_RATE, digits=0)} % and L2 ≤ {TARGET_L2:g}"],
                                      [[n, f"{e['attacks']}", ci(e["success_rate"], e["success_ci"], ".1f", 100),
                                        ci(e["median_l2"], e["median_l2_ci"]), ci(e["median_linf"], e["median_linf_ci"]),
                                        _f(e["median_rounds"], ".0f"), "yes" if meets(e) else "**no**"]
                                       for n, e in many.items()]))
        classes = sorted(next(iter(many.values()))["per_target"], key=int)
        text += "\nPer target class:\n\n" + artifacts.md_table(
            ["target"] + [h for n in many for h in (f"{n} success %", f"{n} median L2")],
            [[j] + [c for e in many.values() for c in (ci(e["per_target"][j]["success_rate"], e["per_target"][j]["success_ci"],
                                                          ".0f", 100),
                                                      ci(e["per_target"][j]["median_l2"], e["per_target"][j]["median_l2_ci"]))]
             for j in classes])
        for n, e in many.items():
            per = e["per_target"]
            hardest = min(per, key=lambda j: (per[j]["success_rate"], -(per[j]["median_l2"] or np.inf)))
            text += (f"\n{n}: {'meets' if meets(e) else 'misses'} the targets (success "
                     f"{artifacts.pct(e['success_rate'])} %, median L2 {_f(e['median_l2'])}); its hardest target is "
                     f"{hardest} ({artifacts.pct(per[hardest]['success_rate'])} % succeed, median L2 "
                     f"{_f(per[hardest]['median_l2'])}).")
        text += "\n"
    key = (lambda n: (many[n]["success_rate"], -(many[n]["median_l2"] or np.inf))) if many else \
        (lambda n: (models[n]["success_rate"], -(models[n]["median_l2"] or np.inf)))
    if len(models) >= 2:
        harder, other = sorted(list(models)[:2], key=key)
        src, where = (many, "of the many-digit evaluation") if many else (models, "of the grid")
        text += (f"\n{harder} vs {other}: the generators succeed on {artifacts.pct(src[harder]['success_rate'])} % "
                 f"of {harder}'s pairs vs {artifacts.pct(src[other]['success_rate'])} % of {other}'s {where}, with median "
                 f"L2 {_f(src[harder]['median_l2'])} vs {_f(src[other]['median_l2'])}: {harder} is the harder "
                 "model to fool by this measure (success rate first, then distance).\n")
    for name, m in models.items():
        pgd_linf, gen_linf, pgd_l2, gen_l2 = (m["pgd"]["median_min_eps"], m["median_linf"], m["pgd"]["median_l2"],
                                              m["median_l2"])
        if None not in (pgd_linf, gen_linf, pgd_l2, gen_l2):
            text += (f"\n{name}, generators vs targeted L∞ PGD on the grid: median L∞ {gen_linf:.2f} vs {pgd_linf:.2f} "
                     f"(the smallest PGD budget that reaches the target), median L2 {gen_l2:.2f} vs {pgd_l2:.2f}; the "
                     f"generators' changes are {'larger' if gen_linf > pgd_linf else 'smaller'} in L∞ and "
                     f"{'larger' if gen_l2 > pgd_l2 else 'smaller'} in L2.")
    return text + "\n"
