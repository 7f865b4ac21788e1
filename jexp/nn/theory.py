"""Small numeric companions to docs/theory.md (the convnets sheet's questions), used by the tests."""
from __future__ import annotations

import numpy as np


def sigmoid_graph(x):
    """σ(x) = 1 / (1 + exp(−x)) as a graph of four elementary nodes, with its backward pass by the
    chain rule, node by node. Returns (σ(x), dσ/dx)."""
    a = -x              # a = −x
    b = np.exp(a)       # b = e^a
    c = 1.0 + b         # c = 1 + b
    d = 1.0 / c         # d = 1/c = σ(x)
    dd_dc = -1.0 / c ** 2
    dd_db = dd_dc * 1.0           # ∂c/∂b = 1
    dd_da = dd_db * b             # ∂b/∂a = e^a = b
    dd_dx = dd_da * -1.0          # ∂a/∂x = −1
    return d, dd_dx


def threshold_net(x, w1, b1, t, w2, b2):
    """Affine, then the learnable threshold max{t, o}, then affine."""
    return np.maximum(t, x @ w1 + b1) @ w2 + b2


def equivalent_relu_net(w1, b1, t, w2, b2):
    """Parameters of a plain ReLU network computing exactly ``threshold_net``:
    max{t, o} = t + ReLU(o − t), so shift the first bias by −t and the second by +W₂ᵀt."""
    return w1, b1 - t, w2, b2 + t @ w2


def relu_net(x, w1, b1, w2, b2):
    return np.maximum(0.0, x @ w1 + b1) @ w2 + b2
