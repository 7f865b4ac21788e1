"""Out-of-MNIST digit sets for checking a digit recogniser, built from what a machine has offline.

Every set is returned already in MNIST's convention (``digit_pictures.preprocess``), as
(images (N, 28, 28, 1) float32, labels (N,)), so a set's accuracy measures the preprocessing and
the model together, the way a user's own pictures would be handled.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from jexp.data import digit_pictures

DESCRIPTION = """\
The sets (all passed through `digit_pictures.preprocess`, as a user's own pictures would be):
- `mnist_Npx`: MNIST test digits (random subset) shrunk (area averaging) or enlarged (cubic) to
  N×N pixels, i.e. other resolutions of MNIST's writers; `mnist_28px` is MNIST at its own size,
  only re-preprocessed.
- `mnist_inverted`: dark ink on white at 64 px, blurred, with noise.
- `mnist_photo`: dark blue-grey ink on uneven grey paper (a lighting gradient), colour, noise, 48 px.
- `mnist_framefill`: MNIST test digits drawn to fill their frame: a pen 0–2 px thicker, cropped
  to the ink with no margin, the long side stretched to 16 px and the short side to 1–2× its own
  scale (at most the frame), thresholded to black and white. Ink touches the border.
- `fonts`: digits drawn with OpenCV's 8 Hershey fonts (two of them script), upright and italic,
  random stroke width, rotation and shear, rendered at 12–64 px: shapes no MNIST writer made.
- `optdigits`: UCI optdigits test set (1,797 digits, 8×8 counts of a 32×32 bitmap, 13 writers who
  are not MNIST's), present only when `optdigits/optdigits.tes` is in the data directory
  (`python scripts/get_optdigits.py DATA_DIR` puts it there).
"""

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
         cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
OPTDIGITS = Path("optdigits") / "optdigits.tes"
OPTDIGITS_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/optdigits/optdigits.tes"


def _uint8(images01) -> np.ndarray:
    return np.clip(np.rint(np.asarray(images01) * 255), 0, 255).astype(np.uint8)


def resized(images: np.ndarray, size: int) -> list[np.ndarray]:
    """MNIST digits (N, 28, 28) uint8 re-rendered at size × size."""
    interp = cv2.INTER_AREA if size < 28 else cv2.INTER_CUBIC
    return [cv2.resize(im, (size, size), interpolation=interp) for im in images]


def inverted(images, rng) -> list[np.ndarray]:
    out = []
    for im in resized(images, 64):
        im = cv2.GaussianBlur(255.0 - im, (0, 0), rng.uniform(0.5, 1.5))
        out.append(np.clip(im + rng.normal(0, 8, im.shape), 0, 255).astype(np.uint8))
    return out


def photo(images, rng) -> list[np.ndarray]:
    """Dark tinted ink on grey paper lit unevenly, in colour (BGR)."""
    out = []
    yy, xx = np.mgrid[0:48, 0:48] / 47.0
    for im in resized(images, 48):
        ink = im / 255.0
        paper = rng.uniform(0.55, 0.85) + rng.uniform(-0.15, 0.15) * (xx if rng.random() < 0.5 else yy)
        level = rng.uniform(0.1, 0.35)
        grey = paper * (1 - ink) + level * ink
        tint = np.array([rng.uniform(0.9, 1.1), 1.0, rng.uniform(0.85, 1.0)])
        bgr = grey[..., None] * tint + rng.normal(0, 0.03, (48, 48, 3))
        out.append(_uint8(bgr))
    return out


def frame_filling(images, rng, size: int = 16) -> list[np.ndarray]:
    """MNIST digits (N, 28, 28) uint8 redrawn to fill a ``size``×``size`` frame, binarised (see DESCRIPTION)."""
    out = []
    for im in images:
        k = int(rng.integers(1, 4))  # 1: the writer's pen; 2, 3: thicker
        im = cv2.dilate(im, np.ones((k, k), np.uint8)) if k > 1 else im
        rows, cols = np.nonzero(im.max(1) > 127)[0], np.nonzero(im.max(0) > 127)[0]
        im = im[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        h, w = im.shape
        short = min(size, round(min(h, w) * size / max(h, w) * rng.uniform(1.0, 2.0)))
        hh, ww = (size, max(short, 1)) if h >= w else (max(short, 1), size)
        im = cv2.resize(im, (ww, hh), interpolation=cv2.INTER_AREA if max(h, w) > size else cv2.INTER_LINEAR)
        im = np.where(im > rng.uniform(0.3, 0.6) * 255, 255, 0).astype(np.uint8)
        frame = np.zeros((size, size), np.uint8)
        top, left = (size - hh) // 2, (size - ww) // 2
        frame[top:top + hh, left:left + ww] = im
        out.append(frame)
    return out


def fonts(samples: int, rng) -> tuple[list[np.ndarray], np.ndarray]:
    """``samples`` drawings of each digit in each Hershey font, upright and italic."""
    images, labels = [], []
    for face in FONTS:
        for italic in (0, cv2.FONT_ITALIC):
            for d in range(10):
                for _ in range(samples):
                    canvas = np.zeros((128, 128), np.uint8)
                    thick = int(rng.integers(2, 10))
                    (w, h), _ = cv2.getTextSize(str(d), face | italic, 3.0, thick)
                    cv2.putText(canvas, str(d), ((128 - w) // 2, (128 + h) // 2), face | italic, 3.0, 255, thick,
                                cv2.LINE_AA)
                    angle, shear = rng.uniform(-10, 10), rng.uniform(-0.15, 0.15)
                    m = cv2.getRotationMatrix2D((64, 64), angle, 1.0)
                    m[0, 1] += shear
                    canvas = cv2.warpAffine(canvas, m, (128, 128))
                    size = int(rng.choice([12, 16, 24, 32, 64]))
                    images.append(cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA))
                    labels.append(d)
    return images, np.array(labels)


def load_optdigits(root) -> tuple[np.ndarray, np.ndarray] | None:
    """UCI optdigits (rows of 64 counts 0..16 then the label) as uint8 (N, 8, 8), ink high; None if absent."""
    path = Path(root) / OPTDIGITS
    if not path.is_file():
        return None
    try:
        rows = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as e:
        raise digit_pictures.DigitError(f"{path}: not in optdigits format ({e})") from None
    if rows.shape[1] != 65 or rows[:, :64].min() < 0 or rows[:, :64].max() > 16:
        raise digit_pictures.DigitError(f"{path}: expected 65 comma-separated integers per row (64 pixels 0-16, label)")
    return (np.minimum(rows[:, :64] * 16, 255).astype(np.uint8).reshape(-1, 8, 8), rows[:, 64])


def build(test, seed: int, sizes, count: int, font_samples: int, data_dir) -> dict:
    """The sets, name → (images (N, 28, 28, 1) float32, labels), from MNIST's test split ``test``."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(test.y), min(count, len(test.y)), replace=False)
    base, labels = _uint8(test.x[idx, ..., 0]), np.asarray(test.y[idx])
    sets = {f"mnist_{s}px": (digit_pictures.preprocess_batch(resized(base, s), "high"), labels) for s in sizes}
    sets["mnist_inverted"] = (digit_pictures.preprocess_batch(inverted(base, rng)), labels)
    sets["mnist_photo"] = (digit_pictures.preprocess_batch(photo(base, rng)), labels)
    images, font_labels = fonts(font_samples, rng)
    sets["fonts"] = (digit_pictures.preprocess_batch(images), font_labels)
    sets["mnist_framefill"] = (digit_pictures.preprocess_batch(frame_filling(base, rng), "high"), labels)
    opt = load_optdigits(data_dir)
    if opt is not None:
        sets["optdigits"] = (digit_pictures.preprocess_batch(opt[0], "high"), opt[1])
    return sets
