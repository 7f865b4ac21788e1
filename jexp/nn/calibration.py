"""Calibrated confidence: temperature scaling and the expected calibration error.

A classifier's softmax probability of its answer is its *confidence*. It is calibrated when, among
the answers given with confidence c, a share c is right. ``fit_temperature`` finds the one number
T that divides the logits so that the softmax's negative log-likelihood on a validation split is
least (Guo et al., "On calibration of modern neural networks", 2017); dividing by T never changes
the answer, only how sure it is stated. ``ece`` measures what is left: the gap between confidence
and accuracy, averaged over equal-width confidence bins weighted by how many answers fall in each.

All in float64 numpy: the same logits give the same T and the same figures on every machine.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize, special

LOG_T_RANGE = (-3.0, 3.0)  # T is searched in [e^-3, e^3] ≈ [0.05, 20]


def probabilities(logits, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / temperature) in float64, rows summing to 1."""
    return special.softmax(np.asarray(logits, np.float64) / temperature, axis=-1)


def nll(logits, labels, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under softmax(logits / temperature)."""
    z = np.asarray(logits, np.float64) / temperature
    logp = z - special.logsumexp(z, axis=-1, keepdims=True)
    return float(-np.mean(logp[np.arange(len(z)), np.asarray(labels)]))


def fit_temperature(logits, labels) -> float:
    """The temperature T minimising ``nll(logits, labels, T)`` (a bounded search on log T)."""
    logits, labels = np.asarray(logits, np.float64), np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("fit_temperature needs at least one labelled example")
    res = optimize.minimize_scalar(lambda t: nll(logits, labels, np.exp(t)), bounds=LOG_T_RANGE, method="bounded",
                                   options={"xatol": 1e-6})
    return float(np.exp(res.x))


def ece(probs, labels, bins: int = 15) -> float:
    """Expected calibration error: Σ_bins (n_bin / n) · |accuracy_bin − mean confidence_bin|, the
    confidence (max probability) binned into ``bins`` equal intervals of [0, 1] (right-closed; a
    confidence of exactly 0 falls in the first)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    counts, accuracy, confidence = binned(probs, labels, bins)
    total = 0.0
    for n, a, c in zip(counts, accuracy, confidence):
        if n:
            total += n * abs(a - c)
    return float(total / len(labels))


def binned(probs, labels, bins: int = 15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(answers, accuracy, mean confidence) per confidence bin, ``bins`` equal intervals of [0, 1]
    (right-closed; a confidence of exactly 0 falls in the first); NaN for an empty bin."""
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    conf, right = probs.max(-1), probs.argmax(-1) == labels
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    mean = lambda v: np.array([v[which == b].mean() if counts[b] else np.nan for b in range(bins)])
    return counts, mean(right), mean(conf)


def summary(logits, labels, temperature: float, unsure_below: float, bins: int = 15) -> dict:
    """Accuracy, ECE before (T = 1) and after ``temperature``, and how the answers given with a
    calibrated confidence under ``unsure_below`` (flagged "unsure") compare with the rest."""
    raw, cal = probabilities(logits), probabilities(logits, temperature)
    labels = np.asarray(labels)
    right = cal.argmax(-1) == labels
    unsure = cal.max(-1) < unsure_below
    share = lambda mask: float(right[mask].mean()) if mask.any() else float("nan")
    if not len(labels):
        return {"n": 0, **{k: float("nan") for k in ("accuracy", "ece_raw", "ece", "mean_confidence",
                                                     "mean_confidence_raw", "unsure_share",
                                                     "accuracy_sure", "accuracy_unsure")}}
    return {"n": int(len(labels)), "accuracy": float(right.mean()),
            "ece_raw": ece(raw, labels, bins), "ece": ece(cal, labels, bins),
            "mean_confidence": float(cal.max(-1).mean()), "mean_confidence_raw": float(raw.max(-1).mean()),
            "unsure_share": float(unsure.mean()),
            "accuracy_sure": share(~unsure), "accuracy_unsure": share(unsure)}
