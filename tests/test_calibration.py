"""Temperature scaling and the expected calibration error (jexp.nn.calibration)."""
import numpy as np
import pytest

from jexp.nn import calibration


def test_ece_by_hand():
    # confidences 0.9, 0.9 (one right), 0.6 (right), 0.3 → bins of width 0.5 (bins=2): [0, .5], (.5, 1]
    probs = np.array([[0.9, 0.1, 0.0], [0.05, 0.9, 0.05], [0.6, 0.4, 0.0], [0.3, 0.3, 0.4]])
    labels = np.array([0, 0, 0, 2])
    # bin 2: conf mean 0.8, accuracy 2/3 → 3 · |2/3 − 0.8|; bin 1: conf 0.4, accuracy 1 → 1 · 0.6
    assert calibration.ece(probs, labels, bins=2) == pytest.approx((3 * abs(2 / 3 - 0.8) + 0.6) / 4, abs=1e-12)
    assert calibration.ece(np.eye(3), np.arange(3)) == 0.0  # sure and right
    assert np.isnan(calibration.ece(np.zeros((0, 3)), np.zeros(0, int)))


def test_fitted_temperature_recovers_the_one_that_made_the_labels():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 2, (20000, 10))
    labels = np.array([rng.choice(10, p=p) for p in calibration.probabilities(true)])  # calibrated logits
    for t0 in (0.5, 1.0, 3.0):  # the model states its logits × 1/t0: overconfident when t0 < 1 … t0 > 1
        t = calibration.fit_temperature(true / t0, labels)
        assert t == pytest.approx(1 / t0, rel=0.05)
        assert calibration.nll(true / t0, labels, t) <= calibration.nll(true / t0, labels, 1.0) + 1e-12
        cal = calibration.probabilities(true / t0, t)
        assert calibration.ece(cal, labels) < 0.02
    # dividing by T never changes the answer
    np.testing.assert_array_equal(calibration.probabilities(true, 7.0).argmax(-1), true.argmax(-1))
    with pytest.raises(ValueError, match="at least one"):
        calibration.fit_temperature(np.zeros((0, 10)), np.zeros(0, int))


def test_summary_splits_sure_and_unsure_answers():
    logits = np.log(np.array([[0.95, 0.05], [0.6, 0.4], [0.55, 0.45], [0.99, 0.01]]))
    s = calibration.summary(logits, np.array([0, 1, 0, 0]), 1.0, unsure_below=0.9)
    assert s["n"] == 4 and s["accuracy"] == 0.75 and s["unsure_share"] == 0.5
    assert s["accuracy_sure"] == 1.0 and s["accuracy_unsure"] == 0.5 and s["ece"] == s["ece_raw"]
    empty = calibration.summary(np.zeros((0, 2)), np.zeros(0, int), 1.0, 0.9)
    assert empty["n"] == 0 and np.isnan(empty["accuracy"])
