"""Running one experiment: its config from the command line, the context the script gets, the
staged artifacts folder swapped in when the run succeeds, checkpoints keyed on config and code,
and the run's timing.json.

Outputs go to ``artifacts/<name>/`` (``--quick``: ``artifacts/<name>/quick/``). In a job of several
processes (``jexp.runtime.distributed``) process 0 alone locks, writes and swaps that folder; every
other process runs the same program with a scratch folder of its own, deleted at the end, and all
wait for each other once the results are in place.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jax

from jexp.cli import configs, report
from jexp.data import files
from jexp.experiments import registry
from jexp.io import artifacts
from jexp.runtime import compile_cache, distributed, progress, timing


@dataclass
class Context:
    """What a run needs besides its config (see ``jexp.experiments.base``)."""
    name: str
    out: artifacts.Artifacts
    data_dir: Path
    ckpt_dir: Path | None
    quick: bool = False
    show_progress: bool = True
    out_root: Path = Path("artifacts")
    bars: list = dataclasses.field(default_factory=list)  # every progress bar of the run, for timing.json

    def earlier(self, name: str) -> Path | None:
        """The folder of experiment ``name``'s run beside this one (same output root, quick or not)
        when it exists and a run of ``name`` now would reproduce it: the same code
        (``registry.code_version``), jax and backend; the caller compares the config. None with
        ``--fresh``."""
        folder = self.out_root / name / ("quick" if self.quick else "")
        try:
            saved = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            return None
        same = (saved.get("experiment") == name and saved.get("quick") == self.quick
                and saved.get("code") == registry.code_version(name) and saved.get("jax") == jax.__version__
                and saved.get("backend") == jax.default_backend() and (folder / "metrics.json").exists())
        return folder if same and self.ckpt_dir is not None else None

    def progress(self, total: int, desc: str = "") -> progress.Progress:
        bar = progress.Progress(total, desc or self.name, enabled=self.show_progress)
        self.bars.append(bar)
        return bar

    def checkpoints(self, sub: str) -> str | None:
        return None if self.ckpt_dir is None else str(self.ckpt_dir / sub)


def run(name: str, overrides: dict[str, str] | None = None, *, quick: bool = False, data_dir=None,
        out_root="artifacts", resume: bool = True, show_progress: bool = True) -> Path:
    """Run experiment ``name``; returns its artifacts folder."""
    t0 = time.perf_counter()
    module = registry.load(name)
    cfg = configs.with_overrides(module.Config, overrides or {}, module.QUICK if quick else None)
    out_dir = Path(out_root) / name / ("quick" if quick else "")
    code = registry.code_version(name)
    ckpt = out_dir / "checkpoints" / f"{configs.config_hash(cfg)}-{code}" if resume else None
    writer = distributed.writes()
    scratch = None if writer else Path(tempfile.mkdtemp(prefix="jexp-scratch-"))  # another process's files
    with artifacts.exclusive(Path(out_root) / name) if writer else contextlib.nullcontext():  # one run at a time
        for folder in (Path(out_root) / name, Path(out_root) / name / "quick") if writer else ():
            for line in artifacts.recover(folder):
                print(f"jexp: note: {line}", file=sys.stderr, flush=True)
        resumed = ckpt is not None and ckpt.exists() and any(ckpt.iterdir())
        events = compile_cache.events()
        cache_before = dict(events)
        out, ctx = artifacts.Artifacts(out_dir if writer else scratch / name), None
        try:
            ctx = Context(name, out, files.data_dir(data_dir), ckpt, quick, show_progress, Path(out_root))
            out.json("config.json", {"experiment": name, "quick": quick, "config": cfg, "code": code,
                                     "jax": jax.__version__, "backend": jax.default_backend()})
            module.run(cfg, ctx)
            cache = {k: events[k] - cache_before.get(k, 0) for k in events}
            out.json("timing.json", timing.timing(time.perf_counter() - t0, ctx.bars, resumed, cache))
            results = out.staging / "results.md"
            if quick and results.exists():  # a smoke run must not read as a result
                out.text("results.md", report.quick_banner(name, cfg, module.Config()) + results.read_text())
            if writer:
                out.commit()
            distributed.barrier(f"jexp run {name}: results in place")  # the next run reads what this one wrote
        finally:
            out.discard()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            for bar in ctx.bars if ctx is not None else []:  # none spills into the next experiment
                bar.close()
    return out_dir

