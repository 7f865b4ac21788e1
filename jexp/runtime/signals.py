"""SIGTERM handled as Ctrl-C is: what `kill`, `timeout`, a scheduler or a container stop sends
stops a command cleanly (its staging folder removed, a recording finalised, a summary printed),
because ``install`` makes it raise ``Terminated``, a ``KeyboardInterrupt``, in the main thread."""
from __future__ import annotations

import signal
import threading


class Terminated(KeyboardInterrupt):
    """The process was sent SIGTERM."""


def _raise(signum, frame):
    raise Terminated()


def install() -> None:
    """Make SIGTERM raise ``Terminated`` (only from the main thread, where signals are delivered)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise)


def name(e: KeyboardInterrupt) -> str:
    """How the user stopped the process, in words."""
    return "SIGTERM" if isinstance(e, Terminated) else "Ctrl-C"
