"""The hand-written backprop of jexp.nn.toy against jax.grad of the same loss, in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import imported_packages
from jexp.nn import toy


@pytest.fixture(autouse=True)
def float64():
    """jax in float64 for this module's tests only."""
    with jax.enable_x64(True):
        yield


def ref_predict(model, theta, x):
    """The models again, in jax.numpy, written independently (convolution by explicit taps)."""
    if model == "linear":
        return x @ theta["w"] + theta["b"]
    xp = jnp.pad(x, ((0, 0), (1, 1)))
    ms = []
    for w in (theta["w1"], theta["w2"]):
        z = w[0] * xp[:, 0:4] + w[1] * xp[:, 1:5] + w[2] * xp[:, 2:6]
        h = jax.nn.relu(z)
        ms += [jnp.maximum(h[:, 0], h[:, 1]), jnp.maximum(h[:, 2], h[:, 3])]
    return jnp.stack(ms, 1) @ theta["u"]


def ref_loss(model, theta, x, y, lam):
    r = ref_predict(model, theta, x) - y
    return jnp.mean(r ** 2) + 0.5 * lam * sum(jnp.sum(v ** 2) for v in theta.values())


@pytest.mark.parametrize("model", ["linear", "convnet"])
@pytest.mark.parametrize("seed", range(5))
def test_hand_written_gradients_match_jax_grad(model, seed):
    rng = np.random.default_rng(seed)
    theta = toy.MODELS[model][0](rng)
    x, y = rng.uniform(-2.5, 2.5, (7, 4)), rng.normal(size=7)
    loss, grads = toy.loss_and_grad(model, theta, x, y, lam=0.1)
    ref = jax.grad(ref_loss, argnums=1)(model, {k: jnp.asarray(v) for k, v in theta.items()}, x, y, 0.1)
    assert loss == pytest.approx(float(ref_loss(model, theta, x, y, 0.1)), rel=1e-12)
    for k in theta:
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(toy.MODELS[model][1](theta, x)[0], ref_predict(model, theta, x), rtol=1e-12)


def test_maxpool_gradient_goes_to_the_argmax_only():
    theta = {"w1": np.array([0.0, 1.0, 0.0]), "w2": np.zeros(3), "u": np.array([1.0, 0.0, 0.0, 0.0])}
    x = np.array([[0.5, 2.0, -1.0, 3.0]])  # filter 1 copies x: h = (0.5, 2, 0, 3); pool 1 takes x₂
    _, g = toy.loss_and_grad("convnet", theta, x, np.zeros(1), lam=0.0)
    # p = 2, dL/dp = 4; dL/dw1 = 4 · (x₁, x₂, x₃) = the window around position 2 only
    np.testing.assert_allclose(g["w1"], 4 * np.array([0.5, 2.0, -1.0]))
    np.testing.assert_allclose(g["u"], 4 * np.array([2.0, 3.0, 0.0, 0.0]))


def test_zero_initialisation_gives_zero_gradients_forever():
    """docs/theory.md: with u, w₁, w₂ = 0 every gradient is exactly 0, so SGD never moves."""
    theta = {"w1": np.zeros(3), "w2": np.zeros(3), "u": np.zeros(4)}
    x, y = np.random.default_rng(0).uniform(-2.5, 2.5, (50, 4)), np.ones(50)
    loss, g = toy.loss_and_grad("convnet", theta, x, y, lam=1e-3)
    assert loss == pytest.approx(1.0)
    assert all(np.all(v == 0.0) for v in g.values())
    ref = jax.grad(ref_loss, argnums=1)("convnet", {k: jnp.asarray(v) for k, v in theta.items()}, x, y, 1e-3)
    assert all(np.all(np.asarray(v) == 0.0) for v in ref.values())
    # only u = 0 (w random): u still gets a gradient, so the symmetry is broken after one step
    theta["w1"] = np.array([0.3, -0.2, 0.5])
    assert np.any(toy.loss_and_grad("convnet", theta, x, y, lam=0.0)[1]["u"] != 0)


def test_the_module_uses_numpy_only():
    assert imported_packages(toy) <= {"numpy", "__future__"}


def test_data_follow_the_sheet():
    d = toy.make_data(0)
    x, y, xt, yt = d["max"]
    assert x.shape == (1000, 4) and xt.shape == (200, 4) and np.abs(x).max() <= 2.5
    assert np.abs(d["W"]).max() <= 2.0
    np.testing.assert_allclose(y / x.max(1), 1.0, atol=0.06)          # 1 % noise, multiplicative
    np.testing.assert_allclose(d["sum"][1] / (x @ d["W"].T).sum(1), 1.0, atol=0.06)


def test_sgd_fits_the_linear_target_with_the_linear_model():
    theta, hist = toy.train("linear", toy.make_data(0)["sum"], epochs=20, lr=0.01, lam=0.0)
    assert hist["test"][-1] < 0.05 * hist["test"][0]
    w_sum = toy.make_data(0)["W"].sum(0)  # y₁ = Σᵢ(Wx)ᵢ = (column sums of W)·x
    np.testing.assert_allclose(theta["w"], w_sum, atol=0.05)
