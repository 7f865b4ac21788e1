"""Figures, by subject; every function returns a matplotlib Figure: ``studies`` (many runs: learning
curves, gradient flow, sweeps), ``classifiers`` (one model: curves, confusion, examples, weights,
feature maps) and ``attack_figures`` (the attack grid, perturbations, rounds, accuracy against ε)."""
