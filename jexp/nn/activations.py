"""Activation functions by name, and a switch that picks one of several at run time.

``lecun`` is LeCun's scaled tanh with a small linear term, LeCun(x) = 1.7159·tanh(2x/3) + 0.01x
("Efficient BackProp", 1998). Derivative ranges (checked numerically in tests/test_activations.py,
derived in docs/theory.md): relu' ∈ {0, 1}, tanh' ∈ (0, 1], sigmoid' ∈ (0, 1/4],
lecun' ∈ (0.01, 1.7159·2/3 + 0.01] = (0.01, 1.15393].
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def lecun(x):
    return 1.7159 * jnp.tanh(2.0 * x / 3.0) + 0.01 * x


ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "lecun": lecun,
    "elu": jax.nn.elu,
    "linear": lambda x: x,
}

# (inf, sup) of each derivative over the reals, and whether each bound is attained.
DERIVATIVE_RANGE = {
    "relu": (0.0, 1.0),
    "tanh": (0.0, 1.0),
    "sigmoid": (0.0, 0.25),
    "lecun": (0.01, 1.7159 * 2.0 / 3.0 + 0.01),
}


def get(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


def switch(names: tuple[str, ...], index, x):
    """``ACTIVATIONS[names[index]](x)`` for a traced ``index``: vmapping over ``index`` trains
    models with different activations in one program (each candidate is computed, one is kept)."""
    if len(names) == 1:
        return get(names[0])(x)
    out = get(names[-1])(x)
    for i in range(len(names) - 2, -1, -1):
        out = jnp.where(index == i, get(names[i])(x), out)
    return out
