"""Batched outputs, confusion counts and per-class scores (jexp.nn.evaluate)."""
import numpy as np

from jexp.nn import evaluate


def test_confusion_counts_exactly():
    m = evaluate.confusion([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], n=3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_per_class_precision_recall_f1_from_confusion_counts():
    from jexp.nn import evaluate
    counts = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])  # class 2 neither present nor decided
    s = evaluate.per_class(counts)
    np.testing.assert_allclose(s["precision"], [8 / 9, 3 / 5, 0])
    np.testing.assert_allclose(s["recall"], [8 / 10, 3 / 4, 0])
    np.testing.assert_allclose(s["f1"], [2 * (8 / 9) * 0.8 / (8 / 9 + 0.8), 2 * 0.6 * 0.75 / 1.35, 0])
    np.testing.assert_array_equal(s["support"], [10, 4, 0])
