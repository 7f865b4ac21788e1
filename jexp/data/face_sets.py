"""Faces as other cameras would deliver them: FER2013 test faces under changed imaging conditions.

No other labelled face set is on these machines, so the out-of-distribution check of an emotion
model re-images the held-out test faces the way a different camera, light or distance would:
``build(images, labels)`` returns {condition: (images (N, 48, 48, 1) float32 in [0, 1], labels)},
each condition deterministic (``seed``), the first one the faces as they are.
"""
from __future__ import annotations

import cv2
import numpy as np

DESCRIPTION = """\
Conditions (each applied to every PrivateTest face, then classified as the camera would, 48×48 grey):
- `as is`: the faces unchanged.
- `far (16 px)`, `far (24 px)`: shrunk to 16 or 24 pixels (area averaging) and enlarged back (cubic):
  a face far from a low-resolution camera.
- `blur`: Gaussian blur σ = 1.2 px (out of focus, motion).
- `jpeg q=20`: JPEG compression at quality 20 (a streamed webcam).
- `dark`, `bright`: gamma 2.0 and 0.5 (under- and over-exposed).
- `low contrast`: contrast halved about the image mean.
- `noise`: Gaussian sensor noise, σ = 12 grey levels.
- `tilted 15°`: rotated by ±15° about the centre (head tilt), edges repeated.
- `mirrored`: flipped left-right (a webcam's selfie view).
"""


def _each(images, f):
    return np.stack([f(im) for im in images])


def build(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``images`` uint8 (N, 48, 48); the conditions of DESCRIPTION, in its order."""
    rng = np.random.default_rng(seed)
    n, side = images.shape[0], images.shape[1]
    x = images.astype(np.float32)

    def far(px):
        return lambda im: cv2.resize(cv2.resize(im, (px, px), interpolation=cv2.INTER_AREA), (side, side),
                                     interpolation=cv2.INTER_CUBIC)

    def jpeg(im):
        ok, buf = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 20])
        return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)

    angles = rng.choice([-15.0, 15.0], n)

    def tilt(i):
        m = cv2.getRotationMatrix2D(((side - 1) / 2, (side - 1) / 2), angles[i], 1.0)
        return cv2.warpAffine(images[i], m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    mean = x.mean(axis=(1, 2), keepdims=True)
    sets = {
        "as is": x,
        "far (16 px)": _each(images, far(16)).astype(np.float32),
        "far (24 px)": _each(images, far(24)).astype(np.float32),
        "blur": _each(images, lambda im: cv2.GaussianBlur(im, (0, 0), 1.2)).astype(np.float32),
        "jpeg q=20": _each(images, jpeg).astype(np.float32),
        "dark": 255 * (x / 255) ** 2.0,
        "bright": 255 * (x / 255) ** 0.5,
        "low contrast": (x - mean) * 0.5 + mean,
        "noise": x + rng.normal(0, 12, x.shape),
        "tilted 15°": np.stack([tilt(i) for i in range(n)]).astype(np.float32),
        "mirrored": x[:, :, ::-1],
    }
    return {k: (np.clip(np.round(v), 0, 255)[..., None].astype(np.float32) / 255, np.asarray(labels))
            for k, v in sets.items()}
