"""Exact per-layer gradient statistics, computed with ``jax.grad`` on a fixed minibatch.

Layers are the parameter sub-trees that hold a ``kernel``, in model order. Model order is taken
from the layer names by natural sort (``hidden_2`` before ``hidden_10``), because JAX's tree
utilities sort dict keys as strings and so lose flax's creation order.
"""
from __future__ import annotations

import re

import jax
import jax.numpy as jnp


def natural_key(path: str):
    """Sort key that orders embedded numbers numerically: "Dense_2" < "Dense_10"."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def layers(params) -> list[tuple[str, dict]]:
    """(path, {"kernel": …, "bias": …}) for each layer of ``params``, in model order."""
    found = []

    def walk(tree, path):
        if isinstance(tree, dict) or hasattr(tree, "items"):
            if "kernel" in tree:
                found.append((path, tree))
                return
            for k, v in tree.items():
                walk(v, f"{path}/{k}" if path else k)

    walk(params.get("params", params), "")
    return sorted(found, key=lambda item: natural_key(item[0]))


def layer_max_abs(tree) -> dict[str, jax.Array]:
    """Per-layer max |kernel| and max |bias| of a params-shaped tree (e.g. gradients), in model
    order: {"kernel": [L], "bias": [L]} (bias is 0 for a layer without one)."""
    ls = layers(tree)
    return {
        "kernel": jnp.stack([jnp.max(jnp.abs(t["kernel"])) for _, t in ls]),
        "bias": jnp.stack([jnp.max(jnp.abs(t["bias"])) if "bias" in t else jnp.float32(0) for _, t in ls]),
    }


def layer_grad_max(loss_fn, params, *batch) -> dict[str, jax.Array]:
    """Per-layer max |∂L/∂W| and max |∂L/∂b| of ``loss_fn(params, *batch)`` (a scalar)."""
    return layer_max_abs(jax.grad(loss_fn)(params, *batch))
