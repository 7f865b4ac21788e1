"""Where a compiled program spends its time: per-kernel times from JAX's profiler.

``kernel_times(fn, *args)`` calls ``fn(*args)`` under ``jax.profiler`` and adds up, by name, the time
of every kernel XLA ran (a matmul, a fused elementwise loop, a concatenation, a copy…): the trace's
events named after an instruction of the compiled program, except loops and calls, whose events
contain their kernels'. ``fn`` is a jitted function (or a ``Compiled`` one); call it once before, so
that compiling is not in the trace. ``by_kind`` groups the names as in ``KINDS``.

    >>> step = jax.jit(train_step); step(*args)            # compile first
    >>> times = profiling.kernel_times(step, *args)         # {name: (seconds, calls)}
    >>> profiling.by_kind(times)                            # {"matmul": s, "concatenate": s, …}
"""
from __future__ import annotations

import collections
import gzip
import json
import re
import tempfile
from pathlib import Path

import jax

# kernel-name prefixes of each kind (XLA's CPU backend names a kernel after its root operation)
KINDS = {"matmul": ("dot", "ynn_fusion", "xnn_fusion", "onednn", "convolution", "custom-call"),
         "concatenate": ("concatenate",), "copy": ("copy", "transpose")}
_CONTAINERS = ("while", "conditional", "call", "async-start", "async-done")
_NOT_RUN = ("parameter", "get-tuple-element", "tuple", "bitcast", "constant")


def _events(folder: Path) -> list[dict]:
    files = sorted(folder.rglob("*perfetto_trace.json.gz"))
    if not files:
        raise RuntimeError(f"the JAX profiler wrote no perfetto trace under {folder}")
    trace = json.loads(gzip.open(files[-1]).read())
    return trace["traceEvents"] if isinstance(trace, dict) else trace


def computations(hlo_text: str) -> dict[str, dict[str, str]]:
    """{computation name: {instruction name: opcode}} of an HLO module's text."""
    out: dict[str, dict[str, str]] = {}
    body = None
    for line in hlo_text.splitlines():
        if body is None and line.endswith("{") and not line.startswith(" "):
            body = out.setdefault(line.split()[1 if line.startswith("ENTRY") else 0].lstrip("%"), {})
        elif line == "}":
            body = None
        elif body is not None:
            body.update(instructions(line))
    return out


def instructions(hlo_text: str) -> dict[str, str]:
    """{instruction name: opcode} of an HLO module's text."""
    out = {}
    for m in re.finditer(r"^\s*(?:ROOT )?%?([\w.\-]+) = .*?\b([a-z][\w\-]*)\(", hlo_text, re.M):
        out[m.group(1)] = m.group(2)
    return out


def loop_kernels(hlo_text: str) -> int:
    """How many kernels one iteration of the program's largest loop runs: the instructions of its
    body that execute (not parameters, tuple plumbing, bitcasts or constants)."""
    comps = computations(hlo_text)
    bodies = set(re.findall(r"body=%?([\w.\-]+)", hlo_text)) & comps.keys()
    return max((sum(op not in _NOT_RUN for op in comps[b].values()) for b in bodies), default=0)


def kernel_times(fn, *args) -> dict[str, tuple[float, int]]:
    """{kernel name: (seconds, calls)} of one call ``fn(*args)``, most time first."""
    compiled = fn if hasattr(fn, "as_text") else fn.lower(*args).compile()
    kernels = {k for k, op in instructions(compiled.as_text()).items() if op not in _CONTAINERS}
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            jax.block_until_ready(fn(*args))
        events = _events(Path(tmp))
    spans = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and e.get("name") in kernels:
            spans[e["name"]].append((e["ts"], e["ts"] + e["dur"]))
    out = {name: _union(s) for name, s in spans.items()}
    return dict(sorted(out.items(), key=lambda kv: -kv[1][0]))


def _union(spans: list[tuple[float, float]]) -> tuple[float, int]:
    """(seconds, runs) covered by microsecond spans: a kernel split over threads counts once."""
    seconds, runs, end = 0.0, 0, -float("inf")
    for a, b in sorted(spans):
        if a >= end:
            runs += 1
            seconds += b - a
        elif b > end:
            seconds += b - end
        end = max(end, b)
    return seconds * 1e-6, runs


def kind(name: str) -> str:
    """"matmul", "concatenate", "copy" or "fused loop" (everything else: elementwise, reductions…)."""
    for k, prefixes in KINDS.items():
        if name.startswith(prefixes):
            return k
    return "fused loop"


def by_kind(times: dict[str, tuple[float, int]]) -> dict[str, float]:
    """Seconds per ``kind`` of kernel."""
    out = collections.Counter()
    for name, (seconds, _) in times.items():
        out[kind(name)] += seconds
    return dict(out)
