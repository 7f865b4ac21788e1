"""The MLP studies' model: structure, Keras' initialisers, one activation per run (jexp.nn.mlp)."""
import jax
import jax.numpy as jnp
import numpy as np

from jexp.nn import gradients, mlp


def test_mlp_structure_and_keras_default_init():
    model = mlp.MLP(depth=12, width=32)
    params = mlp.init_params(model, jax.random.key(0), (28, 28, 1))
    names = [n for n, _ in gradients.layers(params)]
    assert names == [f"hidden_{i}" for i in range(12)] + ["output"]
    assert params["params"]["hidden_0"]["kernel"].shape == (784, 32)
    assert params["params"]["output"]["kernel"].shape == (32, 10)
    for name, layer in gradients.layers(params):
        fan_in, fan_out = layer["kernel"].shape
        limit = np.sqrt(6 / (fan_in + fan_out))  # glorot-uniform
        assert np.abs(layer["kernel"]).max() <= limit
        assert np.abs(layer["kernel"]).max() > 0.9 * limit
        assert np.all(layer["bias"] == 0)
    assert model.apply(params, jnp.ones((3, 28, 28, 1))).shape == (3, 10)


def test_variant_picks_the_activation_exactly():
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    mixed = mlp.MLP(depth=3, activation=("relu", "tanh", "sigmoid"))
    params = mlp.init_params(mixed, jax.random.key(0), (28, 28, 1))
    for i, name in enumerate(("relu", "tanh", "sigmoid")):
        single = mlp.MLP(depth=3, activation=name)
        np.testing.assert_allclose(mixed.apply(params, x, jnp.int32(i)), single.apply(params, x), rtol=1e-6, atol=1e-7)
