"""Gradient flow in the 9 MLPs: exact per-layer max |∂L/∂W| after training and per epoch (exercise 1C).

Command:  jexp run ex1c        (about 3 s on a 2-core CPU when artifacts/ex1b holds a run with the
          same config and code: its runs are these, recorded with the same gradient statistics, so
          `jexp run all` trains them once; otherwise, or with --fresh, as long as ex1b)
Setting:  as ex1b. After every epoch (and before training, epoch 0) the exact gradient of the
          mean loss on one fixed minibatch of 256 training images is taken with jax.grad, and
          the maximum |∂L/∂W| and |∂L/∂b| of each layer recorded.
Result:   artifacts/ex1c/: grad_vs_layer.png (the exercise's "layer vs max gradient" grid),
          grad_heatmap.png (layer × epoch), results.md. Sigmoid's gradient shrinks roughly
          geometrically towards the input; tanh's stays within an order of magnitude.
"""
from dataclasses import dataclass

import numpy as np

from jexp.experiments import grid_study
from jexp.io import artifacts
from jexp.nn import grid
from jexp.plots import studies

FIGURES = ("grad_vs_layer.png", "grad_heatmap.png")  # shown in the README


@dataclass(frozen=True)
class Config(grid_study.GridConfig):
    pass


QUICK = dict(seeds=2, epochs=1, train_size=2048, test_size=512)


def run(cfg: Config, ctx) -> None:
    runs = grid_study.run_grid(cfg, ctx, grad_stats=True, reuse="ex1b")
    metrics = grid.metrics(runs, with_summary=False)
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, artifacts.as_saved(metrics)))
    ctx.out.figure("grad_vs_layer.png", studies.grad_vs_layer(
        runs, -1, title=f"max |∂L/∂W| per layer after {cfg.epochs} epochs (median, band: min–max over seeds)"))
    ctx.out.figure("grad_bias_vs_layer.png", studies.grad_vs_layer(
        runs, -1, "grad_bias", title=f"max |∂L/∂b| per layer after {cfg.epochs} epochs"))
    ctx.out.figure("grad_heatmap.png", studies.grad_heatmaps(runs))


def _grads(run: dict, epoch: int) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in run["history"]["grad_kernel"][epoch]], np.float32)


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    groups, rows = {}, []
    for r in metrics["runs"]:
        groups.setdefault((r["depth"], r["activation"]), []).append(r)
    for (d, a), group in groups.items():
        g = np.median([_grads(r, -1) for r in group], axis=0)
        g0 = np.median([_grads(r, 0) for r in group], axis=0)
        rows.append([d, a, f"{g0[0]:.2e}", f"{g[0]:.2e}", f"{g[-1]:.2e}",
                     f"{g[0] / g[-1]:.1e}" if g[-1] > 0 else "—"])
    return (f"# ex1c: per-layer max |∂L/∂W| on a fixed minibatch of {cfg.probe_size}\n\n"
            "Median over seeds. Layer 1 is the first hidden layer; the output layer is last.\n\n"
            + artifacts.md_table(["depth", "activation", "layer 1, untrained", f"layer 1, epoch {cfg.epochs}",
                                  f"output layer, epoch {cfg.epochs}", "layer 1 / output"], rows))
