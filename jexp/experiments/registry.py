"""Which experiments there are, and the code each one runs.

An experiment is a module ``jexp/experiments/<name>.py`` with a docstring (first line: what it
shows; then the command, the setting and where its result is), a frozen dataclass ``Config`` (one
comment per field: its meaning), a dict ``QUICK`` of overrides for a smoke run (seconds to minutes),
``run(cfg, ctx)`` (``ctx``: ``jexp.experiments.base.Context``) and ``results_md(cfg, metrics)``, the
results page as a function of the config and metrics.json alone. Optional: ``FIGURES`` (shown in the
README), ``NOT_RUN`` (the README's note before a first full run), ``SKIP_WITHOUT_DATA``.
"""
from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

from jexp.experiments.base import UsageError

EXPERIMENTS = ("ex1b", "ex1c", "ex1d", "digits", "toyconv", "mnist3", "lrsweep", "autoencoder", "ee599_backprop",
               "fashion_confusion", "fashion_weights", "humanmachine", "adversarial", "adversarial_cifar", "robust",
               "robust_cifar", "emotion", "svhn")
PACKAGE = Path(__file__).resolve().parents[1]  # the jexp package


def names() -> tuple[str, ...]:
    return EXPERIMENTS


def load(name: str):
    """The module of experiment ``name``."""
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)} (see `jexp list`)")
    return importlib.import_module(f"jexp.experiments.{name}")


def describe(module) -> str:
    """The first line of an experiment's docstring: what it shows."""
    return (module.__doc__ or "").strip().splitlines()[0]


def code_version(name: str) -> str:
    """A hash of the code a run of ``name`` executes: every module of the jexp package except the
    other experiments' scripts. Checkpoints are keyed on it (and the config), so that after a code
    change or an upgrade a run trains afresh instead of resuming, or re-reporting, stale state."""
    load(name)
    others = {PACKAGE / "experiments" / f"{n}.py" for n in EXPERIMENTS if n != name}
    h = hashlib.sha256()
    for f in sorted(set(PACKAGE.rglob("*.py")) - others):
        h.update(f.relative_to(PACKAGE).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]
