"""Per-layer gradient statistics against central finite differences, in float64."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jexp.nn import gradients, mlp, train


def test_natural_order():
    names = ["Dense_10", "Dense_2", "Dense_0", "output", "hidden_11", "hidden_9"]
    assert sorted(names, key=gradients.natural_key) == ["Dense_0", "Dense_2", "Dense_10", "hidden_9", "hidden_11", "output"]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "lecun", "relu"])
def test_layer_grad_max_matches_finite_differences(activation):
    with jax.enable_x64(True):
        model = mlp.MLP(depth=3, width=4, activation=activation, num_classes=3)
        key_p, key_x = jax.random.split(jax.random.key(0))
        params = jax.tree.map(lambda a: a.astype(jnp.float64) + 0.05,
                              model.init(key_p, jnp.zeros((1, 5), jnp.float64)))
        x = jax.random.normal(key_x, (6, 5), jnp.float64)
        y = jnp.array([0, 1, 2, 0, 1, 2])

        def loss(p, x, y):
            return train.cross_entropy(model.apply(p, x), y).mean()

        got = gradients.layer_grad_max(loss, params, x, y)
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        f = jax.jit(lambda v: loss(unravel(v), x, y))
        eps = 1e-6
        fd = np.array([(f(flat.at[i].add(eps)) - f(flat.at[i].add(-eps))) / (2 * eps) for i in range(flat.size)])
        fd_tree = unravel(jnp.asarray(fd))
        want = {"kernel": [np.abs(t["kernel"]).max() for _, t in gradients.layers(fd_tree)],
                "bias": [np.abs(t["bias"]).max() for _, t in gradients.layers(fd_tree)]}
        assert got["kernel"].dtype == jnp.float64 and got["kernel"].shape == (4,)
        np.testing.assert_allclose(got["kernel"], want["kernel"], rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(got["bias"], want["bias"], rtol=1e-6, atol=1e-10)
