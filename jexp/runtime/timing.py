"""A run's timing.json: its wall time, the time of each progress bar, the machine, and how many
compilations JAX's persistent cache answered. Times vary from run to run and machine to machine:
they are kept apart from metrics.json."""
from __future__ import annotations

from jexp.runtime import machine


def timing(seconds: float, bars, resumed: bool, cache: dict | None = None) -> dict:
    """A run's timing.json: its wall time, the time of each progress bar (training phases, in the
    order they started; bars of the same name added up), the machine and JAX's devices. ``resumed``: the run
    continued from checkpoints, so the epochs trained before are not in these times. ``cache``:
    how many compilations asked JAX's persistent cache, and how many it answered (a warm cache
    skips compiling). Times vary from run to run and machine to machine: they are kept apart from
    metrics.json."""
    phases: dict[str, dict] = {}
    for bar in bars:
        p = phases.setdefault(bar.desc, {"seconds": 0.0, "steps": 0})
        p["seconds"] += bar.seconds
        p["steps"] += bar.done
    return {"seconds": round(seconds, 1), "machine": machine.describe(), "devices": machine.devices(), "resumed": resumed,
            "compile_cache": cache or {"requests": 0, "hits": 0},
            "phases": [{"name": k, "seconds": round(v["seconds"], 1), "steps": v["steps"]} for k, v in phases.items()]}
