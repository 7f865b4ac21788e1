"""Pictures of digits → MNIST's convention, and labelled sets of them from files.

MNIST's convention (measured on its test set): ink high (white on black) in [0, 1], the digit's
bounding box scaled to fit 20×20 keeping its aspect ratio, its centre of mass at pixel (14.0, 14.0)
of a 28×28 frame. ``preprocess`` brings any picture of one digit there: any size, grey, colour or
with alpha, dark-on-light or light-on-dark, uint8/uint16/float.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE, BOX, CENTRE = 28, 20, 14.0
INK_THRESHOLD = 0.25   # fraction of the ink level that counts as ink for the bounding box
NOISE_FLOOR = 0.1      # values below this (after normalising) are paper, set to 0
SPECK_FRACTION = 0.05  # ink blobs smaller than this fraction of the largest are dust
BORDER_MAJORITY = 0.65  # the paper holds at least this share of the border, unless a digit fills its frame
CLEAN_SPLIT = 0.7      # Otsu's between-class variance share above which ink and paper are two clean classes


MIN_SIDE = 6  # a picture whose longer side is shorter than this holds no readable digit


class DigitError(ValueError):
    """An image that cannot be read or holds no digit; the message is one line."""


def to_grey(image: np.ndarray) -> np.ndarray:
    """float64 grey in [0, 1]; alpha (ink drawn on a transparent sheet) is laid over white."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise DigitError(f"expected an image (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    if max(a.shape[:2]) < MIN_SIDE or min(a.shape[:2]) < 1:
        raise DigitError(f"a {a.shape[0]} × {a.shape[1]} picture is too small to hold a digit (its longer side "
                         f"needs at least {MIN_SIDE} pixels)")
    if a.dtype == np.bool_ or (np.issubdtype(a.dtype, np.signedinteger)):
        raise DigitError(f"pixels of type {a.dtype} are not a picture format: use uint8 (0-255), uint16, or floats "
                         "in [0, 1]")
    if a.dtype == np.uint8:
        a = a / 255.0
    elif a.dtype == np.uint16:
        a = a / 65535.0
    elif np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise DigitError("image has NaN or infinite values")
        if a.min() < 0:
            raise DigitError(f"image has negative values (down to {a.min():g}); pixels are 0 (black) upwards")
        top = a.max()
        a = a / top if top > 1 else a
    else:
        raise DigitError(f"unsupported image dtype {a.dtype}")
    if a.ndim == 3:
        rgb, alpha = a[..., :3], (a[..., 3:] if a.shape[-1] == 4 else 1.0)
        rgb = rgb * alpha + (1.0 - alpha)
        a = rgb @ np.array([0.114, 0.587, 0.299])  # OpenCV's BGR order
    return a


def otsu(x: np.ndarray) -> float:
    """Otsu's threshold of a grey image in [0, 1]: the level that best splits it into two classes
    (computed on 256 levels; values ≤ the threshold are the darker class)."""
    t, _ = cv2.threshold(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8), 0, 255,
                         cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return (t + 0.5) / 255.0  # between two of the 256 levels, so float values split as their rounding does


def _blobs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(label image, area of each blob 1…n) of the 8-connected blobs of ``mask``."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels, stats[1:, cv2.CC_STAT_AREA]


def _pieces(mask: np.ndarray) -> int:
    """Connected pieces of ``mask`` at least SPECK_FRACTION the size of its largest."""
    areas = _blobs(mask)[1]
    return int((areas >= SPECK_FRACTION * areas.max()).sum()) if len(areas) else 0


def ink_polarity(x: np.ndarray) -> str:
    """"high" if the ink in grey picture ``x`` is bright, else "low".

    Split the picture at Otsu's threshold. Where one class holds clearly most of the border
    (≥ BORDER_MAJORITY), that class is the paper. A digit that fills its frame can cover half the
    border; then, if the split is clean (Otsu's between-class share of the variance ≥ CLEAN_SPLIT),
    the ink is the class in fewer pieces (a stroke is one piece; the paper it crosses falls apart),
    and on a tie the class covering less of the picture. If the split is not clean (little ink on
    unevenly lit paper: Otsu splits the paper), the ink is the extreme farther from the border's
    median."""
    t = otsu(x)
    bright = x > t
    border = np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]]).mean()
    if border <= 1 - BORDER_MAJORITY:
        return "high"
    if border >= BORDER_MAJORITY:
        return "low"
    share = bright.mean()
    if 0 < share < 1 and share * (1 - share) * (x[bright].mean() - x[~bright].mean()) ** 2 >= CLEAN_SPLIT * x.var():
        hi, lo = _pieces(bright), _pieces(~bright)
        if hi != lo:
            return "high" if hi < lo else "low"
        return "high" if share < 0.5 else "low"
    paper = np.median(np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]]))
    return "low" if paper - np.percentile(x, 1) > np.percentile(x, 99) - paper else "high"


def preprocess(image: np.ndarray, ink: str = "auto") -> np.ndarray:
    """One picture of one digit → float32 (28, 28) in MNIST's convention.

    ``ink``: "high" (ink is bright, as in MNIST), "low" (dark ink on light paper) or "auto"
    (``ink_polarity``). The paper level is the border's median, unless that median is ink (above
    Otsu's threshold, once ink is high), as where a digit fills its frame: then it is the median of
    the darker class."""
    x = to_grey(image)
    if ink == "auto":
        ink = ink_polarity(x)
    if ink == "low":
        x = 1.0 - x
    elif ink != "high":
        raise ValueError(f"ink must be 'auto', 'high' or 'low', got {ink!r}")
    t, border = otsu(x), np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    paper = np.median(border)
    if paper > t:  # the border is mostly ink: a digit that fills its frame
        dark = x[x <= t]
        paper = np.median(dark) if dark.size else x.min()
    level = np.percentile(x, 99.5)
    if level - paper < 0.05:
        raise DigitError("no ink found (the image is almost uniform)")
    x = np.clip((x - paper) / (level - paper), 0.0, 1.0)
    x = np.clip((x - NOISE_FLOOR) / (1.0 - NOISE_FLOOR), 0.0, 1.0)
    x = drop_specks(x)
    rows, cols = np.nonzero((x > INK_THRESHOLD).any(1))[0], np.nonzero((x > INK_THRESHOLD).any(0))[0]
    x = x[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = x.shape
    s = BOX / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    x = cv2.resize(x, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x = np.clip(x / max(x.max(), 1e-6), 0.0, 1.0)
    mass = x.sum()
    com_r = (x.sum(1) * np.arange(x.shape[0])).sum() / mass
    com_c = (x.sum(0) * np.arange(x.shape[1])).sum() / mass
    shift = np.float64([[1, 0, CENTRE - com_c], [0, 1, CENTRE - com_r]])
    out = cv2.warpAffine(x, shift, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0.0)
    return np.clip(out / max(out.max(), 1e-6), 0.0, 1.0).astype(np.float32)  # the shift blurs: ink back to 1


def drop_specks(x: np.ndarray, fraction: float = SPECK_FRACTION) -> np.ndarray:
    """Erase ink blobs smaller than ``fraction`` of the largest one (dust, paper texture, a stray
    dot), so they do not stretch the bounding box."""
    labels, areas = _blobs(x > INK_THRESHOLD)
    n = len(areas) + 1
    if n <= 2:
        return x
    small = np.nonzero(areas < fraction * areas.max())[0] + 1
    if not len(small):
        return x
    # the faint rim around a removed blob goes too: grow its mask by one pixel
    mask = cv2.dilate(np.isin(labels, small).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    keep = cv2.dilate(np.isin(labels, np.setdiff1d(np.arange(1, n), small)).astype(np.uint8),
                      np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(mask & ~keep, 0.0, x)


def preprocess_batch(images, ink: str = "auto") -> np.ndarray:
    """(N, 28, 28, 1) float32 from a sequence of pictures; raises DigitError on the first bad one."""
    return np.stack([preprocess(im, ink) for im in images])[..., None]


def preprocess_each(images, ink: str = "auto") -> tuple[np.ndarray, dict[int, str]]:
    """Like ``preprocess_batch``, but a picture that cannot be preprocessed does not stop the rest:
    it is left blank, and returned in {index: reason}."""
    out, failed = np.zeros((len(images), SIZE, SIZE, 1), np.float32), {}
    for i, im in enumerate(images):
        try:
            out[i, ..., 0] = preprocess(im, ink)
        except DigitError as e:
            failed[i] = str(e)
    return out, failed


MAX_PIXELS = 40_000_000  # a digit picture larger than this (a 6,300-pixel square) is refused before decoding


def read_image(path) -> np.ndarray:
    """Any picture file OpenCV reads (PNG, JPG, BMP, TIFF…), as stored (8/16-bit, alpha kept), through
    ``decode_image``: a picture of more than ``MAX_PIXELS`` is refused from its header, before
    decoding, since a small file can claim a huge image and decoding it would take gigabytes."""
    p = Path(path)
    if p.is_dir():
        raise DigitError(f"{p}: a directory, not a picture file")
    if not p.is_file():
        raise DigitError(f"{p}: no such file")
    data = p.read_bytes()
    if not data:
        raise DigitError(f"{p}: not an image OpenCV can read (PNG, JPG, BMP, TIFF…)")
    return decode_image(data, str(p), too_many="is more than a digit picture needs")


def decode_image(data: bytes, name: str = "the picture", max_pixels: int | None = None,
                 too_many: str = "is more than allowed") -> np.ndarray:
    """A picture held in memory (an upload, or a file's bytes for ``read_image``), as stored, in
    one-line ``DigitError``s naming ``name``: its size is read from the header first (Pillow, without
    decoding) and a picture of more than ``max_pixels`` (default ``MAX_PIXELS``) is refused, saying
    it ``too_many``."""
    import io
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    if not data:
        raise DigitError(f"{name}: empty (no picture was sent)")
    size = _header_size(io.BytesIO(data))
    if size is not None and size[0] * size[1] > limit:
        raise DigitError(f"{name}: {size[0]:,} × {size[1]:,} pixels {too_many} (at most "
                         f"{limit / 1e6:g} million); shrink it first")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        raise DigitError(f"{name}: OpenCV cannot decode it ({str(e).strip().splitlines()[-1][:120]})") from None
    if image is None:
        raise DigitError(f"{name}: not an image OpenCV can read (PNG, JPG, BMP, TIFF…)")
    if size is None and image.shape[0] * image.shape[1] > limit:
        raise DigitError(f"{name}: {image.shape[1]:,} × {image.shape[0]:,} pixels {too_many} (at most "
                         f"{limit / 1e6:g} million); shrink it first")
    return image


def _header_size(path) -> tuple[int, int] | None:
    """(width, height) that the file's header states, without decoding; None when Pillow does not
    know the format (OpenCV then decides)."""
    import warnings

    from PIL import Image
    try:
        with warnings.catch_warnings():  # Pillow warns of large images; we refuse them in one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.size
    except Image.DecompressionBombError:
        return (10 ** 9, 1)  # Pillow's own limit: far over ours
    except Exception:  # noqa: BLE001 - any format or damage Pillow does not read
        return None


def load_npz(path) -> tuple[np.ndarray, np.ndarray]:
    """``images`` (N, H, W) uint8, ink = high values, and ``labels`` (N,) in 0..9 from an npz."""
    p = Path(path)
    if p.is_dir():
        raise DigitError(f"{p}: a directory, not an .npz file")
    try:
        with np.load(p, allow_pickle=False) as f:
            missing = [k for k in ("images", "labels") if k not in f.files]
            if missing:
                raise DigitError(f"{p}: no array {' or '.join(repr(k) for k in missing)} in it (it has "
                                 f"{', '.join(map(repr, f.files)) or 'none'}); expected 'images' (N, H, W) and "
                                 "'labels' (N,)")
            images, labels = f["images"], f["labels"]
    except DigitError:
        raise
    except FileNotFoundError:
        raise DigitError(f"{p}: no such file") from None
    except ValueError as e:  # an object array (pickled), which is never loaded
        raise DigitError(f"{p}: not a readable .npz file (it holds pickled objects, which are never loaded)") from None
    except Exception as e:  # not a zip / npz at all
        raise DigitError(f"{p}: not a readable .npz file ({type(e).__name__})") from None
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise DigitError(f"{p}: expected images (N, H, W) and labels (N,), got {images.shape} and {labels.shape}")
    if not len(labels):
        raise DigitError(f"{p}: no images in it")
    if images.dtype == np.bool_ or np.issubdtype(images.dtype, np.signedinteger) or not (
            np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise DigitError(f"{p}: images of type {images.dtype} are not a picture format: use uint8 (0-255), uint16, "
                         "or floats in [0, 1]")
    if not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)):
        raise DigitError(f"{p}: labels of type {labels.dtype}; expected the digits 0-9 as integers")
    if np.issubdtype(labels.dtype, np.floating) and not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
        raise DigitError(f"{p}: labels must be whole digits 0-9 (found {labels[~(labels == np.round(labels))][0]!r})")
    if labels.min() < 0 or labels.max() > 9:
        raise DigitError(f"{p}: labels must be digits 0-9 (found {labels.min()!r} to {labels.max()!r})")
    return images, labels.astype(np.int64)
