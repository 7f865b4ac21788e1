"""Numeric checks of docs/theory.md's convnet-sheet answers (the zero-init one is in test_toy.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jexp.nn import theory


@pytest.fixture(autouse=True)
def float64():
    """jax in float64 for this module's tests only."""
    with jax.enable_x64(True):
        yield


def test_sigmoid_backprop_through_its_graph_equals_jax_grad_and_s_times_1_minus_s():
    x = np.linspace(-30, 30, 601)
    s, ds = theory.sigmoid_graph(x)
    np.testing.assert_allclose(s, jax.nn.sigmoid(x), rtol=1e-12)
    # absolute tolerance: for large x the references compute 1 − σ with cancellation, e^(−x)/c² does not
    np.testing.assert_allclose(ds, jax.vmap(jax.grad(jax.nn.sigmoid))(jnp.asarray(x)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ds, s * (1 - s), rtol=1e-12, atol=1e-15)
    assert np.all(ds > 0) and ds.max() == 0.25  # at x = 0


def test_learnable_threshold_adds_no_function_beyond_relu():
    rng = np.random.default_rng(0)
    for _ in range(20):
        w1, b1, t = rng.normal(size=(5, 7)), rng.normal(size=7), rng.normal(size=7) * 2
        w2, b2 = rng.normal(size=(7, 3)), rng.normal(size=3)
        x = rng.normal(size=(50, 5)) * 3
        out = theory.threshold_net(x, w1, b1, t, w2, b2)
        np.testing.assert_allclose(theory.relu_net(x, *theory.equivalent_relu_net(w1, b1, t, w2, b2)), out,
                                   rtol=1e-12, atol=1e-12)
        # and t = 0 is the ReLU network itself
        np.testing.assert_array_equal(theory.threshold_net(x, w1, b1, 0 * t, w2, b2), theory.relu_net(x, w1, b1, w2, b2))
