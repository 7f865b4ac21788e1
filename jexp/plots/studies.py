"""Figures of studies of many runs: the MLP studies' learning curves and gradient flow, sweeps
(learning rate, optimiser × regulariser) and the toy regression. Single-classifier figures are in
``classifiers``.

The MLP-study functions take ``GridRun``-like records (``.depth``, ``.activation``, ``.history``) and
returns a matplotlib Figure. Seeds are summarised as a line (mean, or median for gradients) with a
shaded band (± std, or min–max), one colour per activation throughout.
"""
from __future__ import annotations

from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

COLORS = {"relu": "#1f77b4", "tanh": "#d62728", "sigmoid": "#2ca02c", "lecun": "#9467bd",
          "elu": "#ff7f0e", "linear": "#7f7f7f"}


def _groups(runs) -> dict[tuple[int, str], list]:
    out = defaultdict(list)
    for r in runs:
        out[(r.depth, r.activation)].append(r)
    return out


def _axes_row(n: int, title: str, height: float = 3.4, sharey: bool = True):
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, height), sharey=sharey, squeeze=False)
    fig.suptitle(title, fontsize=12)
    return fig, axes[0]


def learning_curves(runs, metric: str = "test_acc", title: str | None = None, ylabel: str | None = None,
                    logy: bool = False, linestyle: str = "-"):
    """One subplot per depth: ``metric`` per epoch, mean ± std over seeds, one line per activation."""
    groups = _groups(runs)
    depths = sorted({d for d, _ in groups})
    acts = list(dict.fromkeys(a for _, a in groups))
    fig, axes = _axes_row(len(depths), title or f"{metric} per epoch (mean ± std over seeds)")
    for ax, depth in zip(axes, depths):
        for act in acts:
            vals = np.array([r.history[metric] for r in groups.get((depth, act), [])], np.float64)
            if not len(vals):
                continue
            epochs = np.arange(vals.shape[1])
            keep = np.isfinite(vals).any(0)
            mean, std = np.nanmean(vals[:, keep], 0), np.nanstd(vals[:, keep], 0)
            c = COLORS.get(act)
            ax.plot(epochs[keep], mean, linestyle, color=c, marker="o", ms=3, label=f"{act} (n={len(vals)})")
            ax.fill_between(epochs[keep], mean - std, mean + std, color=c, alpha=0.18, lw=0)
        ax.set_title(f"{depth} hidden layers")
        ax.set_xlabel("epoch (0 = untrained)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if logy:
            ax.set_yscale("log")
    axes[0].set_ylabel(ylabel or metric)
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def grad_vs_layer(runs, epoch: int = -1, which: str = "grad_kernel", title: str | None = None):
    """One subplot per depth: max |∂L/∂W| of each layer (1 = first hidden, last = output) at
    ``epoch`` (0 = untrained), median over seeds with a min–max band, log scale."""
    groups = _groups(runs)
    depths = sorted({d for d, _ in groups})
    acts = list(dict.fromkeys(a for _, a in groups))
    sym = "W" if which == "grad_kernel" else "b"
    fig, axes = _axes_row(len(depths), title or f"max |∂L/∂{sym}| per layer", sharey=False)
    for ax, depth in zip(axes, depths):
        for act in acts:
            g = np.array([r.history[which][epoch] for r in groups.get((depth, act), [])], np.float64)
            if not len(g):
                continue
            g = np.where(g > 0, g, np.nan)  # log scale: an exactly-zero gradient is drawn as a gap
            layers = np.arange(1, g.shape[1] + 1)
            c = COLORS.get(act)
            ax.plot(layers, np.nanmedian(g, 0), "-o", ms=2.5, color=c, label=act)
            ax.fill_between(layers, np.nanmin(g, 0), np.nanmax(g, 0), color=c, alpha=0.18, lw=0)
        ax.set_yscale("log")
        ax.set_title(f"{depth} hidden layers")
        ax.set_xlabel("layer (input → output)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(f"max |∂L/∂{sym}|")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def grad_heatmaps(runs, which: str = "grad_kernel", title: str | None = None):
    """Rows: activations; columns: depths. Each cell: layer × epoch image of the median max
    |∂L/∂W| over seeds (log colour scale shared by all cells): the gradient flow over training."""
    groups = _groups(runs)
    depths = sorted({d for d, _ in groups})
    acts = list(dict.fromkeys(a for _, a in groups))
    med = {k: np.nanmedian(np.array([r.history[which] for r in v], np.float64), 0) for k, v in groups.items()}
    pos = np.concatenate([m[m > 0] for m in med.values()] or [np.ones(1)])
    norm = LogNorm(vmin=max(pos.min(), pos.max() * 1e-12), vmax=pos.max())
    fig, axes = plt.subplots(len(acts), len(depths), figsize=(3.6 * len(depths), 2.6 * len(acts)),
                             squeeze=False, constrained_layout=True)
    fig.suptitle(title or "gradient flow: max |∂L/∂W| per layer (rows) and epoch (columns)")
    im = None
    for i, act in enumerate(acts):
        for j, depth in enumerate(depths):
            ax = axes[i, j]
            if (depth, act) not in med:
                ax.axis("off")
                continue
            m = med[(depth, act)].T  # layers × epochs
            im = ax.imshow(np.where(m > 0, m, np.nan), aspect="auto", origin="lower", norm=norm,
                           cmap="viridis", interpolation="nearest",
                           extent=(-0.5, m.shape[1] - 0.5, 0.5, m.shape[0] + 0.5))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"{act}, {depth} hidden", fontsize=9)
            ax.set_xlabel("epoch (0 = untrained)", fontsize=8)
            ax.set_ylabel("layer", fontsize=8)
            ax.tick_params(labelsize=7)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label="max |∂L/∂W| (log)")
    return fig


def accuracy_grid(summary: dict[tuple[int, str], dict], title: str = "test accuracy (mean ± std over seeds)"):
    """Depth × activation heatmap of mean test accuracy, annotated with mean ± std in %."""
    depths = sorted({d for d, _ in summary})
    acts = list(dict.fromkeys(a for _, a in summary))
    mean = np.array([[summary[(d, a)]["mean"] for a in acts] for d in depths])
    fig, ax = plt.subplots(figsize=(1.6 * len(acts) + 2, 0.9 * len(depths) + 1.4))
    ax.imshow(mean * 100, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    for i, d in enumerate(depths):
        for j, a in enumerate(acts):
            s = summary[(d, a)]
            ax.text(j, i, f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f}", ha="center", va="center", fontsize=10)
    ax.set_xticks(range(len(acts)), acts)
    ax.set_yticks(range(len(depths)), [f"{d} layers" for d in depths])
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def toy_curves(runs: dict, targets, models, title: str = "toy regression: MSE per epoch (mean, band: min–max over seeds)"):
    """One subplot per target; per model the train (dashed) and test (solid) MSE per epoch."""
    fig, axes = _axes_row(len(targets), title, sharey=False)
    for ax, t in zip(axes, targets):
        for i, m in enumerate(models):
            for split, style in (("train", "--"), ("test", "-")):
                v = runs[(t, m)][split]
                x = np.arange(v.shape[1])
                ax.plot(x, np.nanmean(v, 0), style, color=f"C{i}", label=f"{m} {split}")
                if split == "test" and v.shape[0] > 1:
                    ax.fill_between(x, np.nanmin(v, 0), np.nanmax(v, 0), color=f"C{i}", alpha=0.2)
        ax.set(title=t, xlabel="epoch", ylabel="MSE", yscale="log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _lr_colors(runs):
    lrs = sorted({r["learning_rate"] for r in runs})
    cmap = plt.get_cmap("viridis")
    return {lr: cmap(i / max(len(lrs) - 1, 1)) for i, lr in enumerate(lrs)}


def sweep_curves(runs, title: str = "learning-rate sweep: every run trained at once (vmap)"):
    """Training loss and test accuracy per epoch, one line per run coloured by learning rate. A
    failed run (``status`` "diverged": NaN/inf, or "collapsed") is dashed, its last finite value ✕."""
    colors = _lr_colors(runs)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
    fig.suptitle(title, fontsize=12)
    labelled = set()
    for r in runs:
        c = colors[r["learning_rate"]]
        failed = r.get("status", "ok") != "ok"
        label = f"lr {r['learning_rate']:g}" + (f" ({r['status']})" if failed else "")
        label = None if label in labelled else label
        labelled.add(label)
        for ax, key, start in ((ax_loss, "train_loss", 1), (ax_acc, "test_acc", 0)):
            v = np.asarray(r[key], float)
            epochs = np.arange(len(v))
            finite = np.isfinite(v) & (epochs >= start)
            style = "--" if failed else "-"
            ax.plot(epochs[finite], v[finite] * (100 if key == "test_acc" else 1), style, color=c,
                    label=label if ax is ax_acc else None)
            if failed and finite.any():
                last = np.nonzero(finite)[0][-1]
                ax.plot(epochs[last], v[last] * (100 if key == "test_acc" else 1), "x", color="red", ms=9, mew=2)
    ax_loss.set(xlabel="epoch", ylabel="training cross-entropy (epoch mean)", yscale="log", title="training loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy %", title="test accuracy (✕: last finite value of a failed run)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3, which="both")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.legend(fontsize=7, loc="center right", ncol=2)
    fig.tight_layout()
    return fig


def sweep_final(runs, title: str = "final test accuracy vs learning rate"):
    """Final test accuracy per run against the learning rate (log axis); failed runs as red ✕ at 0."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ok = [r for r in runs if r.get("status", "ok") == "ok"]
    bad = [r for r in runs if r.get("status", "ok") != "ok"]
    ax.plot([r["learning_rate"] for r in ok], [100 * r["test_acc"][-1] for r in ok], "o", color="C0", label="run")
    lrs = sorted({r["learning_rate"] for r in ok})
    ax.plot(lrs, [100 * np.mean([r["test_acc"][-1] for r in ok if r["learning_rate"] == lr]) for lr in lrs], "-",
            color="C0", alpha=0.6)
    if bad:
        ax.plot([r["learning_rate"] for r in bad], [0] * len(bad), "x", color="red", ms=10, mew=2,
                label="failed: " + " / ".join(sorted({r["status"] for r in bad})))
    ax.set(xscale="log", xlabel="learning rate", ylabel="test accuracy %", title=title, ylim=(-3, 103))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def seq_curves(curves: dict, optimisers, regularisers, title: str = "probability of correct classification per epoch"):
    """One panel per optimiser; per regulariser training (dashed) and validation (solid), mean over seeds."""
    fig, axes = _axes_row(len(optimisers), title, height=3.6)
    for ax, opt in zip(axes, optimisers):
        for i, reg in enumerate(regularisers):
            c = curves[(opt, reg)]
            for key, style, split in (("train_acc", "--", "train"), ("val_acc", "-", "val")):
                v = 100 * np.asarray(c[key])[:, 1:] if key == "train_acc" else 100 * np.asarray(c[key])
                x = np.arange(1, v.shape[1] + 1) if key == "train_acc" else np.arange(v.shape[1])
                ax.plot(x, v.mean(0), style, color=f"C{i}", label=f"{reg} {split}")
        ax.axhline(50, color="grey", lw=0.8, ls=":")
        ax.set(title=opt, xlabel="epoch", ylabel="correct %")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig
