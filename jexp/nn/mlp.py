"""Flax linen models. Each is used as a pure function ``model.apply(params, x)``.

Initialisers follow Keras' defaults (glorot-uniform kernels, zero biases) so numbers compare with
the course's Keras solutions.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jexp.nn import activations

glorot = nn.initializers.glorot_uniform()
zeros = nn.initializers.zeros


class MLP(nn.Module):
    """``depth`` hidden Dense layers of ``width`` units, then a Dense output (logits).

    ``activation`` names one activation for all hidden layers, or a tuple of names; with a tuple,
    ``variant`` (an int, traceable) picks which, so one vmapped program can train all of them.
    Layers are named ``hidden_0 … hidden_{depth-1}``, ``output``.
    """
    depth: int
    width: int = 32
    activation: str | tuple[str, ...] = "relu"
    num_classes: int = 10

    @nn.compact
    def __call__(self, x, variant=0):
        names = (self.activation,) if isinstance(self.activation, str) else tuple(self.activation)
        x = x.reshape(x.shape[0], -1)
        for i in range(self.depth):
            x = nn.Dense(self.width, kernel_init=glorot, bias_init=zeros, name=f"hidden_{i}")(x)
            x = activations.switch(names, variant, x)
        return nn.Dense(self.num_classes, kernel_init=glorot, bias_init=zeros, name="output")(x)


def init_params(model: nn.Module, key, input_shape: tuple[int, ...]):
    """Parameters of ``model`` for inputs of ``input_shape`` (without the batch axis)."""
    return model.init(key, jnp.zeros((1, *input_shape), jnp.float32))
