"""MNIST and Fashion-MNIST in their IDX files: the registry of the files with their sizes and sha256,
a strict parser of the IDX format, a writer (for synthetic test files) and ``load``.

>>> ds = load("mnist")                       # doctest: +SKIP
>>> ds.train.x.shape, ds.train.x.dtype       # doctest: +SKIP
((60000, 28, 28, 1), dtype('float32'))

Parsing is our own (tfds cannot build MNIST without TensorFlow); fetching and checking the files
is ``files.read_verified``.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from jexp.data.files import DataError, FileSpec, data_dir, read_verified
from jexp.data.datasets import Dataset, Split, to_float


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
