"""Out-of-MNIST digit sets for checking a digit recogniser, built from what a machine has offline.

Every set is returned already in MNIST's convention (``digit_pictures.preprocess``), as
(images (N, 28, 28, 1) float32, labels (N,)), so a set's accuracy measures the preprocessing and
the model together, the way a user's own pictures would be handled.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

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
- `mnist_boxfill`: MNIST test digits as a scanner that stretches every digit to fill its box
  gives them: a pen 0–2 px thicker, cropped to the ink, stretched to 16×16 whatever its aspect
  ratio (a 1 becomes a wide slanted bar), thresholded at half the ink level to black and white.
- `fonts_boxfill`: the `fonts` drawings through the same scanner (own pen): a 1 with a flag,
  stretched to its box, looks like a 7.
- `fonts`: digits drawn with OpenCV's 8 Hershey fonts (two of them script), upright and italic,
  random stroke width, rotation and shear, rendered at 12–64 px: shapes no MNIST writer made.
- `optdigits`: UCI optdigits test set (1,797 digits, 8×8 counts of a 32×32 bitmap, 13 writers who
  are not MNIST's), present only when `optdigits/optdigits.tes` is in the data directory
  (`python scripts/get_optdigits.py DATA_DIR` puts it there).
"""

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
         cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
# TrueType fonts that matplotlib ships (so every machine with jexp has them), none of them Hershey:
# digits typeset in these are training material (``typeset``); the ``fonts`` family stays unseen
TYPESET_FONTS = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique", "DejaVuSansMono",
                 "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique", "DejaVuSansMono-BoldOblique", "DejaVuSerif",
                 "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic", "STIXGeneral", "STIXGeneralBol",
                 "STIXGeneralItalic", "STIXGeneralBolIta", "cmr10", "cmss10", "cmtt10", "cmb10", "cmti10")
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


def scanned(images, rng, *, stretch: bool = True, binarise: bool = True, pens=(1, 2, 3), size: int = 16,
            threshold: float = 0.5) -> list[np.ndarray]:
    """Digits (uint8, ink high, e.g. MNIST's (N, 28, 28)) through a low-resolution scanner: a pen
    ``k``×``k`` (``k`` drawn from ``pens``; 1 is the writer's own), cropped to the ink (above half
    its brightest), resized to ``size`` px (both
    sides, aspect ignored, with ``stretch``; else the long side, aspect kept, centred), and with
    ``binarise`` thresholded at ``threshold`` of full ink. ``PROPERTIES`` names one property each."""
    out = []
    for im in images:
        k = int(rng.choice(pens))
        im = cv2.dilate(im, np.ones((k, k), np.uint8)) if k > 1 else im
        rows, cols = np.nonzero(im.max(1) > im.max() / 2)[0], np.nonzero(im.max(0) > im.max() / 2)[0]
        if len(rows):  # else a blank picture, left for preprocess to call unreadable
            im = im[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        h, w = im.shape
        hh, ww = (size, size) if stretch else (max(1, round(h * size / max(h, w))), max(1, round(w * size / max(h, w))))
        im = cv2.resize(im, (ww, hh), interpolation=cv2.INTER_AREA)
        if binarise:
            im = np.where(im > threshold * 255, 255, 0).astype(np.uint8)
        frame = np.zeros((size, size), np.uint8)
        top, left = (size - hh) // 2, (size - ww) // 2
        frame[top:top + hh, left:left + ww] = im
        out.append(frame)
    return out


# one property of a low-resolution scan each (``scanned``'s settings), and all of them, on MNIST test
# digits (base "mnist"); then Hershey-font digits (base "fonts"), whose 1 has a flag, as MNIST's 1s
# mostly do not: which property costs a recogniser its accuracy, and on which digits
PROPERTIES = {
    "16 px, aspect kept": ("mnist", dict(stretch=False, binarise=False, pens=(1,))),
    "16 px, binarised": ("mnist", dict(stretch=False, binarise=True, pens=(1,))),
    "16 px, pen 2 px thicker": ("mnist", dict(stretch=False, binarise=False, pens=(3,))),
    "16 px, stretched to fill the box": ("mnist", dict(stretch=True, binarise=False, pens=(1,))),
    "stretched + binarised + pen 0–2 px thicker (mnist_boxfill)": ("mnist", dict(stretch=True, binarise=True,
                                                                                 pens=(1, 2, 3))),
    "fonts at 16 px, binarised, aspect kept": ("fonts", dict(stretch=False, binarise=True, pens=(1,))),
    "fonts at 16 px, binarised, stretched to fill (fonts_boxfill)": ("fonts", dict(stretch=True, binarise=True,
                                                                                   pens=(1,))),
}


def properties(test, seed: int, count: int, font_samples: int) -> tuple[dict, dict]:
    """(sets, unreadable) as ``build``'s, one set for each of ``PROPERTIES``: those of base "mnist"
    made from the same ``count`` MNIST test digits (each with its own pen draws), those of base
    "fonts" from the same ``font_samples`` drawings per digit and font; preprocessed as a user's
    picture is."""
    rng = np.random.default_rng([seed, 1])
    idx = rng.choice(len(test.y), min(count, len(test.y)), replace=False)
    bases = {"mnist": (_uint8(test.x[idx, ..., 0]), np.asarray(test.y[idx])), "fonts": fonts(font_samples, rng)}
    sets, unreadable = {}, {}
    for name, (base, kw) in PROPERTIES.items():
        images, labels = bases[base]
        sets[name], unreadable[name] = _readable(scanned(images, rng, **kw), labels, "high")
    return sets, unreadable


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


def typeset(samples: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` digits of each class in each of ``TYPESET_FONTS`` (matplotlib's TrueType fonts), in
    MNIST's convention: (images (N, 28, 28, 1) float32, labels (N,)). Each is drawn at its own size
    with a stroke 0–3 px wider, rotated ±10°, sheared ±0.2, cropped to its ink and rendered 10–32 px tall (or wide) before
    ``digit_pictures.preprocess``; N = 10 · samples · len(TYPESET_FONTS)."""
    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    images, labels = [], []
    for name in TYPESET_FONTS:
        faces = {}
        for d in range(10):
            for _ in range(samples):
                pt = int(rng.integers(40, 64))
                face = faces.setdefault(pt, ImageFont.truetype(str(root / f"{name}.ttf"), pt))
                canvas = Image.new("L", (128, 128))
                ImageDraw.Draw(canvas).text((64, 64), str(d), fill=255, font=face, anchor="mm",
                                            stroke_width=int(rng.integers(0, 4)), stroke_fill=255)
                m = cv2.getRotationMatrix2D((64, 64), rng.uniform(-10, 10), 1.0)
                m[0, 1] += rng.uniform(-0.2, 0.2)
                im = cv2.warpAffine(np.asarray(canvas), m, (128, 128))
                rows, cols = np.nonzero(im.max(1) > 127)[0], np.nonzero(im.max(0) > 127)[0]
                im = np.pad(im[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], 4)
                scale = rng.choice([10, 14, 20, 32]) / max(im.shape)  # the glyph's long side, in pixels
                images.append(cv2.resize(im, (max(1, round(im.shape[1] * scale)), max(1, round(im.shape[0] * scale))),
                                         interpolation=cv2.INTER_AREA))
                labels.append(d)
    (x, y), unreadable = _readable(images, np.array(labels), "high")
    return x, y


def scan_copies(images: np.ndarray, labels: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Training copies of digits (uint8 (N, H, W), ink high) as low-resolution scanners give them, in
    MNIST's convention ((images (M, 28, 28, 1) float32, labels (M,)), the unreadable left out): each
    digit, with its own draw, either through ``scanned`` (at 12, 16 or 20 px, stretched to its box or
    not, binarised at 0.3–0.7 of full ink or not, a pen 0–2 px thicker) or shrunk to 7–10 px
    (``resized``). The families made the same ways (``mnist_Npx``, ``mnist_boxfill``,
    ``fonts_boxfill``) are then no longer unseen processes, only unseen digits."""
    pictures = []
    for im in images:
        if rng.random() < 0.25:
            pictures.append(resized(im[None], int(rng.integers(7, 11)))[0])
        else:
            pictures += scanned(im[None], rng, stretch=bool(rng.random() < 0.6), binarise=bool(rng.random() < 0.7),
                                size=int(rng.choice([12, 16, 20])), threshold=float(rng.uniform(0.3, 0.7)))
    (x, y), _ = _readable(pictures, labels, "high")
    return x, y


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


def _readable(pictures, labels, ink: str = "auto") -> tuple[tuple[np.ndarray, np.ndarray], int]:
    """((images (N, 28, 28, 1), labels) of the pictures ``preprocess`` can read, how many it cannot):
    e.g. a 1 stretched to fill its box can become one solid block of ink, which holds no digit."""
    x, failed = digit_pictures.preprocess_each(pictures, ink)
    keep = np.setdiff1d(np.arange(len(labels)), list(failed))
    return (x[keep], np.asarray(labels)[keep]), len(failed)


def build(test, seed, sizes, count: int, font_samples: int, data_dir=None) -> tuple[dict, dict]:
    """(sets, unreadable): the sets, name → (images (N, 28, 28, 1) float32, labels), made from MNIST's
    test split ``test`` with numpy seed ``seed`` (an int or a sequence of ints), and per set how many
    of its pictures ``preprocess`` could not read (left out of the set). For a validation copy of the
    families, pass held-out training digits and no ``data_dir``, so that optdigits, a test set of
    other writers, stays out."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(test.y), min(count, len(test.y)), replace=False)
    base, labels = _uint8(test.x[idx, ..., 0]), np.asarray(test.y[idx])
    pictures = {f"mnist_{s}px": (resized(base, s), labels, "high") for s in sizes}
    pictures["mnist_inverted"] = (inverted(base, rng), labels, "auto")
    pictures["mnist_photo"] = (photo(base, rng), labels, "auto")
    font_images, font_labels = fonts(font_samples, rng)
    pictures["fonts"] = (font_images, font_labels, "auto")
    pictures["mnist_framefill"] = (frame_filling(base, rng), labels, "high")
    pictures["mnist_boxfill"] = (scanned(base, rng), labels, "high")
    pictures["fonts_boxfill"] = (scanned(font_images, rng, pens=(1,)), font_labels, "high")
    opt = None if data_dir is None else load_optdigits(data_dir)
    if opt is not None:
        pictures["optdigits"] = (opt[0], opt[1], "high")
    sets, unreadable = {}, {}
    for name, (images, y, ink) in pictures.items():
        sets[name], unreadable[name] = _readable(images, y, ink)
    return sets, unreadable
