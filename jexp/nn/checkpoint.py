"""Orbax checkpoints of training state, with resume.

A checkpoint holds the leaves of a pytree (PRNG keys as their raw data) and a dict of numpy
arrays (e.g. the metric history so far). ``restore_latest`` rebuilds the pytree from a template
of the same structure, so a run resumed from epoch k continues bitwise as if never stopped.

Every step is sealed: a SHA-256 of its arrays is written beside it (``sha256-STEP.txt``), and the
last two steps are kept. A step that cannot be read or whose arrays no longer match their seal
(a flipped byte, a truncated or deleted file) is never resumed from: ``restore_latest`` says so in
one line, removes it, and falls back to the step before, or to none (training starts afresh).

Several processes (``jexp.runtime.distributed``): each process's orbax works on its own, the
job's training checkpoints are saved by process 0 alone (the caller asks ``distributed.writes``),
and on restore process 0 chooses the step (removing damaged ones) and the others read that step.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys

import jax
import numpy as np

from jexp.runtime import distributed


KEEP = 2  # steps kept: a damaged last one falls back to the one before


def _seal_path(directory, step: int) -> str:
    return os.path.join(directory, f"sha256-{step}.txt")


def digest(leaves, extra: dict) -> str:
    """SHA-256 over the arrays in order (dtype, shape and bytes of each), ``extra`` by sorted key."""
    h = hashlib.sha256()
    for a in list(leaves) + [extra[k] for k in sorted(extra)]:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _manager(directory, create: bool):
    import orbax.checkpoint as ocp
    me = jax.process_index()  # each process on its own: no barrier waits for processes that do not save
    if create:  # orbax refuses to create it itself for a subset of processes
        os.makedirs(directory, exist_ok=True)
    opts = ocp.CheckpointManagerOptions(max_to_keep=KEEP, create=False, enable_async_checkpointing=False,
                                        multiprocessing_options=ocp.options.MultiprocessingOptions(
                                            primary_host=me, active_processes={me},
                                            barrier_sync_key_prefix=f"jexp-process-{me}"))
    return ocp.CheckpointManager(os.path.abspath(directory), options=opts)


def save(directory, step: int, tree, extra: dict[str, np.ndarray] | None = None) -> None:
    """Save ``tree`` (and ``extra`` arrays) as checkpoint ``step`` in ``directory``, atomically."""
    import orbax.checkpoint as ocp
    leaves = [np.asarray(jax.random.key_data(x) if _is_key(x) else x) for x in jax.tree.leaves(tree)]
    item = {"leaves": leaves, "extra": {k: np.asarray(v) for k, v in (extra or {}).items()}}
    mgr = _manager(directory, create=True)
    mgr.save(step, args=ocp.args.StandardSave(item), force=True)
    mgr.wait_until_finished()
    kept = set(mgr.all_steps())
    mgr.close()
    seal, tmp = _seal_path(directory, step), _seal_path(directory, step) + ".tmp"
    with open(tmp, "w") as f:
        f.write(digest(item["leaves"], item["extra"]) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, seal)
    for name in os.listdir(directory):  # the seals of steps orbax no longer keeps
        if name.startswith("sha256-") and name.endswith(".txt") and name[7:-4].isdigit() and int(name[7:-4]) not in kept:
            os.remove(os.path.join(directory, name))


def latest_step(directory) -> int | None:
    """The newest step in ``directory`` (not checked: see ``restore_latest``), None if none or unreadable."""
    if not os.path.isdir(directory):
        return None
    try:
        mgr = _manager(directory, create=False)
        step = mgr.latest_step()
        mgr.close()
    except Exception:  # noqa: BLE001 - a damaged folder; restore_latest reports it
        return None
    return step


def _read_sound(directory):
    """(step, item) of the newest step of ``directory`` that reads and matches its seal, removing
    the damaged ones above it (each reported in one line); None if there is none."""
    import orbax.checkpoint as ocp
    try:
        mgr = _manager(directory, create=False)
        steps = sorted(mgr.all_steps(), reverse=True)
    except Exception as e:  # noqa: BLE001 - whatever orbax raises on a damaged folder
        _warn(f"checkpoint folder {directory} cannot be read ({_why(e)}); starting afresh")
        shutil.rmtree(directory, ignore_errors=True)
        return None
    try:
        for i, step in enumerate(steps):
            problem = None
            try:
                item = mgr.restore(step, args=ocp.args.StandardRestore())  # as saved: no orbax warning
                seal = _seal_path(directory, step)
                if os.path.exists(seal):  # steps saved before seals existed are taken as they read
                    with open(seal) as f:
                        if f.read().strip() != digest(item["leaves"], dict(item.get("extra", {}))):
                            problem = "its arrays do not match their SHA-256 seal"
            except Exception as e:  # noqa: BLE001 - a truncated or missing file, broken metadata
                problem = _why(e)
            if problem is None:
                return step, item
            later = f"falling back to epoch {steps[i + 1]}" if i + 1 < len(steps) else "starting afresh"
            _warn(f"checkpoint {directory} epoch {step} is damaged ({problem}); {later}")
            shutil.rmtree(os.path.join(directory, str(step)), ignore_errors=True)
            if os.path.exists(_seal_path(directory, step)):
                os.remove(_seal_path(directory, step))
        return None
    finally:
        mgr.close()


def _why(e: BaseException) -> str:
    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return line if len(line) <= 160 else line[:157] + "..."


def _warn(message: str) -> None:
    print(f"jexp: warning: {message}", file=sys.stderr, flush=True)


def restore_latest(directory, template):
    """(step, tree, extra) from the newest sound checkpoint in ``directory`` (see the module's
    docstring), or None if there is none. ``template`` gives the tree's structure, leaf shapes and
    which leaves are PRNG keys."""
    if distributed.count() > 1:  # process 0 chooses (and cleans up); the others read its step
        found = _read_sound(directory) if distributed.writes() and os.path.isdir(directory) else None
        step = distributed.agree(-1 if found is None else found[0])
        if step < 0:
            return None
        if found is None:
            import orbax.checkpoint as ocp
            mgr = _manager(directory, create=False)
            found = step, mgr.restore(step, args=ocp.args.StandardRestore())
            mgr.close()
    elif not os.path.isdir(directory):
        return None
    else:
        found = _read_sound(directory)
    if found is None:
        return None
    step, item = found
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
