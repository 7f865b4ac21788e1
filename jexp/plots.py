"""Figures: the MLP studies' learning curves and gradient flow, and classifier figures (curves of
single networks, accuracy per evaluation set, confusion matrices, image grids).

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


# --- single classifiers -----------------------------------------------------------------------

def net_curves(histories: dict[str, dict], title: str = "learning curves", error: bool = True):
    """Loss and (with ``error``) error rate per epoch, train dashed and test solid, per network."""
    fig, axes = plt.subplots(1, 2 if error else 1, figsize=(11 if error else 6, 3.8), squeeze=False)
    ax_loss, ax_acc = axes[0][0], (axes[0][1] if error else None)
    fig.suptitle(title, fontsize=12)
    for i, (name, h) in enumerate(histories.items()):
        c = f"C{i}"
        epochs = np.arange(len(h["test_acc"]))
        ax_loss.plot(epochs[1:], h["train_loss"][1:], "--", color=c, label=f"{name} train")
        ax_loss.plot(epochs, h["test_loss"], "-", color=c, label=f"{name} test (final {h['test_loss'][-1]:.4g})")
        if not error:
            continue
        ax_acc.plot(epochs[1:], 100 * (1 - np.asarray(h["train_acc"][1:])), "--", color=c, label=f"{name} train")
        ax_acc.plot(epochs[1:], 100 * (1 - np.asarray(h["test_acc"][1:])), "-", color=c,
                    label=f"{name} test (final {100 * (1 - h['test_acc'][-1]):.2f}%)")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy" if error else "loss", yscale="log", title="loss")
    if error:
        ax_acc.set(xlabel="epoch", ylabel="error %", yscale="log", title="error rate (log scale)")
    for ax in [a for a in (ax_loss, ax_acc) if a is not None]:
        ax.grid(alpha=0.3, which="both")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def set_accuracy(scores: dict[str, dict[str, float]], title: str = "accuracy on each evaluation set"):
    """Grouped horizontal bars: one group per evaluation set, one bar per model, values printed."""
    models = list(scores)
    sets = list(next(iter(scores.values())))
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.32 * len(sets) * len(models)))
    h = 0.8 / len(models)
    for i, m in enumerate(models):
        y = np.arange(len(sets)) + i * h
        v = [100 * scores[m][s] for s in sets]
        ax.barh(y, v, h, label=m, color=f"C{i}")
        for yy, vv in zip(y, v):
            ax.text(min(vv, 99) + 0.3, yy, f"{vv:.1f}", va="center", fontsize=7)
    ax.set_yticks(np.arange(len(sets)) + 0.4 - h / 2, sets)
    ax.invert_yaxis()
    ax.set(xlim=(0, 105), xlabel="accuracy %", title=title)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def confusion(counts: np.ndarray, names: list[str], title: str = "confusion matrix"):
    """Annotated heatmap of rates conditioned on the true class: (i, j) = P(decide j | label i)."""
    counts = np.asarray(counts)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    n = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * n, 0.6 + 0.55 * n))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                ax.text(j, i, f"{rates[i, j]:.2f}".lstrip("0") if rates[i, j] < 1 else "1", ha="center",
                        va="center", fontsize=7, color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right" if
                  max(map(len, names)) > 2 else "center")
    ax.set_yticks(range(n), names)
    acc = np.trace(counts) / max(counts.sum(), 1)
    ax.set(xlabel="predicted", ylabel="true", title=f"{title}\n(accuracy {100 * acc:.1f}%, rows sum to 1)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def image_grid(rows: dict[str, np.ndarray], title: str = ""):
    """One row of images per name (images (k, H, W[, 1]), shown grey, ink white)."""
    k = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), k, figsize=(0.8 * k + 1.2, 0.85 * len(rows)), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(k):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(images):
                ax.imshow(np.asarray(images[c]).squeeze(), cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title)
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


def embeddings(codes: dict[str, np.ndarray], labels, title: str = "2-D codes of test digits, coloured by label"):
    """Side-by-side scatter plots of 2-D embeddings (name → (n, 2)), one colour per class."""
    fig, axes = _axes_row(len(codes), title, height=4.6, sharey=False)
    labels = np.asarray(labels)
    for ax, (name, z) in zip(axes, codes.items()):
        for c in range(int(labels.max()) + 1):
            sel = labels == c
            ax.scatter(z[sel, 0], z[sel, 1], s=3, alpha=0.6, color=plt.get_cmap("tab10")(c), label=str(c),
                       rasterized=True)
        ax.set(title=name, xticks=[], yticks=[])
    axes[-1].legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), title="digit")
    fig.tight_layout()
    return fig
