"""The human-vs-machine classifier: per-run dropout and L2 (jexp.nn.sequence_mlp)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jexp.nn import sequence_mlp


def test_dropout_rate_is_chosen_per_run_and_off_at_evaluation():
    model = sequence_mlp.SeqMLP(20, (0.0, 0.5))
    params = model.init(jax.random.key(0), jnp.zeros((1, 20)))["params"]
    x = jnp.ones((64, 20))
    plain = model.apply({"params": params}, x)
    np.testing.assert_array_equal(model.apply({"params": params}, x, 0, jax.random.key(1)), plain)
    assert not np.allclose(model.apply({"params": params}, x, 1, jax.random.key(1)), plain)


def test_l2_is_a_per_run_hyper_parameter():
    tx = sequence_mlp.optimizer("sgd", 0.1)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    zero = {"w": jnp.zeros(3)}
    upd, _ = tx.update(zero, state, params)
    np.testing.assert_array_equal(upd["w"], 0.0)
    state = state._replace(hyperparams={**state.hyperparams, "l2": jnp.asarray(0.5)})
    upd, _ = tx.update(zero, state, params)
    np.testing.assert_allclose(upd["w"], -0.1 * 0.5)  # −lr · l2 · w
    assert sequence_mlp.bce(jnp.array([0.0]), None, jnp.array([1])) == pytest.approx(np.log(2))
    assert isinstance(tx, optax.GradientTransformation)
