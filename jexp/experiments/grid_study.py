"""The MLP depth × activation studies (ex1b, ex1c, ex1d): their shared config and ``run_grid``,
which loads MNIST as the config says and trains the grid (``jexp.nn.grid``) with a progress bar and
checkpoints, or takes the runs another experiment already made.

A study whose runs another experiment already made (ex1c's are ex1b's) takes them from that
experiment's artifacts when the config and the code are the same (``run_grid(reuse=…)``).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from jexp.experiments import base
from jexp.io import artifacts
from jexp.nn import activations, grid


@dataclass(frozen=True)
class GridConfig:
    """The settings of an MLP depth × activation study (experiments subclass it with defaults)."""
    seed: int = 0                 # first seed; runs use seed, seed+1, …
    seeds: int = 5                # runs per (depth, activation)
    depths: tuple[int, ...] = (5, 20, 40)  # hidden layers of each MLP
    activations: tuple[str, ...] = ("relu", "tanh", "sigmoid")  # hidden-layer activations (relu, tanh, sigmoid, lecun, elu, linear)
    width: int = 32               # units per hidden layer
    epochs: int = 3               # training epochs
    batch_size: int = 32          # minibatch size
    learning_rate: float = 0.01   # SGD's learning rate
    train_size: int = 0           # 0: all 60,000 training images
    test_size: int = 0            # 0: all 10,000 test images
    probe_size: int = 256         # the fixed minibatch for gradient statistics


def run_grid(cfg: GridConfig, ctx, grad_stats: bool, reuse: str | None = None) -> list[grid.GridRun]:
    """Load MNIST as ``cfg`` says and train its grid, with a progress bar and checkpoints; or, when
    experiment ``reuse`` has a run beside this one with the same config and code
    (``Context.earlier``), its recorded runs, which training would reproduce bitwise."""
    for a in cfg.activations:  # fail fast on a typo, before loading data
        if a not in activations.ACTIVATIONS:
            raise base.UsageError(f"unknown activation {a!r}; known: {', '.join(activations.ACTIVATIONS)}")
    if min(cfg.depths) < 1 or cfg.seeds < 1 or cfg.epochs < 0:
        raise base.UsageError("depths and seeds must be ≥ 1 and epochs ≥ 0")
    if reuse and (runs := _earlier_runs(cfg, ctx, reuse, grad_stats)) is not None:
        return runs
    _, data = base.image_data("mnist", ctx, cfg.seed, cfg.train_size, cfg.test_size, cfg.probe_size)
    with ctx.progress(len(cfg.depths) * cfg.epochs, f"{ctx.name}: training") as bar:
        return grid.mlp_grid(data, depths=cfg.depths, activations=cfg.activations,
                             seeds=range(cfg.seed, cfg.seed + cfg.seeds), epochs=cfg.epochs, width=cfg.width,
                             batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, grad_stats=grad_stats,
                             ckpt_root=ctx.checkpoints("grid"), progress=bar)


def _earlier_runs(cfg, ctx, name: str, grad_stats: bool) -> list[grid.GridRun] | None:
    folder = ctx.earlier(name)
    if folder is None or json.loads((folder / "config.json").read_text())["config"] != artifacts.as_saved(cfg):
        return None
    runs = grid.from_records(json.loads((folder / "metrics.json").read_text())["runs"])
    if not runs or "diverged" not in runs[0].history or (grad_stats and "grad_kernel" not in runs[0].history):
        return None
    print(f"{ctx.name}: using the {len(runs)} runs of {folder}/ (same config and code; --fresh trains them again)",
          file=sys.stderr, flush=True)
    return runs
