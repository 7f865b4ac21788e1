"""The numpy MLP: hand-written gradients against jax.grad, numpy only, the schedule (jexp.nn.numpy_mlp)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import imported_packages
from jexp.nn import numpy_mlp


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_backward_matches_jax_grad(activation):
    rng = np.random.default_rng(0)
    params = [(w.astype(np.float64), b.astype(np.float64) + rng.normal(size=b.shape) * 0.1)
              for w, b in numpy_mlp.init((12, 9, 7, 4), rng)]
    x = rng.normal(size=(6, 12))
    y = np.eye(4)[[0, 1, 2, 3, 1, 2]]
    probs, cache = numpy_mlp.forward(params, x, activation)
    grads = numpy_mlp.backward(params, cache, probs, y, activation)

    def loss(ps):
        h = jnp.asarray(x)
        for i, (w, b) in enumerate(ps):
            z = h @ w + b
            h = (jax.nn.relu(z) if activation == "relu" else jnp.tanh(z)) if i < len(ps) - 1 else z
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(h) * y, axis=1))

    with jax.enable_x64(True):
        ref = jax.grad(loss)([(jnp.asarray(w), jnp.asarray(b)) for w, b in params])
        assert numpy_mlp.cross_entropy(probs, y) == pytest.approx(float(loss(params)), rel=1e-12)
    for (gw, gb), (rw, rb) in zip(grads, ref):
        np.testing.assert_allclose(gw, rw, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(gb, rb, rtol=1e-9, atol=1e-12)


def test_activation_derivatives_match_jax():
    z = np.linspace(-4, 4, 801) + 1e-3  # avoid relu's kink at exactly 0
    np.testing.assert_allclose(numpy_mlp.relu_grad(z), jax.vmap(jax.grad(jax.nn.relu))(z), atol=1e-7)
    np.testing.assert_allclose(numpy_mlp.tanh_grad(z), jax.vmap(jax.grad(jnp.tanh))(z), atol=1e-6)


def test_the_module_imports_numpy_only():
    assert imported_packages(numpy_mlp) <= {"numpy", "__future__"}


def test_sgd_learns_and_halves_the_rate_between_epochs_only():
    rng = np.random.default_rng(0)
    y_lab = rng.integers(0, 10, 400)
    x = rng.normal(0, 0.3, (400, 784)).astype(np.float32)
    x[np.arange(400), y_lab * 70] += 3.0  # one bright pixel per class
    y = np.eye(10, dtype=np.float32)[y_lab]
    params, hist = numpy_mlp.train(numpy_mlp.init((784, 16, 10), rng), x, y, "relu", 0.2, 6, 50, rng, halve_after=(2, 4),
                                   val=(x[:100], y[:100]))
    assert hist["lr"] == [0.2, 0.2, 0.1, 0.1, 0.05, 0.05]
    assert hist["train_acc"][-1] > 0.9 and hist["train_loss"][-1] < hist["train_loss"][0]
    with pytest.raises(ValueError, match="does not divide"):
        numpy_mlp.train(params, x, y, "relu", 0.1, 1, 64, rng)
