"""Progress bars: ``tqdm`` (rate, ETA; redrawn in place on a terminal, plain lines in a log, a
widget in a notebook), behind a lock so that parallel programs may tick one bar from many threads."""
from __future__ import annotations

import sys
import threading
import time

from tqdm.auto import tqdm


class Progress:
    """``update(n, note)`` adds ``n`` steps and shows ``note`` after the bar; usable as a context manager.
    The bar closes when its last step is done (not when the experiment ends). ``seconds`` is the time
    from the bar's start to its last step (what ``timing.json`` records)."""

    def __init__(self, total: int, desc: str = "", stream=None, enabled: bool = True):
        self._lock = threading.Lock()
        self.desc, self.total, self.done = desc, total, 0
        self.started = self.last = time.perf_counter()
        self.bar = tqdm(total=max(total, 1), desc=desc, file=stream or sys.stderr, disable=not enabled,
                        dynamic_ncols=True, leave=True)

    def update(self, n: int = 1, note: str | None = None) -> None:
        with self._lock:
            if note is not None:
                self.bar.set_postfix_str(note, refresh=False)
            self.bar.update(n)
            self.done += n
            self.last = time.perf_counter()
            if self.done >= self.total:  # its work is done: the bar closes now, its time stops here
                self.bar.close()

    def note(self, text: str) -> None:
        """Show ``text`` after the bar now, without a step (news from inside a long phase)."""
        with self._lock:
            self.bar.set_postfix_str(text)

    @property
    def seconds(self) -> float:
        return self.last - self.started

    def close(self) -> None:
        with self._lock:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
