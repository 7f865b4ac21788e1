"""Experiment configs on the command line and in config.json: typed ``--KEY=VALUE`` overrides, each
field's type, default and meaning (the comment after it in the source, found along the class's
bases), a config back from its JSON, and its hash."""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import io
import textwrap
import tokenize
import typing

from jexp.experiments.base import UsageError
from jexp.io import artifacts


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


# what a value may be, by the field's name (first match; one place for every experiment's config):
# (names or name endings, lowest, lowest allowed itself, highest)
BOUNDS = (
    (("_prob", "fraction", "label_smoothing", "unsure_below", "min_confidence", "broken_below"), 0.0, True, 1.0),
    (("lr", "learning_rate", "learning_rates"), 0.0, False, None),
    (("batch_size", "epochs", "depth", "depths", "hidden", "width", "restarts", "seeds", "n_samples", "n_many", "crop",
      "pgd_steps", "k"), 1, True, None),
    (("seed", "weight_decay", "l2", "eps", "eps_grid", "pgd_eps", "alpha", "lam", "thickness_max", "class_weight",
      "_size", "_sizes", "_count", "_samples", "samples", "scan_copies", "_frames", "_faces", "patience",
      "warmup_epochs", "shown", "sample", "_steps", "halve_after"), 0, True, None),
)


def bounds(name: str) -> tuple | None:
    """(lowest, lowest allowed, highest) for config field ``name``, or None when any value goes."""
    for names, lo, closed, hi in BOUNDS:
        if any(name == n or (n.startswith("_") and name.endswith(n)) for n in names):
            return lo, closed, hi
    return None


def bounds_text(name: str) -> str:
    """The bounds in words, for --help: "> 0", "≥ 1", "in [0, 1]"; "" when there are none."""
    b = bounds(name)
    if b is None:
        return ""
    lo, closed, hi = b
    return f"in [{lo:g}, {hi:g}]" if hi is not None else f"{'≥' if closed else '>'} {lo:g}"


def _check(key: str, value) -> None:
    """A UsageError unless every number of ``value`` is finite and within ``bounds(key)``."""
    import math
    b = bounds(key.replace("-", "_"))
    for v in (value if isinstance(value, tuple) else (value,)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise UsageError(f"--{key}={v}: must be a finite number")
        if b is not None:
            lo, closed, hi = b
            if v < lo or (v == lo and not closed) or (hi is not None and v > hi):
                raise UsageError(f"--{key}={v:g}: must be {bounds_text(key.replace('-', '_'))}")


def with_overrides(config_cls, overrides: dict[str, str], base: dict | None = None):
    """``config_cls`` with ``base`` values, then string ``overrides`` parsed to the field types and
    checked against their ``bounds``."""
    hints = typing.get_type_hints(config_cls)
    fields = [f.name for f in dataclasses.fields(config_cls)]
    values = dict(base or {})
    for key, value in overrides.items():
        k = key.replace("-", "_")
        if k not in fields:
            raise UsageError(f"unknown config key --{key}; valid keys: {', '.join(fields)}")
        values[k] = _parse(value, hints[k], key)
        _check(key, values[k])
    try:
        return config_cls(**values)
    except ValueError as e:  # a config that checks its values (e.g. the attack settings) refused them
        raise UsageError(str(e)) from None


def type_name(typ) -> str:
    """``int``, ``float``, ``str``, ``bool``; a tuple type as ``int,…``."""
    if typing.get_origin(typ) is tuple:
        return f"{type_name(typing.get_args(typ)[0])},…"
    return getattr(typ, "__name__", str(typ))


def _comments(cls) -> dict[str, str]:
    """{field: the comment after it} for the fields a class itself declares."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments, out = {}, {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.end_lineno in comments:
            out[node.target.id] = comments[node.end_lineno]
    return out


def config_fields(config_cls) -> list[tuple[str, str, object, str]]:
    """(name, type name, default, meaning) for every field; the meaning is the comment after the
    field where the class declares it, else where the nearest base class does (a subclass that only
    changes a default keeps its base's meaning)."""
    meaning: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__):
        if dataclasses.is_dataclass(cls):
            meaning.update(_comments(cls))
    hints = typing.get_type_hints(config_cls)
    return [(f.name, type_name(hints[f.name]), f.default, meaning.get(f.name, ""))
            for f in dataclasses.fields(config_cls)]


def introduced_by(config_cls) -> dict[str, type]:
    """{field: the class among ``config_cls`` and its bases that first declared it} (a subclass that
    only changes a default does not own the field)."""
    out: dict[str, type] = {}
    for cls in reversed(config_cls.__mro__):
        for name in getattr(cls, "__annotations__", {}):
            out.setdefault(name, cls)
    return out


def config_from_json(config_cls, values: dict):
    """``config_cls`` from the ``config`` of a run's config.json (JSON lists back to tuples)."""
    hints = typing.get_type_hints(config_cls)

    def back(v, typ):
        if typing.get_origin(typ) is tuple and isinstance(v, list):
            item = typing.get_args(typ)[0]
            return tuple(back(x, item) for x in v)
        return v
    return config_cls(**{k: back(v, hints[k]) for k, v in values.items() if k in hints})


def config_hash(cfg) -> str:
    return hashlib.sha256(artifacts.dumps(cfg).encode()).hexdigest()[:12]
