"""Many MLPs at once: every (depth, activation, seed) of a study, one program per depth.

Within a depth, the activations and seeds are vmapped runs of one ``MLP`` whose ``variant``
picks the activation; the depth programs run concurrently (``train.run_concurrently``).
Run seed ``s`` uses the same initial weights for every activation (paired comparisons).
``records`` / ``from_records`` write a study's runs to metrics.json and read them back.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from jexp.nn import mlp, train


@dataclass(frozen=True)
class GridRun:
    depth: int
    activation: str
    seed: int
    history: dict  # name -> np.ndarray [epochs + 1, ...]

    @property
    def final(self) -> dict:
        return {k: v[-1] for k, v in self.history.items()}


def mlp_grid(data: train.Data, *, depths, activations, seeds, epochs: int, width: int = 32,
             batch_size: int = 32, optimizer: str = "sgd", learning_rate: float = 0.01,
             num_classes: int = 10, grad_stats: bool = True, ckpt_root=None, progress=None,
             workers=None) -> list[GridRun]:
    """Train every (depth, activation, seed) MLP for ``epochs`` epochs; a GridRun per model."""
    activations, seeds = tuple(activations), tuple(seeds)
    input_shape = tuple(data.train_x.shape[1:])

    def one_depth(depth):
        model = mlp.MLP(depth=depth, width=width, activation=activations, num_classes=num_classes)
        trainer = train.Trainer(model.apply, train.optimizer(optimizer, learning_rate=learning_rate),
                                batch_size=batch_size, grad_stats=grad_stats)
        variants = np.repeat(np.arange(len(activations)), len(seeds))
        run_seeds = np.tile(np.asarray(seeds), len(activations))
        state = train.init_runs(trainer, lambda k: mlp.init_params(model, k, input_shape), run_seeds, variants)
        ckpt = None if ckpt_root is None else os.path.join(ckpt_root, f"depth{depth}")
        _, hist = train.fit(trainer, state, data, epochs, ckpt_dir=ckpt, progress=progress)
        return [GridRun(depth, activations[v], int(s), {k: h[i] for k, h in hist.items()})
                for i, (v, s) in enumerate(zip(variants, run_seeds))]

    # the deepest programs first: they take longest, so the others fill in beside them
    order = sorted(depths, reverse=True)
    results = dict(zip(order, train.run_concurrently([lambda d=d: one_depth(d) for d in order], workers)))
    return [r for d in depths for r in results[d]]


def summarise(runs: list[GridRun], metric: str = "test_acc") -> dict[tuple[int, str], dict]:
    """Final ``metric`` per (depth, activation): mean, std (ddof=1), per-seed values, diverged count."""
    out: dict[tuple[int, str], dict] = {}
    for r in runs:
        cell = out.setdefault((r.depth, r.activation), {"values": [], "diverged": 0})
        cell["values"].append(float(r.final[metric]))
        cell["diverged"] += int(bool(r.final["diverged"]))
    for cell in out.values():
        v = np.asarray(cell["values"], np.float64)
        ok = v[np.isfinite(v)]
        cell["mean"] = float(ok.mean()) if ok.size else float("nan")
        cell["std"] = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
    return out


def records(runs: list[GridRun]) -> list[dict]:
    """One JSON-ready dict per run: its identity, per-epoch history and final test accuracy."""
    return [{"depth": r.depth, "activation": r.activation, "seed": r.seed,
             "diverged": bool(r.final["diverged"]), "test_acc": float(r.final["test_acc"]),
             "history": r.history} for r in runs]


def from_records(recs: list[dict]) -> list[GridRun]:
    """The GridRuns of ``records`` as read back from metrics.json (None back to NaN)."""
    def array(k, v):
        return np.asarray(v, bool) if k == "diverged" else np.asarray(
            [np.nan if x is None else x for x in np.ravel(np.asarray(v, object))], np.float32).reshape(np.shape(v))
    return [GridRun(r["depth"], r["activation"], r["seed"], {k: array(k, v) for k, v in r["history"].items()})
            for r in recs]


def group(runs: list[GridRun]) -> dict[tuple[int, str], list[GridRun]]:
    """Runs by (depth, activation), in the order they first appear."""
    out: dict[tuple[int, str], list[GridRun]] = {}
    for r in runs:
        out.setdefault((r.depth, r.activation), []).append(r)
    return out


def metrics(runs: list[GridRun], with_summary: bool = True) -> dict:
    """The metrics.json of a grid study: per-cell summary (optional) and every run's history."""
    out = {"runs": records(runs)}
    if with_summary:
        out = {"summary": [{"depth": d, "activation": a, **s} for (d, a), s in summarise(runs).items()], **out}
    return out
