"""Data sets in their original file formats, read from a directory the user names.

The directory comes from ``--data-dir`` or the ``JEXP_DATA_DIR`` environment variable (default
``./data``) and holds one folder per data set, e.g. ``mnist/train-images-idx3-ubyte.gz``. Every
known file is checked against its published size and sha256. A missing file is fetched through
tensorflow-datasets' download manager when its host can be reached; offline, the error names the
file and the folder to put it in. Parsing is our own (tfds cannot build MNIST without TensorFlow).

>>> ds = load("mnist")                       # doctest: +SKIP
>>> ds.train.x.shape, ds.train.x.dtype       # doctest: +SKIP
((60000, 28, 28, 1), dtype('float32'))
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import struct
import sys
import urllib.parse
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATA_ENV = "JEXP_DATA_DIR"
NO_VERIFY_ENV = "JEXP_NO_VERIFY"  # "1": skip sha256 checks (e.g. synthetic test files)


class DataError(RuntimeError):
    """A data file is missing, corrupt or malformed. The message is one line for the user."""


class MissingData(DataError):
    """A data file is not there and could not be fetched (as opposed to present but corrupt)."""


@dataclass(frozen=True)
class FileSpec:
    name: str
    size: int | None = None
    sha256: str | None = None
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetSpec:
    folder: str
    files: dict[str, FileSpec]  # role ("train_x", ...) -> file
    classes: tuple[str, ...]


def _idx_files(base: str, sums: dict[str, tuple[int, str]]) -> dict[str, FileSpec]:
    roles = {"train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
             "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz"}
    return {role: FileSpec(name, *sums[name], urls=(base + name,)) for role, name in roles.items()}


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", _idx_files("https://storage.googleapis.com/cvdf-datasets/mnist/", {
        "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    }), tuple(str(d) for d in range(10))),
    "fashion_mnist": DatasetSpec("fashion_mnist", _idx_files(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", {
            "train-images-idx3-ubyte.gz": (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            "train-labels-idx1-ubyte.gz": (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            "t10k-images-idx3-ubyte.gz": (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            "t10k-labels-idx1-ubyte.gz": (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        }), ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
             "Bag", "Ankle boot")),
}


class Split(NamedTuple):
    x: np.ndarray  # float32 images, NHWC, in [0, 1]
    y: np.ndarray  # int32 labels


class Dataset(NamedTuple):
    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory: ``explicit``, else ``$JEXP_DATA_DIR``, else ``./data``."""
    return Path(explicit or os.environ.get(DATA_ENV) or "data").expanduser()


# --- files: find, fetch, verify -------------------------------------------------------------

def _reachable(url: str, timeout: float = 3.0) -> str | None:
    """None if ``url``'s host accepts a TCP connection, else a short reason (fast offline check:
    tfds itself retries a dead host for minutes)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return None
    except OSError as e:
        return f"cannot reach {parts.hostname}: {e.strerror or e.__class__.__name__}"


def fetch(spec: FileSpec, dest: Path) -> None:
    """Download ``spec`` to ``dest`` with tfds' download manager, checking size and sha256."""
    from tensorflow_datasets.core.download import checksums, download_manager
    reasons = []
    for url in spec.urls:
        if (why := _reachable(url)) is not None:
            reasons.append(why)
            continue
        infos = None
        if spec.sha256 and spec.size:
            infos = {url: checksums.UrlInfo(size=spec.size, checksum=spec.sha256, filename=spec.name)}
        tmp_dir = dest.parent / ".downloads"
        try:
            dm = download_manager.DownloadManager(download_dir=tmp_dir, url_infos=infos)
            got = Path(os.fspath(dm.download(url)))
        except Exception as e:  # HTTP errors, checksum mismatch, ...
            reasons.append(f"{url}: {str(e).splitlines()[0][:160]}")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(got, dest)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        return
    raise MissingData(f"missing data file {dest}: put {spec.name} in {dest.parent}/ "
                    f"(or pass --data-dir / set {DATA_ENV}); download failed: {'; '.join(reasons) or 'no URL known'}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified(spec: FileSpec, path: Path, download: bool = True) -> bytes:
    """The bytes of ``path``, fetched first if missing, checked against ``spec``'s size and sha256."""
    if not path.exists():
        if not download:
            raise MissingData(f"missing data file {path}: put {spec.name} in {path.parent}/ "
                            f"(or pass --data-dir / set {DATA_ENV})")
        fetch(spec, path)
    data = path.read_bytes()
    if os.environ.get(NO_VERIFY_ENV) == "1":
        print(f"jexp: note: {NO_VERIFY_ENV}=1: {path} is read without its size and sha256 checks",
              file=sys.stderr)
    else:
        if spec.size is not None and len(data) != spec.size:
            raise DataError(f"corrupt data file {path}: {len(data)} bytes, expected {spec.size} "
                            f"(truncated download? delete it and run again)")
        if spec.sha256 is not None and sha256(data) != spec.sha256:
            raise DataError(f"corrupt data file {path}: sha256 mismatch (delete it and run again)")
    return data


# --- the IDX format ---------------------------------------------------------------------------

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, where: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes (gzipped or not) into an array, refusing anything malformed or truncated."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"corrupt data file {where}: bad gzip stream ({e})") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES:
        raise DataError(f"corrupt data file {where}: not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"corrupt data file {where}: truncated header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(f"corrupt data file {where}: {len(data)} bytes after gunzip, "
                        f"expected {expected} for shape {shape}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` (uint8 or int32) as a gzipped IDX file, e.g. to make synthetic test data.
    The bytes depend on ``array`` and the file name alone (gzip's timestamp is 0), so a file written
    twice has one checksum."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[np.asarray(array).dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = np.asarray(array).astype(">i4" if code == 0x0C else np.uint8).tobytes()
    with open(path, "wb") as raw, gzip.GzipFile(os.path.basename(path), "wb", fileobj=raw, mtime=0) as f:
        f.write(header + body)


# --- data sets --------------------------------------------------------------------------------

def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W[, C]) -> float32 NHWC in [0, 1]."""
    x = np.divide(images, np.float32(255), dtype=np.float32)  # one pass; equals astype, then /= 255
    return x[..., None] if x.ndim == 3 else x


def load(name: str, root: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """Load an IDX data set ("mnist" or "fashion_mnist") as float32 NHWC images and int32 labels."""
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    folder = data_dir(root) / spec.folder
    paths = {role: folder / f.name for role, f in spec.files.items()}
    for role, f in spec.files.items():  # fetch what is missing first, one file at a time
        if not paths[role].exists():
            read_verified(f, paths[role], download)

    def decode(role):  # gunzip and casts release the GIL: the four files decode in parallel
        raw = parse_idx(read_verified(spec.files[role], paths[role], download), str(paths[role]))
        return to_float(raw) if role.endswith("_x") and raw.ndim == 3 else raw

    with ThreadPoolExecutor(4) as pool:
        arrays = dict(zip(paths, pool.map(decode, paths)))
    splits = []
    for part in ("train", "test"):
        x, y = arrays[f"{part}_x"], arrays[f"{part}_y"]
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"corrupt data set {folder}: {part} images {x.shape} vs labels {y.shape}")
        if y.size and y.max() >= len(spec.classes):
            raise DataError(f"corrupt data set {folder}: label {y.max()} out of range")
        splits.append(Split(x, y.astype(np.int32)))
    return Dataset(name, splits[0], splits[1], spec.classes)


def split(key, data: Split, val_size: int) -> tuple[Split, Split]:
    """Deterministic (train, validation) split of ``data`` from a PRNG key."""
    import jax
    if not 0 <= val_size < len(data.y):
        raise ValueError(f"val_size {val_size} must be in [0, {len(data.y)})")
    perm = np.asarray(jax.random.permutation(key, len(data.y)))
    val, train = perm[:val_size], perm[val_size:]
    return Split(data.x[train], data.y[train]), Split(data.x[val], data.y[val])


def subset(data: Split, n: int | None) -> Split:
    """The first ``n`` examples (all when ``n`` is None or 0)."""
    return data if not n else Split(data.x[:n], data.y[:n])
