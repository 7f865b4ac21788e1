"""Learning-rate sweep: 12 rates over 5.5 orders of magnitude, all trained at once in one jit (vmap).

Command:  jexp run lrsweep      (about 1 min on a 2-core CPU)
Setting:  MLP 784-128-128-10 ReLU on full MNIST, plain SGD, batch 64, 5 epochs, 2 seeds per rate.
          Every (rate, seed) run is one slice of a single vmapped program. A run whose loss or
          weights become NaN/inf is marked "diverged", one that ends below 20 % test accuracy (twice
          chance) "collapsed", typically all ReLUs dead; the sweep goes on either way.
Result:   artifacts/lrsweep/: learning_curves.png, final_accuracy.png, results.md.
"""
from dataclasses import dataclass

import numpy as np

from jexp.experiments import base
from jexp.io import artifacts
from jexp.nn import mlp, train
from jexp.plots import studies

FIGURES = ("learning_curves.png", "final_accuracy.png")


@dataclass(frozen=True)
class Config:
    seed: int = 0  # the seed every PRNG key of the run is derived from
    seeds: int = 2  # runs (seeds) per configuration
    learning_rates: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # SGD rates; `seeds` runs each
    depth: int = 2  # hidden layers
    width: int = 128  # units per hidden layer
    batch_size: int = 64  # minibatch size
    epochs: int = 5  # training epochs
    train_size: int = 0  # 0: every training image; n: the first n
    test_size: int = 0  # 0: every test image; n: the first n


QUICK = dict(epochs=2, train_size=2048, test_size=512, learning_rates=(1e-3, 0.1, 30.0), seeds=1)


def run(cfg: Config, ctx) -> None:
    _, data = base.image_data("mnist", ctx, cfg.seed, cfg.train_size, cfg.test_size)
    model = mlp.MLP(depth=cfg.depth, width=cfg.width, activation="relu")
    trainer = train.Trainer(model.apply, train.optimizer("sgd", learning_rate=0.0), batch_size=cfg.batch_size,
                            grad_stats=False)
    lrs = np.repeat(np.asarray(cfg.learning_rates, np.float32), cfg.seeds)
    seeds = np.tile(np.arange(cfg.seeds) + cfg.seed * 1000, len(cfg.learning_rates))
    state = train.init_runs(trainer, lambda k: mlp.init_params(model, k, (28, 28, 1)), seeds,
                            hparams={"learning_rate": lrs})
    _, hist = train.fit(trainer, state, data, cfg.epochs, ckpt_dir=ctx.checkpoints("sweep"),
                        progress=ctx.progress(cfg.epochs, "lrsweep"))
    runs = [{"learning_rate": float(lr), "seed": int(s), "status": status(hist, i),
             **{k: hist[k][i] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}}
            for i, (lr, s) in enumerate(zip(lrs, seeds))]
    metrics = artifacts.as_saved({"runs": runs})  # as metrics.json holds them (NaN: null)
    ctx.out.json("metrics.json", metrics)
    ctx.out.figure("learning_curves.png", studies.sweep_curves(runs))
    ctx.out.figure("final_accuracy.png", studies.sweep_final(runs))
    ctx.out.text("results.md", results_md(cfg, metrics))


def status(hist, i: int) -> str:
    if hist["diverged"][i, -1]:
        return "diverged"
    return "collapsed" if hist["test_acc"][i, -1] < 0.2 else "ok"


def _final(r) -> float:
    return np.nan if r["test_acc"][-1] is None else float(r["test_acc"][-1])


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    runs, rows = metrics["runs"], []
    for lr in cfg.learning_rates:
        group = [r for r in runs if np.isclose(r["learning_rate"], lr)]
        acc = np.array([_final(r) for r in group])
        ok = acc[np.isfinite(acc)]
        failed = [r["status"] for r in group if r["status"] != "ok"]
        rows.append([f"{lr:g}", artifacts.pct(ok.mean(), ok.std(ddof=1) if ok.size > 1 else None) if ok.size else "NaN",
                     f"{len(failed)}/{len(group)} " + " ".join(sorted(set(failed)))])
    ok = [r for r in runs if r["status"] == "ok"]
    best = max(ok, key=_final) if ok else None
    tail = (f"\nBest: learning rate {best['learning_rate']:g} ({100 * best['test_acc'][-1]:.2f} % test accuracy after "
            f"{cfg.epochs} epochs).\n" if best else "\nEvery run failed.\n")
    return (f"# lrsweep: SGD learning rate, MLP {cfg.depth}×{cfg.width} ReLU, {cfg.epochs} epochs, {cfg.seeds} seeds\n\n"
            + artifacts.md_table(["learning rate", "test acc % (mean ± std)", "failed runs"], rows)
            + "\n± is the sample standard deviation over the seeds that did not diverge (ddof = 1).\n" + tail)
