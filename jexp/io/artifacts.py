"""Experiment outputs: staged while a run works, moved into ``artifacts/<name>/`` when it succeeds.

A run that fails or is interrupted leaves the previous artifacts untouched. A run that succeeds
replaces the folder as a whole (the staging folder is renamed into place), so no file of an earlier
run that this one did not write survives to be mistaken for a result; only the working folders in
``KEEP`` (checkpoints, the quick runs' folder) move over. JSON is strict: NaN/inf become ``null``.
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


def as_saved(obj):
    """``obj`` as it reads back from its JSON file (lists, None for NaN): what results pages are made from."""
    return json.loads(dumps(obj))


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts are ordinary files
        os.replace(tmp, path)
    except BaseException:  # a full disk, an interrupt: the old file stays, no half-written one beside it
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def npz_bytes(arrays: dict) -> bytes:
    """``arrays`` as the bytes of an LZMA-compressed ``.npz`` (``numpy.load`` decompresses it)."""
    import io
    import zipfile

    import numpy as np
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_LZMA) as z:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)
    return buf.getvalue()


KEEP = ("checkpoints", "quick")  # working folders that outlive a run's results


class Artifacts:
    """Files of one experiment run. Written to a staging folder; ``commit`` swaps it in place of
    ``directory`` (``replace=False``: moves the files into it, keeping the others, for folders that
    collect results of many runs, e.g. ``eval_digits``)."""

    def __init__(self, directory: str | os.PathLike, replace: bool = True):
        self.dir, self.replace = Path(directory), replace
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(dir=self.dir.parent, prefix=f".{self.dir.name}.staging."))
        os.chmod(self.staging, 0o777 & ~_umask())  # mkdtemp makes 0700; it becomes the artifacts folder
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        """A staging path for a file that some other writer (e.g. h5py) will create."""
        self.files.append(name)
        return self.staging / name

    def json(self, name: str, obj) -> None:
        write_atomic(self.path(name), dumps(obj))

    def text(self, name: str, text: str) -> None:
        write_atomic(self.path(name), text)

    def arrays(self, name: str, **arrays) -> None:
        """An ``.npz`` of named numpy arrays that ``numpy.load`` reads back, LZMA-compressed (about 10 %
        smaller than numpy's deflate on float32 images) and with fixed timestamps, so the same arrays
        make the same bytes."""
        write_atomic(self.path(name), npz_bytes(arrays))

    def figure(self, name: str, fig) -> None:
        import matplotlib.pyplot as plt
        fig.savefig(self.path(name), dpi=110, bbox_inches="tight")
        plt.close(fig)

    def commit(self) -> list[Path]:
        if self.replace:
            return self._swap()
        self.dir.mkdir(parents=True, exist_ok=True)
        done = []
        for name in self.files:
            if (self.dir / name).is_dir():  # a folder artifact (an orbax checkpoint) is replaced whole
                shutil.rmtree(self.dir / name)
            os.replace(self.staging / name, self.dir / name)
            done.append(self.dir / name)
        self.discard()
        return done

    def _swap(self) -> list[Path]:
        old = None
        if self.dir.exists():
            old = Path(tempfile.mkdtemp(dir=self.dir.parent, prefix=f".{self.dir.name}.old."))
            os.replace(self.dir, old / "run")
            for name in KEEP:
                if (old / "run" / name).exists() and name not in self.files:
                    os.replace(old / "run" / name, self.staging / name)
        os.replace(self.staging, self.dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return [self.dir / name for name in self.files]

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


def with_interval(value: float | None, interval, fmt: str = ".2f", scale: float = 1.0) -> str:
    """A figure with its interval, both × ``scale``: 1.234, (1.1, 1.31) -> '1.23 [1.10, 1.31]';
    '–' for no figure, the figure alone for no interval."""
    if value is None:
        return "–"
    text = format(scale * value, fmt)
    return text if interval is None else f"{text} [{format(scale * interval[0], fmt)}, {format(scale * interval[1], fmt)}]"
