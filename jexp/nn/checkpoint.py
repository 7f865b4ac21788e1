"""Orbax checkpoints of training state, with resume.

A checkpoint holds the leaves of a pytree (PRNG keys as their raw data) and a dict of numpy
arrays (e.g. the metric history so far). ``restore_latest`` rebuilds the pytree from a template
of the same structure, so a run resumed from epoch k continues bitwise as if never stopped.
"""
from __future__ import annotations

import os

import jax
import numpy as np


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _manager(directory, create: bool):
    import orbax.checkpoint as ocp
    opts = ocp.CheckpointManagerOptions(max_to_keep=1, create=create, enable_async_checkpointing=False)
    return ocp.CheckpointManager(os.path.abspath(directory), options=opts)


def save(directory, step: int, tree, extra: dict[str, np.ndarray] | None = None) -> None:
    """Save ``tree`` (and ``extra`` arrays) as checkpoint ``step`` in ``directory``, atomically."""
    import orbax.checkpoint as ocp
    leaves = [np.asarray(jax.random.key_data(x) if _is_key(x) else x) for x in jax.tree.leaves(tree)]
    item = {"leaves": leaves, "extra": {k: np.asarray(v) for k, v in (extra or {}).items()}}
    mgr = _manager(directory, create=True)
    mgr.save(step, args=ocp.args.StandardSave(item), force=True)
    mgr.wait_until_finished()
    mgr.close()


def latest_step(directory) -> int | None:
    if not os.path.isdir(directory):
        return None
    mgr = _manager(directory, create=False)
    step = mgr.latest_step()
    mgr.close()
    return step


def restore_latest(directory, template):
    """(step, tree, extra) from the newest checkpoint in ``directory``, or None if there is none.
    ``template`` gives the tree's structure, leaf shapes and which leaves are PRNG keys."""
    step = latest_step(directory)
    if step is None:
        return None
    import orbax.checkpoint as ocp
    mgr = _manager(directory, create=False)
    item = mgr.restore(step, args=ocp.args.StandardRestore())  # the args it was saved with: no orbax warning
    mgr.close()
    t_leaves, treedef = jax.tree.flatten(template)
    leaves = item["leaves"]
    if len(leaves) != len(t_leaves):
        raise ValueError(f"checkpoint {directory} does not match this model ({len(leaves)} leaves, "
                         f"expected {len(t_leaves)}); use a fresh directory")
    out = []
    for saved, like in zip(leaves, t_leaves):
        if _is_key(like):
            saved = jax.random.wrap_key_data(saved, impl=jax.random.key_impl(like))
        elif np.shape(saved) != np.shape(like):
            raise ValueError(f"checkpoint {directory} does not match this model (shape "
                             f"{np.shape(saved)} vs {np.shape(like)}); use a fresh directory")
        out.append(saved)
    return step, jax.tree.unflatten(treedef, out), dict(item.get("extra", {}))
