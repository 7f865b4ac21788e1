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


def per_class(counts) -> dict[str, np.ndarray]:
    """Precision, recall and F1 of each class from confusion counts (rows true, columns decided);
    0 where a class is never decided or never present."""
    counts = np.asarray(counts, np.float64)
    hit = np.diag(counts)
    precision = hit / np.maximum(counts.sum(0), 1)
    recall = hit / np.maximum(counts.sum(1), 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": counts.sum(1).astype(np.int64)}
