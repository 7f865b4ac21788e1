"""Figures of adversarial attacks: the sheet's grid, the perturbations, target probability over
rounds, and robust accuracy against the attack budget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _show(ax, image):
    image = np.asarray(image)
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.clip(image, 0, 1))
    ax.set_xticks([])
    ax.set_yticks([])


def attack_grid(originals, original_probs, images, probs, targets, success, classes, title: str):
    """Rows = samples. Column 0: the original, titled with C's prediction and confidence; then one
    column per target class, titled with C's prediction for the generator's image (green: the
    attack reached the target, red: it failed)."""
    n, k = images.shape[:2]
    fig, axes = plt.subplots(n, k + 1, figsize=(1.25 * (k + 1), 1.45 * n + 0.5), squeeze=False)
    for i in range(n):
        c = int(np.argmax(original_probs[i]))
        _show(axes[i, 0], originals[i])
        axes[i, 0].set_title(f"original\n{classes[c]} {100 * original_probs[i][c]:.0f}%", fontsize=7)
        for j in range(k):
            ax = axes[i, j + 1]
            _show(ax, images[i, j])
            p = int(np.argmax(probs[i, j]))
            ax.set_title(f"→{classes[targets[i, j]]}\n{classes[p]} {100 * probs[i, j][p]:.0f}%", fontsize=7,
                         color="tab:green" if success[i, j] else "tab:red")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def perturbations(originals, images, targets, classes, title: str):
    """adversarial − original on a diverging colour map (grey images, one symmetric scale for the
    whole figure); colour images show 0.5 + 0.5·δ/max|δ| per channel."""
    n, k = images.shape[:2]
    delta = np.asarray(images, np.float64) - np.asarray(originals, np.float64)[:, None]
    m = max(float(np.abs(delta).max()), 1e-6)
    fig, axes = plt.subplots(n, k, figsize=(1.2 * k + 0.8, 1.3 * n + 0.5), squeeze=False)
    im = None
    for i in range(n):
        for j in range(k):
            ax = axes[i, j]
            if delta.shape[-1] == 1:
                im = ax.imshow(delta[i, j, ..., 0], cmap="RdBu_r", vmin=-m, vmax=m)
            else:
                ax.imshow(np.clip(0.5 + 0.5 * delta[i, j] / m, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"→{classes[targets[i, j]]}", fontsize=7)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.6, label="adversarial − original")
        fig.suptitle(title, fontsize=9)
    else:
        fig.suptitle(f"{title} (0.5 + 0.5·δ/{m:.2f} per channel)", fontsize=9)
    return fig


def target_curves(trace, labels, targets, threshold: float, classes, title: str):
    """One panel per sample: the target class's probability after each round, one line per target."""
    trace = np.asarray(trace)  # [rounds, n, k]
    n = trace.shape[1]
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.0), squeeze=False, sharey=True)
    cmap = plt.get_cmap("tab10")
    rounds = np.arange(1, trace.shape[0] + 1)
    for i in range(n):
        ax = axes[0, i]
        for j in range(trace.shape[2]):
            ax.plot(rounds, trace[:, i, j], color=cmap(targets[i, j] % 10), lw=1.2, label=classes[targets[i, j]])
        ax.axhline(threshold, color="k", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(f"sample {i} (a {classes[labels[i]]})", fontsize=8)
        ax.set_xlabel("round")
    axes[0, 0].set_ylabel("C's probability of the target")
    axes[0, -1].legend(fontsize=6, title="target", title_fontsize=6, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def accuracy_vs_eps(curves: dict[str, tuple[list, list]], budget: float, title: str, xlabel: str = "L∞ budget ε"):
    """Accuracy under PGD against ε, one line per model; the standard budget dotted."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, (eps, acc) in curves.items():
        ax.plot(eps, 100 * np.asarray(acc), marker="o", ms=3, label=name)
    ax.axvline(budget, color="k", ls=":", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy under PGD %")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def per_target(stats: dict[str, dict], title: str, target_rate: float | None = None, target_l2: float | None = None):
    """Success rate and median L2 per target class with their 95 % intervals, one marker series per
    model: ``stats`` is {model: pairs.evaluate_many(...)}; the targets dotted where given."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    width = 0.8 / max(len(stats), 1)
    for m, (name, s) in enumerate(stats.items()):
        classes = sorted(s["per_target"], key=int)
        x = np.arange(len(classes)) + (m - (len(stats) - 1) / 2) * width
        for ax, (key, ci, scale) in zip(axes, (("success_rate", "success_ci", 100), ("median_l2", "median_l2_ci", 1))):
            rows = [s["per_target"][c] for c in classes]
            mid = np.array([np.nan if r[key] is None else scale * r[key] for r in rows])
            lo = np.array([np.nan if r[ci] is None else scale * r[ci][0] for r in rows])
            hi = np.array([np.nan if r[ci] is None else scale * r[ci][1] for r in rows])
            ax.errorbar(x, mid, yerr=[np.maximum(mid - lo, 0), np.maximum(hi - mid, 0)], fmt="o", ms=4, capsize=2,
                        label=name)
    for ax, label, line in zip(axes, ("success % (95 % interval)", "median L2 of the successes (95 % interval)"),
                               (None if target_rate is None else 100 * target_rate, target_l2)):
        ax.set_xticks(np.arange(len(classes)), classes)
        ax.set_xlabel("target class")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        if line is not None:
            ax.axhline(line, color="k", ls=":", lw=0.8)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
