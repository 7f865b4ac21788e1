"""Which machine a run or a timing came from, in words: artifacts record it next to every figure."""
from __future__ import annotations

import os
import platform


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``'s first "model name"), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe() -> str:
    """E.g. "AMD EPYC, 2 cores" on CPU, or "NVIDIA H100 80GB HBM3 (gpu; host AMD EPYC, 16 cores)"."""
    import jax
    host = f"{cpu_name()}, {os.cpu_count()} cores"
    if jax.default_backend() == "cpu":
        return host
    return f"{jax.devices()[0].device_kind} ({jax.default_backend()}; host {host})"


def devices() -> dict:
    """What JAX computes on: {"backend", "kind", "count", "processes"} (count: over all processes)."""
    import jax
    return {"backend": jax.default_backend(), "kind": jax.devices()[0].device_kind, "count": jax.device_count(),
            "processes": jax.process_count()}
