"""Many processes and many hosts through JAX's own distributed runtime (``jax.distributed``).

Every process runs the same program (JAX's multi-controller model): each computes the same host
values from the same seed, the run axis of a many-run program is sharded over the devices of all
processes (``jexp.nn.train.shard_runs``: each process feeds its own shard), and what comes back to
the host is gathered with ``gather``, so that every process holds the same results. Process 0 alone
writes artifacts and training checkpoints (``writes``); the others write only into a scratch folder
of their own that is deleted (see ``jexp.cli.runner``), and resume from the checkpoint process 0
chose (``agree``).

Set up by ``jexp run NAME --coordinator HOST:PORT --num-processes N --process-id I`` (or the
environment variables in ``ENV``), or ``--coordinator auto`` where JAX finds them itself (SLURM,
Open MPI, Cloud TPU). On CPUs the collectives go through gloo. ``docs/scale.md`` says how to launch.
"""
from __future__ import annotations

import os

import jax
import numpy as np

ENV = {"coordinator": "JEXP_COORDINATOR", "num_processes": "JEXP_NUM_PROCESSES", "process_id": "JEXP_PROCESS_ID"}


class SetupError(ValueError):
    """A distributed set-up that cannot work (said in one line)."""


def settings(coordinator: str | None = None, num_processes: int | None = None,
             process_id: int | None = None) -> dict | None:
    """The set-up from the flags, else from ``ENV``; None for a single process. Checked: a
    HOST:PORT coordinator (or "auto"), 1 ≤ num_processes, 0 ≤ process_id < num_processes."""
    given = {"coordinator": coordinator, "num_processes": num_processes, "process_id": process_id}
    for k, var in ENV.items():
        if given[k] is None and os.environ.get(var, "") != "":
            given[k] = os.environ[var]
    if given["coordinator"] is None:
        if given["num_processes"] is not None or given["process_id"] is not None:
            raise SetupError("--num-processes and --process-id need --coordinator HOST:PORT (or auto)")
        return None
    if given["coordinator"] == "auto":
        if given["num_processes"] is not None or given["process_id"] is not None:
            raise SetupError("--coordinator auto finds the processes itself; leave out --num-processes and --process-id")
        return {"coordinator": "auto"}
    host, _, port = str(given["coordinator"]).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SetupError(f"--coordinator must be HOST:PORT (e.g. 10.0.0.1:1234) or auto, not {given['coordinator']!r}")
    try:
        n, i = int(given["num_processes"]), int(given["process_id"])
    except (TypeError, ValueError):
        raise SetupError("--coordinator HOST:PORT needs --num-processes N and --process-id I (whole numbers)") from None
    if n < 1 or not 0 <= i < n:
        raise SetupError(f"--process-id must be in 0-{n - 1} with --num-processes {n}, not {i}")
    return {"coordinator": str(given["coordinator"]), "num_processes": n, "process_id": i}


def initialize(setup: dict | None, timeout_s: int = 300, shutdown_s: int = 60) -> None:
    """Join the job described by ``settings`` (nothing for a single process). Must come before any
    JAX computation; waits up to ``timeout_s`` for the other processes to join. A process that
    ends waits up to ``shutdown_s`` for the others; past it (one failed) JAX ends them all."""
    if setup is None:
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU devices of several processes
    where = {} if setup["coordinator"] == "auto" else dict(
        coordinator_address=setup["coordinator"], num_processes=setup["num_processes"],
        process_id=setup["process_id"])
    jax.distributed.initialize(**where, initialization_timeout=timeout_s, shutdown_timeout_seconds=shutdown_s)


def count() -> int:
    """How many processes run this job."""
    return jax.process_count()


def writes() -> bool:
    """Whether this process writes the job's files: process 0 only."""
    return jax.process_index() == 0


def gather(tree):
    """``tree`` with every array spread over other processes' devices fetched whole to this host (a
    collective: every process must call it, in the same order); other leaves are returned as they are."""
    def whole(a):
        if not isinstance(a, jax.Array) or a.is_fully_addressable:
            return a
        from jax.experimental import multihost_utils
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            impl = jax.random.key_impl(a)
            return jax.random.wrap_key_data(np.asarray(multihost_utils.process_allgather(
                jax.random.key_data(a), tiled=True)), impl=impl)
        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return jax.tree.map(whole, tree)


def barrier(name: str) -> None:
    """Wait until every process gets here (nothing with one process)."""
    if count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)


def place(tree, sharding):
    """``jax.device_put(tree, sharding)``; with several processes every leaf goes through the host
    first (the same values in every process, each putting its own devices' part), since a sharding
    over other processes' devices accepts host data only."""
    if count() == 1:
        return jax.device_put(tree, sharding)

    def put(a):
        a = gather(a)
        if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(jax.device_put(np.asarray(jax.random.key_data(a)), sharding),
                                            impl=jax.random.key_impl(a))
        return jax.device_put(np.asarray(a), sharding)
    return jax.tree.map(put, tree)


def agree(value: int) -> int:
    """Process 0's ``value`` (an int), in every process (a collective; itself with one process)."""
    if count() == 1:
        return int(value)
    from jax.experimental import multihost_utils
    return int(multihost_utils.broadcast_one_to_all(np.int32(value)))
