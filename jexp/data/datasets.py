"""What every reader returns: splits of float32 NHWC images in [0, 1] with int32 labels, and the
deterministic ways to cut them (a validation split drawn from a key, the first n examples)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Split(NamedTuple):
    x: np.ndarray  # float32 images, NHWC, in [0, 1]
    y: np.ndarray  # int32 labels


class Dataset(NamedTuple):
    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W[, C]) -> float32 NHWC in [0, 1]."""
    x = np.divide(images, np.float32(255), dtype=np.float32)  # one pass; equals astype, then /= 255
    return x[..., None] if x.ndim == 3 else x


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
