"""FER2013 facial expressions (Goodfellow et al. 2013): grey 48×48 faces in 7 emotions, read from
``<data dir>/fer2013/`` in whichever of the three forms users have is there (first found wins):

1. ``fer2013.csv``, the original: a header ``emotion,pixels,Usage``, then one row per face: the
   label 0-6, 2,304 space-separated pixel values (row-major 48×48) and the split, ``Training``,
   ``PublicTest`` or ``PrivateTest``.
2. ``fer2013.npz`` (this project's shared copy; see its SOURCES.md): arrays ``images`` uint8
   (N, 48, 48), ``labels``, ``usage`` and ``pixel_source``, checked against its sha256. Rows with
   ``pixel_source == 2`` (149 training images altered in the copy they came from, many of them not
   faces) are left out of training unless ``keep_altered``.
3. The image-folder copy: ``train/<emotion>/*.png|jpg`` and ``test/<emotion>/*.png|jpg``. Its test
   folder holds PublicTest and PrivateTest together, so there the validation split is drawn from
   the training images with ``val_key`` and the test folder is the test split.

Training is ``Training``; validation (for choosing epochs) ``PublicTest``; the test split, to be
reported once, ``PrivateTest``. There is no public download without a login: when none of the
forms is present, one line says where to get the data and where to put it.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jexp.data import datasets, files
from jexp.runtime import rng

FOLDER = "fer2013"
SIDE = 48
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
USAGES = ("Training", "PublicTest", "PrivateTest")  # → train, val, test
NPZ = files.FileSpec("fer2013.npz", 78337880, "98afc2da897943a3104917caedf07fae34d04205effcff1ea6a6240b4829832e")
CSV = "fer2013.csv"
FOLDER_NAMES = {"angry": 0, "anger": 0, "disgust": 1, "disgusted": 1, "fear": 2, "fearful": 2, "happy": 3,
                "happiness": 3, "sad": 4, "sadness": 4, "surprise": 5, "surprised": 5, "neutral": 6}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
WHERE_TO_GET = ("FER2013 comes from the Kaggle competition 'Challenges in Representation Learning: Facial "
                "Expression Recognition Challenge' (a login is needed)")


class Faces(NamedTuple):
    train: datasets.Split
    val: datasets.Split
    test: datasets.Split
    classes: tuple[str, ...]
    source: str          # the file or folders read
    note: str            # how the splits were made, for results pages


def load(root: str | os.PathLike | None = None, *, val_key=None, val_size: int = 3589,
         keep_altered: bool = False) -> Faces:
    """FER2013 from the data directory as float32 NHWC images in [0, 1] and int32 labels."""
    folder = files.data_dir(root) / FOLDER
    if (folder / CSV).exists():
        return _splits(*read_csv(folder / CSV), source=CSV, note="splits: Usage column of fer2013.csv")
    if (folder / NPZ.name).exists():
        images, labels, usage, altered = read_npz(folder / NPZ.name)
        drop = altered & (usage == 0) & (not keep_altered)
        keep = ~drop
        note = "splits: usage array of fer2013.npz" + (f"; {int(drop.sum())} altered training images left out"
                                                       if drop.any() else "")
        return _splits(images[keep], labels[keep], usage[keep], source=NPZ.name, note=note)
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        train, test = read_folder(folder / "train"), read_folder(folder / "test")
        key = rng.key(0, "split") if val_key is None else val_key
        train, val = datasets.split(key, datasets.Split(datasets.to_float(train[0]), train[1]), val_size)
        return Faces(train, val, datasets.Split(datasets.to_float(test[0]), test[1]), CLASSES, "train/, test/",
                     f"splits: image folders; validation: {val_size:,} training images drawn with a fixed key; "
                     "test: the test folder (PublicTest and PrivateTest together)")
    raise files.DataError(f"FER2013 not found in {folder}/: put {CSV}, or its image-folder copy (train/<emotion>/*.jpg "
                          f"and test/<emotion>/*.jpg), or {NPZ.name} there (or pass --data-dir / set "
                          f"{files.DATA_ENV}); {WHERE_TO_GET}")


def _splits(images, labels, usage, *, source: str, note: str) -> Faces:
    parts = [datasets.Split(datasets.to_float(images[usage == u]), labels[usage == u]) for u in range(3)]
    for name, part in zip(USAGES, parts):
        if not len(part.y):
            raise files.DataError(f"corrupt data set {source}: no {name} images")
    return Faces(*parts, CLASSES, source, note)


def _check_labels(labels: np.ndarray, where) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise files.DataError(f"corrupt data file {where}: label {labels.max()} out of range 0-{len(CLASSES) - 1}")
    return labels.astype(np.int32)


# --- the three forms ----------------------------------------------------------------------------

def read_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uint8 images (N, 48, 48), int32 labels, int8 usage 0/1/2) from the original csv."""
    path = Path(path)
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header is None or [h.strip() for h in header] != ["emotion", "pixels", "Usage"]:
            raise files.DataError(f"corrupt data file {path}: expected the header emotion,pixels,Usage, got {header}")
        labels, pixels, usage = [], [], []
        for i, row in enumerate(rows, start=2):
            if len(row) != 3:
                raise files.DataError(f"corrupt data file {path}: line {i} has {len(row)} fields, expected 3")
            if row[2] not in USAGES:
                raise files.DataError(f"corrupt data file {path}: line {i}: unknown Usage {row[2]!r}")
            if row[1].count(" ") != SIDE * SIDE - 1:
                raise files.DataError(f"corrupt data file {path}: line {i} has {len(row[1].split())} pixel values, "
                                      f"expected {SIDE * SIDE} ({SIDE}×{SIDE})")
            labels.append(row[0])
            pixels.append(row[1])
            usage.append(USAGES.index(row[2]))
    try:  # one C parse of all pixels (a Python list of 83 M strings would take ~7 GB)
        images = np.fromstring(" ".join(pixels), dtype=np.int64, sep=" ")
        labels = np.array(labels, np.int64)
    except ValueError:
        raise files.DataError(f"corrupt data file {path}: a label or pixel value is not an integer") from None
    if images.size and (images.min() < 0 or images.max() > 255):
        raise files.DataError(f"corrupt data file {path}: pixel values must be 0-255")
    return (images.astype(np.uint8).reshape(-1, SIDE, SIDE), _check_labels(labels, path),
            np.array(usage, np.int8))


def write_csv(path: str | os.PathLike, images: np.ndarray, labels, usage) -> None:
    """Write faces in the original csv form (e.g. synthetic test files); ``usage``: 0/1/2 or names."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for img, y, u in zip(np.asarray(images, np.uint8), labels, usage):
            w.writerow([int(y), " ".join(map(str, img.reshape(-1))), u if isinstance(u, str) else USAGES[int(u)]])


def read_npz(path: str | os.PathLike, verify: bool = True):
    """(images, labels, usage 0/1/2, altered) from the shared npz; ``altered``: pixel_source == 2."""
    path = Path(path)
    raw = files.read_verified(NPZ, path, download=False) if verify else path.read_bytes()
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            images, labels, usage = z["images"], z["labels"], z["usage"]
            source = z["pixel_source"] if "pixel_source" in z.files else np.zeros(len(labels), np.uint8)
    except (ValueError, OSError, KeyError) as e:
        raise files.DataError(f"corrupt data file {path}: {str(e).splitlines()[0]}") from None
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or len(images) != len(labels):
        raise files.DataError(f"corrupt data file {path}: images {images.shape} and labels {labels.shape}, "
                              f"expected (N, {SIDE}, {SIDE}) and (N,)")
    match = np.asarray(usage)[:, None] == np.array(USAGES)
    if not match.any(1).all():
        raise files.DataError(f"corrupt data file {path}: unknown usage {sorted(set(usage[~match.any(1)].tolist()))}")
    codes = match.argmax(1).astype(np.int8)
    return images.astype(np.uint8), _check_labels(np.asarray(labels), path), codes, np.asarray(source) == 2


def read_folder(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, 48, 48), int32 labels) from ``folder/<emotion>/*``, files in name order."""
    import cv2
    folder = Path(folder)
    images, labels = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name.lower() not in FOLDER_NAMES:
            raise files.DataError(f"unknown emotion folder {sub}: expected one of {', '.join(CLASSES)}")
        for f in sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise files.DataError(f"corrupt image file {f}: it cannot be decoded")
            if img.shape != (SIDE, SIDE):
                raise files.DataError(f"image {f} is {img.shape[1]}×{img.shape[0]}, expected {SIDE}×{SIDE} (FER2013 faces)")
            images.append(img)
            labels.append(FOLDER_NAMES[sub.name.lower()])
    if not images:
        raise files.DataError(f"no face images in {folder}/<emotion>/ (png or jpg)")
    return np.stack(images), np.array(labels, np.int32)
