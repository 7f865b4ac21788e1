"""JAX's persistent compilation cache for jexp's commands.

A second run of the same command loads its compiled XLA programs from disk instead of compiling
them again (on a small CPU, compiling is a large part of a short run: see the README's speed
section). A program loaded from the cache is the same program, so it computes the same bits
(tested across processes).

Where: ``$JAX_COMPILATION_CACHE_DIR`` when set (JAX's own variable), else ``$XDG_CACHE_HOME/jexp/xla``
(``~/.cache/jexp/xla``). ``JEXP_NO_COMPILE_CACHE=1`` turns it off. Only the commands enable it; a
notebook that imports jexp keeps JAX's own settings.
"""
from __future__ import annotations

import os
from pathlib import Path

OFF_ENV = "JEXP_NO_COMPILE_CACHE"


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jexp" / "xla"


def enable() -> str | None:
    """Turn the cache on (before the first compilation); returns its folder, or None when off."""
    if os.environ.get(OFF_ENV, "") not in ("", "0"):
        return None
    import jax
    path = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(default_dir())
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)  # JAX keeps only those over 1 s by default
    return path


_EVENTS: dict[str, int] = {}  # JAX's persistent-cache events over the process, once counting has begun


def events() -> dict[str, int]:
    """{"requests": compilations that asked the persistent cache, "hits": those it answered},
    counted over the process since the first call (which registers JAX's event listener); a run
    records the difference between its start and its end."""
    if not _EVENTS:
        import jax
        _EVENTS.update(requests=0, hits=0)

        def count(event: str, **_) -> None:
            if event == "/jax/compilation_cache/compile_requests_use_cache":
                _EVENTS["requests"] += 1
            elif event == "/jax/compilation_cache/cache_hits":
                _EVENTS["hits"] += 1
        jax.monitoring.register_event_listener(count)
    return _EVENTS
