"""An MLP trained by backprop written out in numpy (EE599 homework): no jax, no autodiff.

This module imports numpy only (a test checks); its data come from the course's HDF5 files
(``jexp.data.ee599_hdf5``): x (N, 784) float32 in [0, 1], y one-hot (N, 10). Training: minibatch
SGD on the mean softmax cross-entropy of each batch, He-normal weights and zero biases, and the
learning rate halved after the epochs listed in ``halve_after`` (only ever between epochs).
"""
from __future__ import annotations

import numpy as np


def relu(z):
    return np.maximum(z, 0)


def relu_grad(z):
    return (z > 0).astype(z.dtype)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1 - np.tanh(z) ** 2


ACTIVATIONS = {"relu": (relu, relu_grad), "tanh": (tanh, tanh_grad)}


def softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def init(sizes, rng) -> list[tuple[np.ndarray, np.ndarray]]:
    """He-normal weights N(0, 2/fan_in) and zero biases for layer sizes, e.g. (784, 256, 10)."""
    return [(rng.standard_normal((m, n)).astype(np.float32) * np.float32(np.sqrt(2.0 / m)), np.zeros(n, np.float32))
            for m, n in zip(sizes[:-1], sizes[1:])]


def forward(params, x, activation: str):
    """Class probabilities and the cache (inputs and pre-activations of every layer)."""
    f, _ = ACTIVATIONS[activation]
    inputs, zs = [], []
    h = x
    for i, (w, b) in enumerate(params):
        inputs.append(h)
        z = h @ w + b
        zs.append(z)
        h = f(z) if i < len(params) - 1 else softmax(z)
    return h, (inputs, zs)


def backward(params, cache, probs, y_onehot, activation: str):
    """Gradients of the batch-mean cross-entropy, layer by layer from the output back."""
    _, df = ACTIVATIONS[activation]
    inputs, zs = cache
    delta = (probs - y_onehot) / len(y_onehot)  # ∂L/∂z of the output layer (softmax + cross-entropy)
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        grads[i] = (inputs[i].T @ delta, delta.sum(axis=0))
        if i:
            delta = (delta @ params[i][0].T) * df(zs[i - 1])
    return grads


def cross_entropy(probs, y_onehot) -> float:
    return float(-np.mean(np.log(np.maximum(np.sum(probs * y_onehot, axis=1), 1e-12))))


def evaluate(params, x, y_onehot, activation: str, batch: int = 10000) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over a whole set."""
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch):
        p, _ = forward(params, x[i:i + batch], activation)
        loss += cross_entropy(p, y_onehot[i:i + batch]) * len(p)
        correct += int(np.sum(p.argmax(1) == y_onehot[i:i + batch].argmax(1)))
    return loss / len(x), correct / len(x)


def train(params, x, y, activation: str, lr: float, epochs: int, batch_size: int, rng,
          halve_after=(20, 40), val=None, on_epoch=None):
    """Minibatch SGD; returns (params, history) with per-epoch train (and val) loss/accuracy and lr.
    ``batch_size`` must divide len(x), so every example is seen once per epoch."""
    if len(x) % batch_size:
        raise ValueError(f"batch size {batch_size} does not divide {len(x)} training examples")
    hist = {k: [] for k in ("lr", "train_loss", "train_acc", "val_loss", "val_acc")}
    for epoch in range(1, epochs + 1):
        rate = lr * 0.5 ** sum(epoch > h for h in halve_after)  # halved only between epochs
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            probs, cache = forward(params, x[idx], activation)
            grads = backward(params, cache, probs, y[idx], activation)
            params = [(w - np.float32(rate) * gw, b - np.float32(rate) * gb) for (w, b), (gw, gb) in zip(params, grads)]
        hist["lr"].append(rate)
        tl, ta = evaluate(params, x, y, activation)
        hist["train_loss"].append(tl)
        hist["train_acc"].append(ta)
        if val is not None:
            vl, va = evaluate(params, *val, activation)
            hist["val_loss"].append(vl)
            hist["val_acc"].append(va)
        if on_epoch is not None:
            on_epoch(epoch, hist)
    return params, hist
