"""Experiment outputs: staged while a run works, moved into ``artifacts/<name>/`` when it succeeds.

A run that fails or is interrupted leaves the previous artifacts untouched. A run that succeeds
replaces the folder as a whole (the staging folder is swapped into place atomically), so no file of
an earlier run that this one did not write survives to be mistaken for a result; only the working
folders in ``KEEP`` (checkpoints, the quick runs' folder) and files the user put there (what the
folder's ``MANIFEST`` of jexp's files does not name) move over. One run at a time writes an
experiment's folder (``exclusive``), and ``recover`` repairs what a killed one left half-swapped.
JSON is strict: NaN/inf become ``null``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


CHECKOUT = Path(__file__).resolve().parents[2]  # the folder holding the jexp package (a clone, when installed -e)


def committed(relative: str | os.PathLike) -> Path:
    """A committed artifact named from the checkout's root (``artifacts/digits/digits.h5``): the one
    under the current folder when there is one (a run of your own), else the checkout's own, so that
    every command that needs a committed model finds it from any folder. Where neither exists, the
    relative path (the error then names what to run)."""
    here = Path(relative)
    if here.exists() or here.is_absolute():
        return here
    theirs = CHECKOUT / here
    return theirs if theirs.exists() else here


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
            write_atomic(self.staging / MANIFEST, dumps(sorted(self.files)) + "\n")
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
        """The staging folder becomes ``self.dir`` with no instant where neither is there: an atomic
        exchange of the two (Linux's renameat2), then the working folders (``KEEP``) move from the
        old results, now at the staging path, into the new ones. A kill in between leaves the new
        results in place and the working folders at the staging path, which ``recover`` moves back.
        Where the exchange is not available, the old folder is renamed aside first; ``recover``
        puts it back if the process dies before the new one is in place."""
        if not self.dir.exists():
            os.replace(self.staging, self.dir)
            return [self.dir / name for name in self.files]
        foreign = _foreign(self.dir, self.files)
        if _exchange(self.staging, self.dir):
            _move_keep(self.staging, self.dir, self.files, foreign)
            shutil.rmtree(self.staging, ignore_errors=True)
        else:
            old = Path(tempfile.mkdtemp(dir=self.dir.parent, prefix=f".{self.dir.name}.old."))
            os.replace(self.dir, old / "run")
            _move_keep(old / "run", self.staging, self.files, foreign)
            os.replace(self.staging, self.dir)
            shutil.rmtree(old, ignore_errors=True)
        return [self.dir / name for name in self.files]

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


MANIFEST = ".jexp-files.json"  # the files a run wrote into its folder: anything else there is the user's


def _foreign(folder: Path, written) -> list[str]:
    """Files and folders in ``folder`` that no jexp run wrote (not in its manifest, not a working
    folder) and this run does not write: the user's, kept through the swap. A folder without a
    manifest (from before manifests) has none that can be told apart."""
    try:
        listed = set(json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError):
        return []
    return sorted(n for n in os.listdir(folder)
                  if n not in listed and n not in KEEP and n != MANIFEST and n not in written and not n.startswith("."))


def _move_keep(src: Path, dst: Path, written=(), foreign=()) -> None:
    """The working folders (``KEEP``) and the user's files (``foreign``) of ``src`` into ``dst``,
    unless ``dst`` has them or wrote them."""
    for name in (*KEEP, *foreign):
        if (src / name).exists() and not (dst / name).exists() and name not in written:
            os.replace(src / name, dst / name)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap the paths ``a`` and ``b`` (renameat2 with RENAME_EXCHANGE); False where the
    system or the file system does not offer it."""
    import ctypes
    import sys
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: not offered here
        return False
    raise OSError(err, os.strerror(err), str(b))


def recover(directory: str | os.PathLike) -> list[str]:
    """Put right what a process killed while committing to ``directory`` left (call it only while
    holding ``exclusive``, so that no live process owns the leftovers): results renamed aside and
    not replaced are put back, working folders left at a staging path move back in, and the
    leftover folders are removed. Returns one line per repair, for the user."""
    d = Path(directory)
    done = []
    if not d.parent.is_dir():
        return done
    for old in sorted(d.parent.glob(f".{d.name}.old.*")):
        if (old / "run").is_dir():
            if not d.exists():
                os.replace(old / "run", d)
                done.append(f"restored {d} from an interrupted swap")
            else:
                _move_keep(old / "run", d)
        shutil.rmtree(old, ignore_errors=True)
    for staging in sorted(d.parent.glob(f".{d.name}.staging.*")):
        if d.exists() and any((staging / k).exists() and not (d / k).exists() for k in KEEP):
            _move_keep(staging, d)
            done.append(f"moved the checkpoints of an interrupted swap back into {d}")
        shutil.rmtree(staging, ignore_errors=True)
    return done


class Busy(RuntimeError):
    """Another process is writing the same experiment's folder; the message is one line."""


@contextlib.contextmanager
def exclusive(directory: str | os.PathLike):
    """Hold the lock of experiment folder ``directory`` (``.NAME.lock`` beside it) for a run: a
    second process asking for it gets ``Busy`` at once, naming the first one's pid. The lock
    goes with the process (flock), so a killed run never leaves it held."""
    import fcntl
    d = Path(directory)
    d.parent.mkdir(parents=True, exist_ok=True)
    path = d.parent / f".{d.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise Busy(f"{d} is being written by another jexp run (pid {pid}); wait for it to finish, or stop it, "
                       "then run again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


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
