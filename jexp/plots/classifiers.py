"""Figures of single classifiers: learning curves per network, accuracy per evaluation set,
confusion matrices, image grids, weight histograms and matrices, 2-D embeddings. Each function
returns a matplotlib Figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from jexp.plots.studies import _axes_row  # noqa: E402


def net_curves(histories: dict[str, dict], title: str = "learning curves", error: bool = True):
    """Loss and (with ``error``) error rate per epoch, train dashed and the evaluated split solid (test,
    or validation where the history has ``val_*`` metrics), per network."""
    fig, axes = plt.subplots(1, 2 if error else 1, figsize=(11 if error else 6, 3.8), squeeze=False)
    ax_loss, ax_acc = axes[0][0], (axes[0][1] if error else None)
    fig.suptitle(title, fontsize=12)
    for i, (name, h) in enumerate(histories.items()):
        c = f"C{i}"
        split, label = ("val", "validation") if "val_loss" in h else ("test", "test")
        loss, acc = h[f"{split}_loss"], h[f"{split}_acc"]
        epochs = np.arange(len(acc))
        ax_loss.plot(epochs[1:], h["train_loss"][1:], "--", color=c, label=f"{name} train")
        if np.isfinite(loss).any():  # a history restored from an older run may lack the evaluated loss
            ax_loss.plot(epochs, loss, "-", color=c, label=f"{name} {label} (final {loss[-1]:.4g})")
        if not error:
            continue
        ax_acc.plot(epochs[1:], 100 * (1 - np.asarray(h["train_acc"][1:])), "--", color=c, label=f"{name} train")
        ax_acc.plot(epochs[1:], 100 * (1 - np.asarray(acc[1:])), "-", color=c,
                    label=f"{name} {label} (final {100 * (1 - acc[-1]):.2f}%)")
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


def reliability(sets: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "confidence against accuracy",
                bins: int = 10, columns: int = 5):
    """Reliability diagrams, one panel per set ``name -> (probabilities (N, K), labels)``: the
    answers binned by their confidence, each bin's accuracy as a bar (its width the bin, its shade
    how many answers fall in it) against the diagonal of perfect calibration, with the set's
    accuracy and expected calibration error in the panel's title."""
    from jexp.nn import calibration
    rows = -(-len(sets) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.5 * rows + 0.4), squeeze=False,
                             sharex=True, sharey=True)
    edges = np.linspace(0, 1, bins + 1)
    for ax, (name, (probs, labels)) in zip(axes.flat, sets.items()):
        right = probs.argmax(-1) == labels
        counts, acc, _ = calibration.binned(probs, labels, bins)
        shade = 0.25 + 0.75 * counts / max(counts.max(), 1)
        for b in range(bins):
            if counts[b]:
                ax.bar(edges[b], acc[b], 1 / bins, align="edge", color=plt.cm.Blues(shade[b]), edgecolor="white")
        ax.plot([0, 1], [0, 1], "--", color="C3", lw=1)
        ax.set_title(f"{name}\nacc {100 * right.mean():.1f}%, ECE {100 * calibration.ece(probs, labels):.1f}%",
                     fontsize=8)
        ax.set(xlim=(0, 1), ylim=(0, 1))
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(sets):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("confidence", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def confusion(counts: np.ndarray, names: list[str], title: str = "confusion matrix", columns: list[str] | None = None):
    """Annotated heatmap of rates conditioned on the true class: (i, j) = P(decide j | label i).
    ``columns`` names the predicted outcomes when they are more than the classes (e.g. "none")."""
    counts = np.asarray(counts)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    columns = columns or names
    n, m = len(names), len(columns)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * m, 0.6 + 0.55 * n))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(m):
            if counts[i, j]:
                ax.text(j, i, f"{rates[i, j]:.2f}".lstrip("0") if rates[i, j] < 1 else "1", ha="center",
                        va="center", fontsize=7, color="white" if rates[i, j] > 0.5 else "black")
    wide = max(map(len, columns)) > 2
    ax.set_xticks(range(m), columns, rotation=45 if wide else 0, ha="right" if wide else "center")
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


def halving_curves(runs: dict[str, dict], halve_after, title: str):
    """Validation (solid) and training (dashed) accuracy per epoch; dotted lines where the
    learning rate was halved."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, h) in enumerate(runs.items()):
        epochs = np.arange(1, len(h["train_acc"]) + 1)
        if h.get("val_acc"):
            ax.plot(epochs, 100 * np.asarray(h["val_acc"]), "-", color=f"C{i}",
                    label=f"{name} val (final {100 * h['val_acc'][-1]:.2f}%)")
        ax.plot(epochs, 100 * np.asarray(h["train_acc"]), "--", color=f"C{i}", alpha=0.7,
                label=None if len(runs) > 1 else f"{name} train")
    for k, e in enumerate(halve_after):
        ax.axvline(e + 0.5, color="grey", ls=":", label="learning rate halved" if k == 0 else None)
    lo = min(min(h["val_acc"] or h["train_acc"]) for h in runs.values())
    ax.set(xlabel="epoch", ylabel="accuracy %", title=title, ylim=(max(100 * lo - 1, 80), 100.2))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def weight_histograms(kernels: dict[str, dict[str, np.ndarray]], title: str = "weights of each layer"):
    """A grid: one row per model, one column per layer; shared x range per column, log counts."""
    models = list(kernels)
    layers = max(len(v) for v in kernels.values())
    fig, axes = plt.subplots(len(models), layers, figsize=(5 * layers, 3.2 * len(models)), squeeze=False)
    fig.suptitle(title, fontsize=12)
    for c in range(layers):
        ws = [list(kernels[m].values())[c] for m in models]
        lim = max(np.abs(w).max() for w in ws)
        bins = np.linspace(-lim, lim, 81)
        for r, (m, w) in enumerate(zip(models, ws)):
            ax = axes[r, c]
            ax.hist(w, bins=bins, color=f"C{r}", alpha=0.85)
            ax.set(yscale="log", title=f"{m}: {list(kernels[m])[c]}\nstd {w.std():.3f}, max |w| {np.abs(w).max():.2f}",
                   xlabel="weight", ylabel="count")
            ax.title.set_fontsize(9)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def weight_matrix(w: np.ndarray, title: str):
    """A signed weight matrix as a diverging heatmap (rows: inputs, columns: units)."""
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    lim = np.abs(w).max()
    im = ax.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set(xlabel="hidden unit", ylabel="input position", title=title,
           xticks=range(0, w.shape[1], 2), yticks=range(0, w.shape[0], 2),
           xticklabels=range(1, w.shape[1] + 1, 2), yticklabels=range(1, w.shape[0] + 1, 2))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def mistakes(images, labels, probs, names: list[str], per_class: int = 6, title: str = "most confident mistakes"):
    """For each true class (a row), the wrongly classified images the model was surest of, each
    titled "decided (confidence)"; images (n, H, W[, 1]) in [0, 1], probs (n, classes)."""
    labels, probs = np.asarray(labels), np.asarray(probs)
    decided, conf = probs.argmax(-1), probs.max(-1)
    fig, axes = plt.subplots(len(names), per_class, figsize=(1.25 * per_class + 1.3, 1.45 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        wrong = np.flatnonzero((labels == r) & (decided != r))
        wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:per_class]
        for c in range(per_class):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(wrong):
                i = wrong[c]
                ax.imshow(np.asarray(images[i]).squeeze(), cmap="gray", vmin=0, vmax=1)
                ax.set_title(f"{names[decided[i]]} {100 * conf[i]:.0f}%", fontsize=7, pad=2)
            else:
                ax.axis("off")
        axes[r, 0].axis("on")
        axes[r, 0].set_xticks([])
        axes[r, 0].set_yticks([])
        axes[r, 0].set_ylabel(f"true\n{name}", rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def class_scores(scores: dict[str, np.ndarray], names: list[str], title: str = "per-class scores"):
    """Grouped vertical bars: for each class, one bar per score (e.g. precision, recall, F1)."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(names), 3.6))
    w = 0.8 / len(scores)
    for i, (s, v) in enumerate(scores.items()):
        x = np.arange(len(names)) + (i - (len(scores) - 1) / 2) * w
        ax.bar(x, 100 * np.asarray(v), w, label=s, color=f"C{i}")
    ax.set_xticks(range(len(names)), names)
    ax.set(ylim=(0, 100), ylabel="%", title=title)
    ax.legend(fontsize=8, ncol=len(scores))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def frames(images, titles: list[str] | None = None, title: str = "", columns: int = 2):
    """Video frames (n, H, W, 3) uint8 BGR, as OpenCV holds them, in a grid."""
    n = len(images)
    rows = -(-n // columns)
    h, w = images[0].shape[:2]
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.2 * rows * h / w + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(np.asarray(images[i])[..., ::-1])
            if titles:
                ax.set_title(titles[i], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _mosaic(maps: np.ndarray, columns: int) -> np.ndarray:
    """(H, W, F) maps tiled on a grid of ``columns``, 1-pixel gaps (NaN), each map scaled to [0, 1]
    by the layer's largest activation, so weak and silent filters look weak and silent."""
    h, w, f = maps.shape
    rows = -(-f // columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    top = max(float(maps.max()), 1e-12)
    for k in range(f):
        r, c = divmod(k, columns)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = maps[..., k] / top
    return out


def feature_maps(image: np.ndarray, layers: list[np.ndarray], title: str = ""):
    """The input image and, per convolutional layer, every filter's output map on one grid."""
    fig, axes = plt.subplots(1, len(layers) + 1, figsize=(3.0 * (len(layers) + 1), 3.4))
    axes[0].imshow(np.asarray(image).squeeze(), cmap=None if np.asarray(image).shape[-1] == 3 else "gray")
    axes[0].set_title("input")
    for i, maps in enumerate(layers):
        maps = np.asarray(maps)
        cols = int(np.ceil(np.sqrt(maps.shape[-1])))
        axes[i + 1].imshow(_mosaic(maps, cols), cmap="magma", vmin=0, vmax=1)
        axes[i + 1].set_title(f"conv {i + 1}: {maps.shape[-1]} maps of {maps.shape[0]}×{maps.shape[1]}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
