"""SVHN cropped digits (format 2) in the original MATLAB files of the Stanford site.

``train_32x32.mat`` (73,257 digits), ``test_32x32.mat`` (26,032) and, optionally, ``extra_32x32.mat``
(531,131), in ``<data dir>/svhn/``. Each is a MATLAB v5 file (read with ``scipy.io.loadmat``) holding
``X``, uint8 of shape 32×32×3×N, and ``y``, N×1, with labels 1–10 where **10 means the digit 0**
(the original convention); ``load`` maps 10 → 0. A missing file is fetched through
tensorflow-datasets' download manager, its size and sha256 checked against the figures tfds itself
records for these URLs; offline, one line names the file and the folder it belongs in. Shapes,
dtypes and labels are checked, so a wrong or truncated file is one clear error.
"""
from __future__ import annotations

import io
import os

import numpy as np

from jexp.data import datasets, files

FOLDER = "svhn"
URL = "http://ufldl.stanford.edu/housenumbers/"
CLASSES = tuple(str(d) for d in range(10))
FILES = {  # sizes and sha256 as tensorflow_datasets/datasets/svhn_cropped/checksums.tsv records them
    "train": files.FileSpec("train_32x32.mat", 182040794,
                            "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8", (URL + "train_32x32.mat",)),
    "test": files.FileSpec("test_32x32.mat", 64275384,
                           "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b", (URL + "test_32x32.mat",)),
    "extra": files.FileSpec("extra_32x32.mat", 1329278602,
                            "a133a4beb38a00fcdda90c9489e0c04f900b660ce8a316a5e854838379a71eb3", (URL + "extra_32x32.mat",)),
}


def parse_mat(raw: bytes, where: str = "SVHN .mat file") -> datasets.Split:
    """The bytes of one ``*_32x32.mat`` file → (float32 NHWC images in [0, 1], int32 digits 0–9)."""
    from scipy import io as sio
    try:
        m = sio.loadmat(io.BytesIO(raw))
    except Exception as e:  # truncated, not MATLAB, MATLAB 7.3 (HDF5)…
        raise files.DataError(f"corrupt data file {where}: scipy cannot read it as a MATLAB file "
                              f"({str(e).splitlines()[0][:120]})") from None
    x, y = m.get("X"), m.get("y")
    if x is None or y is None:
        raise files.DataError(f"corrupt data file {where}: no X and y arrays (found {', '.join(k for k in m if not k.startswith('__'))})")
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise files.DataError(f"corrupt data file {where}: X is {x.dtype} {x.shape}, expected uint8 32×32×3×N")
    y = np.asarray(y).reshape(-1)
    if len(y) != x.shape[3]:
        raise files.DataError(f"corrupt data file {where}: {len(y)} labels for {x.shape[3]} images")
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise files.DataError(f"corrupt data file {where}: labels {y.min()}–{y.max()}, expected 1–10 (10 is the digit 0)")
    return datasets.Split(datasets.to_float(x.transpose(3, 0, 1, 2)), (y % 10).astype(np.int32))


def write_mat(path: str | os.PathLike, images: np.ndarray, digits: np.ndarray) -> None:
    """Write uint8 (N, 32, 32, 3) images and digits 0–9 in the original layout (X 32×32×3×N, y N×1
    with 0 stored as 10), e.g. tiny synthetic files for tests."""
    from scipy import io as sio
    digits = np.asarray(digits)
    sio.savemat(path, {"X": np.asarray(images, np.uint8).transpose(1, 2, 3, 0),
                       "y": np.where(digits == 0, 10, digits).astype(np.uint8)[:, None]})


def load(root: str | os.PathLike | None = None, *, extra: bool = False, download: bool = True) -> datasets.Dataset:
    """SVHN from ``<root>/svhn/``: train (plus extra when asked) and test."""
    folder = files.data_dir(root) / FOLDER
    roles = ("train", "test") + (("extra",) if extra else ())
    try:
        parts = {r: parse_mat(files.read_verified(FILES[r], folder / FILES[r].name, download), str(folder / FILES[r].name))
                 for r in roles}
    except files.MissingData as e:  # one line for all the missing files, not only the first
        missing = [FILES[r].name for r in roles if not (folder / FILES[r].name).exists()]
        failed = str(e).partition("download failed: ")[2]
        raise files.MissingData(f"missing SVHN files in {folder}/: put {', '.join(missing)} there (from {URL}; or pass "
                                f"--data-dir / set {files.DATA_ENV})" + (f"; download failed: {failed}" if failed else "")
                                ) from None
    train = parts["train"]
    if extra:
        train = datasets.Split(np.concatenate([train.x, parts["extra"].x]), np.concatenate([train.y, parts["extra"].y]))
    return datasets.Dataset("svhn", train, parts["test"], CLASSES)
