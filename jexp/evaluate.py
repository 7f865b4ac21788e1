"""Evaluating a trained model on a host array: outputs in batches, and confusion counts."""
from __future__ import annotations

import numpy as np


def batched(f, x, batch: int = 1000) -> np.ndarray:
    """``f`` (e.g. a jitted model) applied to ``x`` in slices of ``batch`` rows, as one numpy array;
    one compiled shape serves all full batches."""
    out = [np.asarray(f(x[i:i + batch])) for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.asarray(f(x[:0]))


def confusion(labels, predictions, n: int = 10, columns: int | None = None) -> np.ndarray:
    """Counts: element (i, j) = how often label i was predicted as j; ``columns`` > n leaves room
    for outcomes that are not a class (e.g. column n: "no answer")."""
    m = np.zeros((n, columns or n), np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(predictions)), 1)
    return m
