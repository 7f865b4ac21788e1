"""The toy regression problem and two models with forward and backward passes written by hand.

numpy only, on purpose: this is backprop spelled out, tested against ``jax.grad`` of the same
loss (tests/test_toy.py). Data: x ∈ R⁴ uniform on [−2.5, 2.5], an unknown W = 4·(U[0,1) − 0.5)
∈ R^{4×4} and three targets

    y₁ = Σᵢ (Wx)ᵢ        y₂ = maxᵢ xᵢ        y₃ = log Σᵢ exp((Wx)ᵢ)

each multiplied by (1 + 0.01·N(0, 1)) noise. Models:

* linear:  p = w·x + b
* toy convnet: two 1×3 filters w₁, w₂ slid along x with zero padding ("same"), z_k = w_k ⋆ x,
  h_k = ReLU(z_k); a width-2 stride-2 max-pool per filter gives m = (m₁₁, m₁₂, m₂₁, m₂₂); p = u·m.

Loss per point (p − y)² + λ/2·‖θ‖²; a minibatch's gradient is the mean over its points of the
squared-error gradient, plus λθ.
"""
from __future__ import annotations

import numpy as np

TARGETS = ("sum", "max", "logsumexp")


def make_data(seed: int = 0, n_train: int = 1000, n_test: int = 200, noise: float = 0.01):
    """{"W": W, target: (x_train, y_train, x_test, y_test)} for each of the three targets."""
    rng = np.random.default_rng(seed)
    W = 4.0 * (rng.random((4, 4)) - 0.5)
    x = rng.uniform(-2.5, 2.5, (n_train + n_test, 4))
    wx = x @ W.T
    clean = {"sum": wx.sum(1), "max": x.max(1), "logsumexp": np.log(np.exp(wx).sum(1))}
    out = {"W": W}
    for name in TARGETS:
        y = clean[name] * (1.0 + noise * rng.standard_normal(len(x)))
        out[name] = (x[:n_train], y[:n_train], x[n_train:], y[n_train:])
    return out


# --- linear ---------------------------------------------------------------------------------

def linear_init(rng) -> dict:
    return {"w": rng.normal(0, 0.5, 4), "b": np.zeros(())}


def linear_forward(theta, x):
    p = x @ theta["w"] + theta["b"]
    return p, {"x": x}


def linear_backward(theta, cache, dp):
    """Gradients of Σ dp·p with respect to θ (dp: ∂loss/∂p per point)."""
    return {"w": cache["x"].T @ dp, "b": dp.sum()}


# --- the toy convnet ------------------------------------------------------------------------

def conv_init(rng) -> dict:
    return {"w1": rng.normal(0, 0.5, 3), "w2": rng.normal(0, 0.5, 3), "u": rng.normal(0, 0.5, 4)}


def _windows(x):
    """(N, 4, 3): for each position j the zero-padded neighbourhood (x_{j−1}, x_j, x_{j+1})."""
    xp = np.pad(x, ((0, 0), (1, 1)))
    return np.stack([xp[:, j:j + 3] for j in range(4)], axis=1)


def conv_forward(theta, x):
    win = _windows(x)                                        # (N, 4, 3)
    z = np.stack([win @ theta["w1"], win @ theta["w2"]], 1)  # (N, 2, 4)
    h = np.maximum(z, 0.0)
    pairs = h.reshape(len(x), 2, 2, 2)                       # (N, filter, pool window, 2)
    arg = pairs.argmax(-1)                                   # which of the two won (first on ties)
    m = np.take_along_axis(pairs, arg[..., None], -1)[..., 0].reshape(len(x), 4)
    p = m @ theta["u"]
    return p, {"win": win, "z": z, "arg": arg, "m": m}


def conv_backward(theta, cache, dp):
    n = len(dp)
    du = cache["m"].T @ dp
    dm = dp[:, None] * theta["u"][None, :]                   # (N, 4)
    dpairs = np.zeros((n, 2, 2, 2))                          # route through the max-pool's argmax
    np.put_along_axis(dpairs, cache["arg"][..., None], dm.reshape(n, 2, 2, 1), -1)
    dh = dpairs.reshape(n, 2, 4)
    dz = dh * (cache["z"] > 0)                               # ReLU'(z), taken as 0 at z = 0
    dw = np.einsum("nkj,njt->kt", dz, cache["win"])          # (2, 3)
    return {"w1": dw[0], "w2": dw[1], "u": du}


MODELS = {"linear": (linear_init, linear_forward, linear_backward),
          "convnet": (conv_init, conv_forward, conv_backward)}


def loss_and_grad(model: str, theta, x, y, lam: float):
    """Mean over the points of (p − y)², plus λ/2·‖θ‖², and its gradient (hand-written)."""
    _, forward, backward = MODELS[model]
    p, cache = forward(theta, x)
    r = p - y
    loss = np.mean(r ** 2) + 0.5 * lam * sum(np.sum(v ** 2) for v in theta.values())
    grads = backward(theta, cache, 2.0 * r / len(y))
    return loss, {k: g + lam * theta[k] for k, g in grads.items()}


def mse(model: str, theta, x, y) -> float:
    return float(np.mean((MODELS[model][1](theta, x)[0] - y) ** 2))


def train(model: str, data, *, seed: int = 0, epochs: int = 100, lr: float = 0.01, batch_size: int = 10,
          lam: float = 1e-3):
    """Minibatch SGD; returns (θ, {"train": [...], "test": [...]}) with the MSE after each epoch
    (index 0: before training). A run whose loss overflows stops and is padded with NaN."""
    x, y, xt, yt = data
    rng = np.random.default_rng(seed)
    theta = MODELS[model][0](rng)
    hist = {"train": [mse(model, theta, x, y)], "test": [mse(model, theta, xt, yt)]}
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for i in range(0, len(y) - batch_size + 1, batch_size):
                idx = order[i:i + batch_size]
                _, g = loss_and_grad(model, theta, x[idx], y[idx], lam)
                theta = {k: v - lr * g[k] for k, v in theta.items()}
            hist["train"].append(mse(model, theta, x, y))
            hist["test"].append(mse(model, theta, xt, yt))
            if not np.isfinite(hist["train"][-1]):
                break
    for k in hist:
        hist[k] += [float("nan")] * (epochs + 1 - len(hist[k]))
    return theta, hist
