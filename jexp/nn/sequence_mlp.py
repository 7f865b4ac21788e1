"""The human-vs-machine sequence classifier (EE599): an MLP 20 → hidden → 1 logit with per-run
dropout rates, its binary cross-entropy and accuracy, and optimisers with a per-run L2 term, for
``jexp.nn.train.Trainer``. The data are ``jexp.data.sequences``.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax


class SeqMLP(nn.Module):
    """20 → ``hidden`` ReLU → 1 logit; ``hidden=0`` is logistic regression. Dropout on the hidden
    layer with the rate ``rates[variant]`` (traced, so runs with different rates share one vmap)."""
    hidden: int = 20
    rates: tuple[float, ...] = (0.0,)

    @nn.compact
    def __call__(self, x, variant=0, key=None):
        if self.hidden:
            x = nn.relu(nn.Dense(self.hidden, name="hidden")(x))
            if key is not None:
                rate = jnp.asarray(self.rates)[variant]
                keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
                x = jnp.where(keep, x / (1.0 - rate), 0.0)
        return nn.Dense(1, name="output")(x)[:, 0]


def forward_fn(model: SeqMLP):
    def forward(params, model_state, x, variant, key=None):
        return model.apply({"params": params}, x, variant, key), model_state
    return forward


def bce(logit, x, y):
    return optax.sigmoid_binary_cross_entropy(logit, y.astype(logit.dtype))


def correct(logit, x, y):
    return ((logit > 0) == (y == 1)).astype(jnp.float32)


def optimizer(name: str, learning_rate: float) -> optax.GradientTransformation:
    """``name`` ∈ sgd, momentum, adam, rmsprop, with an L2 term ``l2``·w added to the gradient
    (the gradient of l2/2·‖w‖²); ``learning_rate`` and ``l2`` are per-run hyper-parameters."""
    base = {"sgd": optax.sgd, "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
            "adam": optax.adam, "rmsprop": optax.rmsprop}[name]
    return optax.inject_hyperparams(lambda learning_rate, l2: optax.chain(
        optax.add_decayed_weights(l2), base(learning_rate)))(learning_rate=learning_rate, l2=0.0)
