"""Experiment outputs: staged while a run works, moved into ``artifacts/<name>/`` when it succeeds.

A run that fails or is interrupted leaves the previous artifacts untouched; each file is put in
place with ``os.replace`` (atomic on one file system). JSON is strict: NaN/inf become ``null``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def to_jsonable(obj):
    """numpy/JAX values, tuples and dataclasses as plain JSON types; non-finite floats -> None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
        arr = np.asarray(obj)
        return to_jsonable(arr.tolist()) if arr.ndim else to_jsonable(arr.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (bool, int, str)) or obj is None:
        return obj
    return str(obj)


def dumps(obj) -> str:
    return json.dumps(to_jsonable(obj), indent=1, allow_nan=False) + "\n"


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; artifacts are ordinary files
    os.replace(tmp, path)


class Artifacts:
    """Files of one experiment run. Written to a staging folder; ``commit`` moves them in place."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(dir=self.dir.parent, prefix=f".{self.dir.name}.staging."))
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        """A staging path for a file that some other writer (e.g. h5py) will create."""
        self.files.append(name)
        return self.staging / name

    def json(self, name: str, obj) -> None:
        write_atomic(self.path(name), dumps(obj))

    def text(self, name: str, text: str) -> None:
        write_atomic(self.path(name), text)

    def figure(self, name: str, fig) -> None:
        import matplotlib.pyplot as plt
        fig.savefig(self.path(name), dpi=110, bbox_inches="tight")
        plt.close(fig)

    def commit(self) -> list[Path]:
        self.dir.mkdir(parents=True, exist_ok=True)
        done = []
        for name in self.files:
            if (self.dir / name).is_dir():  # a folder artifact (an orbax checkpoint) is replaced whole
                shutil.rmtree(self.dir / name)
            os.replace(self.staging / name, self.dir / name)
            done.append(self.dir / name)
        self.discard()
        return done

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def md_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(h.replace("|", "\\|") for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pct(mean: float, std: float | None = None, digits: int = 1) -> str:
    """A fraction as a percentage, with ± std when given: 0.93, 0.004 -> '93.0 ± 0.4'."""
    if mean is None or not math.isfinite(mean):
        return "diverged"
    s = f"{100 * mean:.{digits}f}"
    return s if std is None else f"{s} ± {100 * std:.{digits}f}"
