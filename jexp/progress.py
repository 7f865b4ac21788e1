"""A small thread-safe progress bar on stderr (one line, redrawn in place on a terminal)."""
from __future__ import annotations

import sys
import threading
import time


class Progress:
    def __init__(self, total: int, desc: str = "", stream=None, width: int = 28, enabled: bool = True):
        self.total, self.desc, self.width, self.enabled = max(total, 1), desc, width, enabled
        self.stream = stream or sys.stderr
        self.done, self.note = 0, ""
        self.start = time.perf_counter()
        self._lock = threading.Lock()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._draw()

    def update(self, n: int = 1, note: str | None = None) -> None:
        with self._lock:
            self.done = min(self.done + n, self.total)
            if note is not None:
                self.note = note
            self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        frac = self.done / self.total
        eta = f"{elapsed / frac - elapsed:5.1f}s" if frac > 0 else "?"
        bar = "█" * int(frac * self.width) + "·" * (self.width - int(frac * self.width))
        line = (f"{self.desc} |{bar}| {self.done}/{self.total} "
                f"[{elapsed:5.1f}s elapsed, {eta} left] {self.note}")
        if self._tty:
            self.stream.write("\r" + line[:160] + "\033[K")
        else:  # a log file: one line per update
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
