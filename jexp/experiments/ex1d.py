"""LeCun's activation 1.7159·tanh(2x/3) + 0.01x vs tanh: learning curves and untrained gradients (exercise 1D).

Command:  jexp run ex1d        (5 seeds × 2 activations × 3 depths × 10 epochs; about 2.5 min on a 2-core CPU)
Setting:  as ex1b (SGD lr 0.01, batch 32, width 32), 10 epochs so the curves have a shape.
Result:   artifacts/ex1d/: learning_curves.png, train_loss.png, untrained_gradients.png, results.md.
"""
from dataclasses import dataclass

import numpy as np

from jexp.experiments import grid_study
from jexp.io import artifacts
from jexp.nn import grid
from jexp.plots import studies

FIGURES = ("learning_curves.png", "untrained_gradients.png")  # shown in the README


@dataclass(frozen=True)
class Config(grid_study.GridConfig):
    activations: tuple[str, ...] = ("lecun", "tanh")
    epochs: int = 10


QUICK = dict(seeds=2, epochs=2, train_size=2048, test_size=512)


def run(cfg: Config, ctx) -> None:
    runs = grid_study.run_grid(cfg, ctx, grad_stats=True)
    metrics = grid.metrics(runs)
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, artifacts.as_saved(metrics)))
    ctx.out.figure("learning_curves.png", studies.learning_curves(
        runs, "test_acc", "test accuracy per epoch (mean ± std over seeds)", "test accuracy"))
    ctx.out.figure("train_loss.png", studies.learning_curves(
        runs, "train_loss", "training loss per epoch (mean ± std over seeds)", "cross-entropy", logy=True))
    ctx.out.figure("untrained_gradients.png", studies.grad_vs_layer(
        runs, 0, title="untrained models: max |∂L/∂W| per layer (median, band: min–max over seeds)"))


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    groups, rows = {}, []
    for r in metrics["runs"]:
        groups.setdefault((r["depth"], r["activation"]), []).append(r)
    summary = {(s["depth"], s["activation"]): s for s in metrics["summary"]}
    for (d, a), group in groups.items():
        acc1 = np.mean(np.array([r["history"]["test_acc"][min(1, cfg.epochs)] for r in group], np.float32))
        g0 = np.median([np.array(r["history"]["grad_kernel"][0], np.float32) for r in group], axis=0)
        s = summary[(d, a)]
        rows.append([d, a, artifacts.pct(acc1), artifacts.pct(s["mean"], s["std"]),
                     f"{g0[0]:.2e}", f"{g0[-1]:.2e}", f"{g0[0] / g0[-1]:.2f}"])
    return (f"# ex1d: LeCun vs tanh, {cfg.seeds} seeds, {cfg.epochs} epochs\n\n"
            + artifacts.md_table(["depth", "activation", "test acc % after epoch 1",
                                  f"test acc % after epoch {cfg.epochs}", "untrained max|∂L/∂W| layer 1",
                                  "untrained, output layer", "ratio"], rows)
            + "\n± is the sample standard deviation over seeds (ddof = 1); gradients are medians over seeds.\n")
