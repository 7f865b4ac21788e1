"""MLP depth × activation on MNIST: test accuracy of 9 models over 5 seeds (exercise 1B).

Command:  jexp run ex1b        (5 seeds × 9 models × 3 epochs; ~40 s on a 2-core CPU)
Setting:  hidden width 32, glorot-uniform kernels, zero biases, softmax output, cross-entropy,
          plain SGD lr 0.01, batch 32, 3 epochs on all 60,000 images, as in the course's Keras
          solution (one seed), whose test accuracies are KERAS below.
Result:   artifacts/ex1b/results.md (table in the README): tanh trains at every depth, ReLU
          degrades with depth and fails at 40, sigmoid stays at chance (11.35 %) at every depth.
"""
from dataclasses import dataclass

import numpy as np

from jexp import artifacts, grid, plots

# Test accuracy of the public Keras solution (one seed, 3 epochs), by (depth, activation).
KERAS = {(5, "relu"): .930, (20, "relu"): .661, (40, "relu"): .114,
         (5, "tanh"): .932, (20, "tanh"): .935, (40, "tanh"): .922,
         (5, "sigmoid"): .1135, (20, "sigmoid"): .1135, (40, "sigmoid"): .1135}

FIGURES = ("accuracy.png", "learning_curves.png")  # shown in the README


@dataclass(frozen=True)
class Config(grid.GridConfig):
    pass


QUICK = dict(seeds=2, epochs=1, train_size=2048, test_size=512)


def run(cfg: Config, ctx) -> None:
    runs = grid.run_grid(cfg, ctx, grad_stats=False)
    summary = grid.summarise(runs)
    ctx.out.json("metrics.json", grid.metrics(runs))
    ctx.out.text("results.md", results_md(cfg, summary))
    ctx.out.figure("accuracy.png", plots.accuracy_grid(summary))
    ctx.out.figure("learning_curves.png", plots.learning_curves(
        runs, "test_acc", "test accuracy per epoch (mean ± std over seeds)", "test accuracy"))


def results_md(cfg: Config, summary) -> str:
    rows = []
    for (d, a), s in summary.items():
        k = KERAS.get((d, a))
        lo, hi = min(s["values"]), max(s["values"])
        inside = "—" if k is None else ("yes" if lo - 0.005 <= k <= hi + 0.005 else "**no**")
        rows.append([d, a, artifacts.pct(s["mean"], s["std"]), " ".join(f"{100 * v:.1f}" for v in s["values"]),
                     "—" if k is None else f"{100 * k:.1f}", inside, s["diverged"]])
    table = artifacts.md_table(["depth", "activation", "test acc % (mean ± std)", "per seed",
                                "Keras, 1 seed", "Keras in our seed range", "diverged"], rows)
    return f"# ex1b: test accuracy after {cfg.epochs} epochs, {cfg.seeds} seeds\n\n{table}\n{notes(summary)}"


def notes(summary) -> str:
    """The explanation, with the measured numbers of this run filled in."""
    spread = {da: max(s["values"]) - min(s["values"]) for da, s in summary.items()}
    widest = sorted(spread, key=spread.get, reverse=True)[:2]
    def cells(act):
        return ", ".join(f"{artifacts.pct(s['mean'])} % at {d}" for (d, a), s in summary.items() if a == act)
    outside = [f"{a} at {d}" for (d, a), s in summary.items() if (d, a) in KERAS
               and not min(s["values"]) - 0.005 <= KERAS[(d, a)] <= max(s["values"]) + 0.005]
    lines = [
        "Seed spread matters: " + "; ".join(
            f"{a} with {d} hidden layers ranges over {100 * spread[(d, a)]:.1f} points between its best and "
            f"worst seed" for d, a in widest) + ". A single run (like the Keras column) can land anywhere in "
            "such a range, so one-seed figures mislead there.",
        "",
        "Why the cells come out as they do (ex1c has the measured per-layer gradients):",
        f"- **sigmoid** ({cells('sigmoid')} hidden layers): σ' ≤ 1/4, so every layer scales the backpropagated "
        "signal down; with glorot-uniform 32-unit layers the first layers get gradients many orders of magnitude "
        "below the output layer's, and in 3 epochs of SGD at lr 0.01 only the output layer learns: the network "
        "predicts one class for every image, and 11.35 % is the share of the most frequent test digit (1).",
        f"- **tanh** ({cells('tanh')}): tanh' ≤ 1 with equality at 0, and glorot keeps pre-activations near 0, "
        "so gradients pass 40 layers with little loss; the deepest nets are slower to start, hence their wider "
        "spread after 3 epochs.",
        f"- **ReLU** ({cells('relu')}): the gradient reaching the early layers of a deep ReLU stack at width 32 "
        "is tiny at initialisation, and once units die it is exactly zero; depending on the seed the 20-layer "
        "net escapes or not within 3 epochs, and the 40-layer net collapses to a constant output.",
        "",
        "Comparison with the public Keras run: " + (
            "every one of its single-seed figures lies within the range of our seeds, so the two agree; the "
            "differences in the means are the seed-to-seed variation above, not a different result."
            if not outside else
            f"its figure lies outside our seed range for {', '.join(outside)}; differences in set-up we do not "
            "copy exactly (Keras keeps the last partial batch of each epoch, which we drop) cannot move a mean "
            "this far, so this is most likely one unlucky or lucky seed on either side."),
    ]
    return "\n".join(lines) + "\n"
