"""CIFAR-10 in its original binary format (``cifar-10-batches-bin/``), whatever subset is present.

Each file is a run of 3,073-byte records: one label byte, then 1,024 red, 1,024 green and 1,024
blue bytes (row-major 32×32). Training batches are ``data_batch_1.bin`` … ``data_batch_5.bin``;
the test batch is ``test_batch.bin``. Any ``test_batch*.bin`` is read as test data and any
``data_batch_*.bin`` as training data, so a partial copy (e.g. the first 1,000 test records
saved as ``test_batch_first1000.bin``) loads as it is; ``load`` reports which files it used.

The folder is ``<data dir>/cifar10/cifar-10-batches-bin/``. When it holds no training or no test
file, the original archive is fetched through tensorflow-datasets' download manager (size and
sha256 checked, as tfds records them) and unpacked; offline, one line says what to put where.
Every file is checked for whole records and labels 0-9.
"""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

import numpy as np

from jexp.data import datasets, files

FOLDER = "cifar10"
BATCHES = "cifar-10-batches-bin"
RECORD = 1 + 32 * 32 * 3
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ARCHIVE = files.FileSpec("cifar-10-binary.tar.gz", 170052171,
                         "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                         ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",))


def parse_batch(raw: bytes, where: str = "CIFAR-10 batch") -> datasets.Split:
    """Records → (float32 NHWC images in [0, 1], int32 labels); refuses partial records and bad labels."""
    if len(raw) == 0 or len(raw) % RECORD:
        raise files.DataError(f"corrupt data file {where}: {len(raw)} bytes is not a whole number of "
                              f"{RECORD}-byte CIFAR-10 records (truncated?)")
    rec = np.frombuffer(raw, np.uint8).reshape(-1, RECORD)
    labels = rec[:, 0]
    if labels.max() > 9:
        raise files.DataError(f"corrupt data file {where}: label {labels.max()} out of range 0-9 "
                              "(not a CIFAR-10 binary batch?)")
    images = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return datasets.Split(datasets.to_float(images), labels.astype(np.int32))


def write_batch(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray) -> None:
    """Write uint8 (N, 32, 32, 3) images and labels as one binary batch (e.g. synthetic test data)."""
    images = np.asarray(images, np.uint8)
    rec = np.concatenate([np.asarray(labels, np.uint8)[:, None], images.transpose(0, 3, 1, 2).reshape(len(images), -1)], 1)
    Path(path).write_bytes(rec.tobytes())


def batch_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(training files, test files) present in ``folder``, in name order."""
    key = lambda p: (len(p.name), p.name)  # data_batch_2 before data_batch_10
    return sorted(folder.glob("data_batch_*.bin"), key=key), sorted(folder.glob("test_batch*.bin"), key=key)


def _fetch(folder: Path) -> None:
    archive = folder.parent / ARCHIVE.name
    try:
        files.read_verified(ARCHIVE, archive)
    except files.DataError as e:
        raise files.DataError(f"no CIFAR-10 batches in {folder}/: put data_batch_*.bin and test_batch.bin there "
                              f"(from {ARCHIVE.name}) or pass --data-dir; {str(e).split('; ', 1)[-1]}") from None
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(f"{BATCHES}/")
                   and m.name.endswith((".bin", ".txt")) and "/" not in m.name[len(BATCHES) + 1:]]
        tar.extractall(folder.parent, members=members, filter="data")


def load(root: str | os.PathLike | None = None, download: bool = True) -> tuple[datasets.Dataset, dict]:
    """(data set, {"train": [file names], "test": [file names]}) from every batch file present."""
    folder = files.data_dir(root) / FOLDER / BATCHES
    train_files, test_files = batch_files(folder)
    if not (train_files and test_files):
        if not download:
            raise files.DataError(f"no CIFAR-10 batches in {folder}/: put data_batch_*.bin and test_batch.bin there")
        _fetch(folder)
        train_files, test_files = batch_files(folder)
    meta = folder / "batches.meta.txt"
    classes = tuple(meta.read_text().split()) if meta.exists() else CLASSES
    if len(classes) != 10:
        raise files.DataError(f"corrupt data file {meta}: expected 10 class names, got {len(classes)}")
    parts = []
    for group in (train_files, test_files):
        splits = [parse_batch(p.read_bytes(), str(p)) for p in group]
        parts.append(datasets.Split(np.concatenate([s.x for s in splits]), np.concatenate([s.y for s in splits])))
    used = {"train": [p.name for p in train_files], "test": [p.name for p in test_files]}
    return datasets.Dataset("cifar10", parts[0], parts[1], classes), used
