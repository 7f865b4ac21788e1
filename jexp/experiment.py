"""Running experiments: the registry, typed config overrides, and the context a run gets.

An experiment is a module ``experiments/<name>.py`` with a docstring (first line: what it
shows), a frozen dataclass ``Config``, a dict ``QUICK`` of overrides for a tiny smoke run, and
``run(cfg, ctx)``. Outputs go to ``artifacts/<name>/`` (``--quick``: ``artifacts/<name>/quick/``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import textwrap
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from jexp import artifacts, data, progress, rng, train


class UsageError(ValueError):
    """Bad command-line input; the message is one line for the user."""


def names() -> tuple[str, ...]:
    return importlib.import_module("experiments").EXPERIMENTS


def load(name: str):
    if name not in names():
        raise UsageError(f"unknown experiment {name!r}; known: {', '.join(names())} (see `jexp list`)")
    return importlib.import_module(f"experiments.{name}")


def describe(module) -> str:
    return (module.__doc__ or "").strip().splitlines()[0]


def _parse(value: str, typ, key: str):
    origin = typing.get_origin(typ)
    try:
        if typ is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if origin is tuple:
            if value.strip() == "":
                raise ValueError
            (item, *_rest) = typing.get_args(typ)
            try:
                return tuple(_parse(v, item, key) for v in value.split(","))
            except UsageError:
                raise UsageError(f"--{key}={value}: expected comma-separated {item.__name__} values") from None
        return typ(value)
    except UsageError:
        raise
    except ValueError:
        raise UsageError(f"--{key}={value}: expected {getattr(typ, '__name__', typ)}") from None


def with_overrides(config_cls, overrides: dict[str, str], base: dict | None = None):
    """``config_cls`` with ``base`` values, then string ``overrides`` parsed to the field types."""
    hints = typing.get_type_hints(config_cls)
    fields = [f.name for f in dataclasses.fields(config_cls)]
    values = dict(base or {})
    for key, value in overrides.items():
        k = key.replace("-", "_")
        if k not in fields:
            raise UsageError(f"unknown config key --{key}; valid keys: {', '.join(fields)}")
        values[k] = _parse(value, hints[k], key)
    return config_cls(**values)


def type_name(typ) -> str:
    """``int``, ``float``, ``str``, ``bool``; a tuple type as ``int,…``."""
    if typing.get_origin(typ) is tuple:
        return f"{type_name(typing.get_args(typ)[0])},…"
    return getattr(typ, "__name__", str(typ))


def config_fields(config_cls) -> list[tuple[str, str, object, str]]:
    """(name, type name, default, the comment after the field in the source) for every field."""
    import ast
    import inspect
    import io
    import tokenize
    comments, lines = {}, {}
    try:
        source = textwrap.dedent(inspect.getsource(config_cls))
    except (OSError, TypeError):
        source = ""
    if source:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
        for node in ast.parse(source).body[0].body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                lines[node.target.id] = node.end_lineno
    hints = typing.get_type_hints(config_cls)
    return [(f.name, type_name(hints[f.name]), f.default, comments.get(lines.get(f.name), ""))
            for f in dataclasses.fields(config_cls)]


def config_from_json(config_cls, values: dict):
    """``config_cls`` from the ``config`` of a run's config.json (JSON lists back to tuples)."""
    hints = typing.get_type_hints(config_cls)

    def back(v, typ):
        if typing.get_origin(typ) is tuple and isinstance(v, list):
            item = typing.get_args(typ)[0]
            return tuple(back(x, item) for x in v)
        return v
    return config_cls(**{k: back(v, hints[k]) for k, v in values.items() if k in hints})


def results_from(name: str, folder) -> str:
    """The results page experiment ``name`` writes for the run saved in ``folder`` (its config.json
    and metrics.json): regenerates a committed results.md."""
    module, folder = load(name), Path(folder)
    cfg = config_from_json(module.Config, json.loads((folder / "config.json").read_text())["config"])
    return module.results_md(cfg, json.loads((folder / "metrics.json").read_text()))


def config_hash(cfg) -> str:
    return hashlib.sha256(artifacts.dumps(cfg).encode()).hexdigest()[:12]


def code_version(name: str) -> str:
    """A hash of the code a run of ``name`` executes: every module of the jexp package and the
    experiment's own script. Checkpoints are keyed on it (and the config), so that after a code
    change or an upgrade a run trains afresh instead of resuming, or re-reporting, stale state."""
    files = sorted(Path(__file__).resolve().parent.rglob("*.py")) + [Path(load(name).__file__).resolve()]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@dataclass
class Context:
    """What a run needs besides its config."""
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
        when it exists and a run of ``name`` now would reproduce it: the same code (``code_version``),
        jax and backend; the caller compares the config. None with ``--fresh``."""
        folder = self.out_root / name / ("quick" if self.quick else "")
        try:
            saved = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            return None
        same = (saved.get("experiment") == name and saved.get("quick") == self.quick
                and saved.get("code") == code_version(name) and saved.get("jax") == jax.__version__
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
    module = load(name)
    cfg = with_overrides(module.Config, overrides or {}, module.QUICK if quick else None)
    out_dir = Path(out_root) / name / ("quick" if quick else "")
    ckpt = out_dir / "checkpoints" / f"{config_hash(cfg)}-{code_version(name)}" if resume else None
    resumed = ckpt is not None and ckpt.exists() and any(ckpt.iterdir())
    cache_before = dict(_CACHE_EVENTS)
    out = artifacts.Artifacts(out_dir)
    try:
        ctx = Context(name, out, data.data_dir(data_dir), ckpt, quick, show_progress, Path(out_root))
        out.json("config.json", {"experiment": name, "quick": quick, "config": cfg, "code": code_version(name),
                                 "jax": jax.__version__, "backend": jax.default_backend()})
        module.run(cfg, ctx)
        cache = {k: _CACHE_EVENTS[k] - cache_before.get(k, 0) for k in _CACHE_EVENTS}
        out.json("timing.json", timing(time.perf_counter() - t0, ctx.bars, resumed, cache))
        out.commit()
    finally:
        out.discard()
    return out_dir


_CACHE_EVENTS = {"requests": 0, "hits": 0}  # JAX's persistent compilation cache, counted over the process


def _count_cache_event(event: str, **_) -> None:
    if event == "/jax/compilation_cache/compile_requests_use_cache":
        _CACHE_EVENTS["requests"] += 1
    elif event == "/jax/compilation_cache/cache_hits":
        _CACHE_EVENTS["hits"] += 1


jax.monitoring.register_event_listener(_count_cache_event)


def timing(seconds: float, bars, resumed: bool, cache: dict | None = None) -> dict:
    """A run's timing.json: its wall time, the time of each progress bar (training phases, in the
    order they started; bars of the same name added up) and the machine. ``resumed``: the run
    continued from checkpoints, so the epochs trained before are not in these times. ``cache``:
    how many compilations asked JAX's persistent cache, and how many it answered (a warm cache
    skips compiling). Times vary from run to run and machine to machine: they are kept apart from
    metrics.json."""
    from jexp import machine
    phases: dict[str, dict] = {}
    for bar in bars:
        p = phases.setdefault(bar.desc, {"seconds": 0.0, "steps": 0})
        p["seconds"] += bar.seconds
        p["steps"] += bar.done
    return {"seconds": round(seconds, 1), "machine": machine.describe(), "resumed": resumed,
            "compile_cache": cache or {"requests": 0, "hits": 0},
            "phases": [{"name": k, "seconds": round(v["seconds"], 1), "steps": v["steps"]} for k, v in phases.items()]}


# --- helpers shared by the MNIST experiments --------------------------------------------------

def image_data(dataset: str, ctx: Context, seed: int, train_size: int = 0, test_size: int = 0,
               probe_size: int = 256) -> tuple[data.Dataset, train.Data]:
    """Load ``dataset`` (first ``train_size``/``test_size`` examples when set) and its device arrays;
    the gradient-probe minibatch is drawn with ``seed``'s "probe" key (``jexp.rng``)."""
    ds = data.load(dataset, ctx.data_dir)
    ds = ds._replace(train=data.subset(ds.train, train_size), test=data.subset(ds.test, test_size))
    return ds, train.make_data(ds.train, ds.test, rng.key(seed, "probe"), probe_size)


def attack_samples(fixed, key, probs, labels, n: int, min_confidence: float, flag: str = "samples"):
    """The test indices to attack: ``fixed`` when given, else ``adversarial.pick_samples``; too few
    confident examples is a usage error naming the two flags that fix it."""
    from jexp import adversarial
    if len(fixed):
        return np.asarray(fixed)
    try:
        return adversarial.pick_samples(key, probs, labels, n, min_confidence)
    except ValueError as e:
        raise UsageError(f"{e}; lower --min_confidence or name test images with --{flag}=I,J,…") from None


def read_metrics(path) -> dict:
    return json.loads(Path(path).read_text())


def earlier_run(name: str, cfg, flag: str, keys: tuple[str, ...]) -> tuple[Path, dict, dict]:
    """(folder, saved config, metrics) of the earlier run of ``name`` in the folder ``getattr(cfg,
    flag)``, whose models a run re-evaluates instead of training them; its config must agree with
    ``cfg`` on every training setting in ``keys``, else a one-line usage error names the others."""
    folder = Path(getattr(cfg, flag))
    try:
        saved = json.loads((folder / "config.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"--{flag}={folder}: no readable config.json and metrics.json ({e})") from None
    differ = [k for k in keys if artifacts.to_jsonable(getattr(cfg, k)) != saved["config"].get(k)]
    if saved.get("experiment") != name or differ:
        raise UsageError(f"--{flag}={folder}: its models were trained with other settings "
                         f"({', '.join(differ) or f'not a {name} run'}); train afresh instead")
    return folder, saved, metrics
