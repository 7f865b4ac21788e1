"""The derivative ranges stated in docs/theory.md, checked numerically with jax.grad."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jexp.nn import activations


def derivative(name, lo=-60.0, hi=60.0):
    """The derivative on a dense grid (and at 0), in float64 so the bounds are tested exactly."""
    with jax.enable_x64(True):
        x = jnp.concatenate([jnp.linspace(lo, hi, 200_001, dtype=jnp.float64), jnp.zeros(1, jnp.float64)])
        return np.asarray(x), np.asarray(jax.vmap(jax.grad(activations.get(name)))(x))


def test_lecun_formula():
    np.testing.assert_allclose(activations.lecun(jnp.array([0.0, 1.5, -3.0])),
                               1.7159 * np.tanh(2 * np.array([0.0, 1.5, -3.0]) / 3) + 0.01 * np.array([0.0, 1.5, -3.0]),
                               rtol=1e-6)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "lecun"])
def test_smooth_derivative_ranges(name):
    lo, hi = activations.DERIVATIVE_RANGE[name]
    x, d = derivative(name)
    assert d.max() <= hi * (1 + 1e-12)
    np.testing.assert_allclose(d[-1], hi, rtol=1e-12)          # the supremum is attained at x = 0
    assert d.min() >= lo                                       # the infimum is approached in the tails ...
    assert d.min() - lo < 1e-9
    _, inner = derivative(name, -15.0, 15.0)
    assert inner.min() > lo                                    # ... and not attained at any finite x


def test_stated_numbers():
    assert activations.DERIVATIVE_RANGE["sigmoid"] == (0.0, 0.25)
    assert round(activations.DERIVATIVE_RANGE["lecun"][1], 4) == 1.1539
    assert activations.DERIVATIVE_RANGE["lecun"][0] == 0.01


def test_relu_derivative_is_zero_or_one():
    x, d = derivative("relu")
    assert set(np.unique(d)) == {0.0, 1.0}
    assert np.all(d[x > 0] == 1) and np.all(d[x < 0] == 0)


def test_switch_matches_each_activation():
    x = jnp.linspace(-3, 3, 13)
    names = ("relu", "tanh", "sigmoid", "lecun")
    for i, n in enumerate(names):
        np.testing.assert_array_equal(activations.switch(names, jnp.int32(i), x), activations.get(n)(x))
    with pytest.raises(ValueError, match="unknown activation"):
        activations.get("swish")
