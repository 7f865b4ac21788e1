"""On-device augmentation of digit images, aimed at other writers, pens, scanners and resolutions.

``Augment()(key, x)`` transforms a batch ``x`` of shape (B, H, W, 1) with values in [0, 1] (ink
high), each image with its own random draw, inside ``jit``. In order:

1. random affine (rotation, scale, aspect, shear, translation) plus an elastic distortion (a
   coarse random displacement field, smoothly interpolated), sampled with bilinear interpolation;
   for a fraction ``fill_prob`` of the batch, first a stretch of the ink's short side towards its
   long side (aspect ratio ignored, as a scanner that stretches every digit to fill its box does:
   a 1 becomes a wide slanted bar);
2. stroke thickness: blend towards a 3×3 dilation (thicker pen; up to two dilations when
   ``thickness_max`` > 1) or erosion (thinner pen);
3. low resolution: down to one of ``lowres_sizes`` pixels and back up (blurry, blocky scans);
4. binarisation at a random threshold (a black-and-white scan);
5. Gaussian blur;
6. contrast: a gamma curve, renormalised so the darkest ink is 1 (as ``digit_pictures.preprocess`` does),
   and additive noise.

Each stage except the affine one is applied to a random fraction of the batch (its ``*_prob``).
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.ndimage import map_coordinates


@dataclass(frozen=True)
class Augment:
    """The digit augmentation; every field is one knob of a stage above."""
    rotate_deg: float = 15.0
    scale: tuple = (0.85, 1.15)
    aspect: float = 0.15        # |log(width/height stretch)| at most
    shear: float = 0.25
    translate: float = 2.5      # pixels
    elastic_prob: float = 0.5
    elastic_px: float = 1.5     # displacement amplitude
    fill_prob: float = 0.0      # share of images whose short side is stretched towards the long one
    fill_max: float = 8.0       # at most this stretch factor (a 2-pixel-wide 1 is not made 20 wide)
    thickness_prob: float = 0.5
    thickness_max: float = 1.0  # 1: at most one 3×3 dilation; 2: up to two
    lowres_prob: float = 0.25
    lowres_sizes: tuple = (9, 11, 14, 18)
    binarise_prob: float = 0.0  # share of images thresholded to 0/1
    binarise_at: tuple = (0.3, 0.7)  # the threshold's range
    blur_prob: float = 0.25
    blur_sigma: tuple = (0.4, 1.2)
    gamma: tuple = (0.6, 1.6)
    noise_prob: float = 0.25
    noise_std: float = 0.08

    def __call__(self, key, x):
        ks = jax.random.split(key, 6)
        x = self.geometry(ks[0], x)
        x = self.thickness(ks[1], x)
        x = self.lowres(ks[2], x)
        x = self.binarise(ks[5], x)
        x = self.blur(ks[3], x)
        return self.contrast(ks[4], x)

    def geometry(self, key, x):
        b, h, w, _ = x.shape
        k = jax.random.split(key, 8)
        u = lambda i, lo, hi: jax.random.uniform(k[i], (b,), minval=lo, maxval=hi)
        theta = jnp.deg2rad(u(0, -self.rotate_deg, self.rotate_deg))
        s, a = u(1, *self.scale), jnp.exp(u(2, -self.aspect, self.aspect))
        sh = u(3, -self.shear, self.shear)
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        # forward map (output = M @ input): rotation · shear · scale; we sample with its inverse
        m = jnp.stack([jnp.stack([cos, -sin], -1), jnp.stack([sin, cos], -1)], -2)
        m = m @ jnp.stack([jnp.stack([jnp.ones(b), sh], -1), jnp.stack([jnp.zeros(b), jnp.ones(b)], -1)], -2)
        m = m * jnp.stack([s * a, s / a], -1)[:, None, :]
        cy, cx = (h - 1) / 2, (w - 1) / 2
        stretch, centre = self.fill(k[7], x, jnp.array([cy, cx]))
        inv = jnp.linalg.inv(m * stretch[:, None, :])
        t = jax.random.uniform(k[4], (b, 2), minval=-self.translate, maxval=self.translate)
        grid = jnp.stack(jnp.meshgrid(jnp.arange(h) - cy, jnp.arange(w) - cx, indexing="ij"), -1)  # (h, w, 2)
        src = jnp.einsum("bij,bhwj->bhwi", inv, grid[None] - t[:, None, None, :]) + centre[:, None, None, :]
        field = jax.random.uniform(k[5], (b, 4, 4, 2), minval=-1.0, maxval=1.0)
        field = jax.image.resize(field, (b, h, w, 2), "cubic") * self.elastic_px
        src = src + field * (jax.random.uniform(k[6], (b, 1, 1, 1)) < self.elastic_prob)
        sample = lambda img, c: map_coordinates(img, [c[..., 0], c[..., 1]], order=1, mode="constant", cval=0.0)
        return jax.vmap(sample)(x[..., 0], src)[..., None]

    def fill(self, key, x, middle):
        """Per image: the (row, column) stretch of the affine map and the point it stretches about.
        Images not drawn (1 - ``fill_prob``) get (1, 1) about the frame's ``middle``; the others
        stretch their ink's short side by (long / short)^f, f uniform in [0, 1.5] clipped to 1 (a
        third of them fill the square), about the ink's bounding-box centre."""
        b, h, w, _ = x.shape
        k1, k2 = jax.random.split(key)
        f = jnp.clip(jax.random.uniform(k1, (b,), maxval=1.5), 0.0, 1.0)
        f = f * (jax.random.uniform(k2, (b,)) < self.fill_prob)
        ink = x[..., 0] > 0.25

        def extent(any_, n):  # (first, last) index where any_ (b, n) holds; (0, n - 1) for none
            first = jnp.argmax(any_, -1)
            return first, jnp.where(any_.any(-1), n - 1 - jnp.argmax(any_[:, ::-1], -1), n - 1)
        r0, r1 = extent(ink.any(2), h)
        c0, c1 = extent(ink.any(1), w)
        tall, wide = (r1 - r0 + 1).astype(x.dtype), (c1 - c0 + 1).astype(x.dtype)
        ratio = jnp.minimum(jnp.maximum(tall, wide) / jnp.minimum(tall, wide), self.fill_max) ** f
        stretch = jnp.stack([jnp.where(tall < wide, ratio, 1.0), jnp.where(tall < wide, 1.0, ratio)], -1)
        box = jnp.stack([(r0 + r1) / 2, (c0 + c1) / 2], -1).astype(x.dtype)
        return stretch, jnp.where((f > 0)[:, None], box, middle)

    def thickness(self, key, x):
        k1, k2 = jax.random.split(key)
        b = x.shape[0]
        t = jax.random.uniform(k1, (b, 1, 1, 1), minval=-0.7, maxval=self.thickness_max)
        t = t * (jax.random.uniform(k2, (b, 1, 1, 1)) < self.thickness_prob)
        window = lambda a, op, init: jax.lax.reduce_window(a, init, op, (1, 3, 3, 1), (1, 1, 1, 1), "SAME")
        dilated, eroded = window(x, jax.lax.max, -jnp.inf), window(x, jax.lax.min, jnp.inf)
        out = x + jnp.clip(t, 0.0, 1.0) * (dilated - x) + jax.nn.relu(-t) * (eroded - x)
        if self.thickness_max > 1:  # a second dilation beyond t = 1
            out = out + jax.nn.relu(t - 1.0) * (window(dilated, jax.lax.max, -jnp.inf) - dilated)
        return out

    def binarise(self, key, x):
        k1, k2 = jax.random.split(key)
        b = x.shape[0]
        at = jax.random.uniform(k1, (b, 1, 1, 1), minval=self.binarise_at[0], maxval=self.binarise_at[1])
        use = jax.random.uniform(k2, (b, 1, 1, 1)) < self.binarise_prob
        return jnp.where(use, (x > at * x.max(axis=(1, 2, 3), keepdims=True)).astype(x.dtype), x)

    def lowres(self, key, x):
        b, h, w, c = x.shape
        k1, k2 = jax.random.split(key)
        out = x
        which = jax.random.randint(k1, (b, 1, 1, 1), 0, len(self.lowres_sizes))
        use = jax.random.uniform(k2, (b, 1, 1, 1)) < self.lowres_prob
        for i, r in enumerate(self.lowres_sizes):
            small = jax.image.resize(x, (b, r, r, c), "linear", antialias=True)
            out = jnp.where(use & (which == i), jax.image.resize(small, (b, h, w, c), "linear"), out)
        return out

    def blur(self, key, x):
        k1, k2 = jax.random.split(key)
        b = x.shape[0]
        sigma = jax.random.uniform(k1, (b, 1, 1, 1), minval=self.blur_sigma[0], maxval=self.blur_sigma[1])
        return jnp.where(jax.random.uniform(k2, (b, 1, 1, 1)) < self.blur_prob, gaussian_blur(x, sigma), x)

    def contrast(self, key, x):
        k1, k2, k3 = jax.random.split(key, 3)
        b = x.shape[0]
        g = jnp.exp(jax.random.uniform(k1, (b, 1, 1, 1), minval=jnp.log(self.gamma[0]), maxval=jnp.log(self.gamma[1])))
        x = jnp.clip(x, 0.0, None)
        x = x / jnp.maximum(x.max(axis=(1, 2, 3), keepdims=True), 1e-6)
        x = x ** g
        noise = jax.random.normal(k2, x.shape) * self.noise_std * (jax.random.uniform(k3, (b, 1, 1, 1)) < self.noise_prob)
        return jnp.clip(x + noise, 0.0, 1.0)


def gaussian_blur(x, sigma):
    """Each image of ``x`` (B, H, W, C) blurred by a separable 5-tap Gaussian of its own ``sigma``
    (B, 1, 1, 1), zero padded."""
    b = x.shape[0]
    taps = jnp.arange(-2, 3, dtype=x.dtype)
    wts = jnp.exp(-taps[None, :] ** 2 / (2 * sigma.reshape(b, 1) ** 2))
    wts = wts / wts.sum(-1, keepdims=True)                                         # (b, 5)
    y = x
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (2, 2)
        yp, n = jnp.pad(y, pad), y.shape[axis]
        y = sum(wts[:, i, None, None, None] * jax.lax.slice_in_dim(yp, i, i + n, axis=axis) for i in range(5))
    return y


# JPEG's luminance quantisation table (ITU-T T.81, Annex K), for quality 50
JPEG_LUMA = np.array([  # numpy: importing starts no JAX backend
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], np.float32)


def _dct8() -> jnp.ndarray:
    k, n = jnp.arange(8)[:, None], jnp.arange(8)[None, :]
    d = jnp.cos(jnp.pi * (2 * n + 1) * k / 16) * jnp.sqrt(2 / 8)
    return d.at[0].set(d[0] / jnp.sqrt(2.0))  # orthonormal DCT-II


def jpeg(x, quality):
    """JPEG's lossy step on grey images ``x`` (B, H, W, 1) in [0, 1], H and W multiples of 8 (else
    the edge is left as is): each 8×8 block's DCT rounded to the luminance table scaled for its
    ``quality`` (B,) in 1..100 (libjpeg's scaling), then back. What it drops (fine texture, block
    edges) is what a streamed webcam's JPEG drops; the entropy coding it leaves out is lossless."""
    b, h, w, _ = x.shape
    hb, wb = h // 8, w // 8
    q = jnp.clip(quality, 1, 100)
    scale = jnp.where(q < 50, 5000 / q, 200 - 2 * q)[:, None, None, None, None]
    table = jnp.clip(jnp.floor((JPEG_LUMA * scale + 50) / 100), 1, 255)           # (b, 1, 1, 8, 8)
    d = _dct8()
    core = x[:, :hb * 8, :wb * 8, 0] * 255 - 128
    blocks = core.reshape(b, hb, 8, wb, 8).transpose(0, 1, 3, 2, 4)                # (b, hb, wb, 8, 8)
    coef = d @ blocks @ d.T
    back = d.T @ (jnp.round(coef / table) * table) @ d
    out = (back.transpose(0, 1, 3, 2, 4).reshape(b, hb * 8, wb * 8) + 128) / 255
    return jnp.clip(x.at[:, :hb * 8, :wb * 8, 0].set(out), 0.0, 1.0)


@dataclass(frozen=True)
class CropFlip:
    """The standard augmentation of natural images (CIFAR-10): a random ``size``×``size`` crop of
    the image zero-padded by ``pad`` pixels, and a horizontal flip with probability 1/2, each
    image with its own draw. ``CropFlip()(key, x)`` keeps x's shape (B, H, W, C)."""
    pad: int = 4

    def __call__(self, key, x):
        b, h, w, _ = x.shape
        k1, k2, k3 = jax.random.split(key, 3)
        xp = jnp.pad(x, ((0, 0), (self.pad, self.pad), (self.pad, self.pad), (0, 0)))
        dy = jax.random.randint(k1, (b,), 0, 2 * self.pad + 1)
        dx = jax.random.randint(k2, (b,), 0, 2 * self.pad + 1)
        crop = jax.vmap(lambda im, i, j: jax.lax.dynamic_slice(im, (i, j, 0), (h, w, im.shape[-1])))(xp, dy, dx)
        flip = jax.random.uniform(k3, (b, 1, 1, 1)) < 0.5
        return jnp.where(flip, crop[:, :, ::-1], crop)


@dataclass(frozen=True)
class FaceAugment:
    """Augmentation of grey faces (FER2013, 48×48): one random affine map per image (rotation,
    zoom, shift, horizontal flip) sampled bilinearly with the edge pixels repeated, cropped to
    ``size``×``size`` around the shifted centre, then brightness (added) and contrast (scaled about
    the image's mean). ``FaceAugment()(key, x)`` maps (B, H, W, 1) in [0, 1] to (B, size, size, 1);
    ``size`` = 0 keeps H×W. Training on crops smaller than the image and classifying the whole
    image works for networks that end in global average pooling (the face keeps its scale)."""
    size: int = 40
    rotate_deg: float = 10.0
    zoom: tuple = (0.9, 1.1)
    shift: float = 4.0          # pixels, each axis
    flip: bool = True
    brightness: float = 0.15    # added, uniform in ±
    contrast: tuple = (0.7, 1.3)
    # another camera (each stage on its share of the faces; all off by default): exposure (a gamma
    # curve), distance (down to one of ``lowres_sizes`` px and back), focus (blur), a streamed
    # webcam (``jpeg`` at a quality in ``jpeg_quality``) and sensor noise, in that order
    gamma_prob: float = 0.0
    gamma: tuple = (0.5, 2.0)
    lowres_prob: float = 0.0
    lowres_sizes: tuple = (12, 16, 24)
    blur_prob: float = 0.0
    blur_sigma: tuple = (0.5, 1.5)
    jpeg_prob: float = 0.0
    jpeg_quality: tuple = (10, 60)
    noise_prob: float = 0.0
    noise_std: tuple = (0.02, 0.06)  # σ of the Gaussian noise, uniform in this range

    def __call__(self, key, x):
        b, h, w, _ = x.shape
        size = self.size or h
        k = jax.random.split(key, 7)
        theta = jnp.deg2rad(jax.random.uniform(k[0], (b,), minval=-self.rotate_deg, maxval=self.rotate_deg))
        zoom = jax.random.uniform(k[1], (b,), minval=self.zoom[0], maxval=self.zoom[1])
        shift = jax.random.uniform(k[2], (b, 2), minval=-self.shift, maxval=self.shift)
        mirror = jnp.where(self.flip & (jax.random.uniform(k[3], (b,)) < 0.5), -1.0, 1.0)
        cos, sin = jnp.cos(theta) / zoom, jnp.sin(theta) / zoom
        # output pixel offset (u, v) from the crop's centre -> source offset: inverse rotation and zoom,
        # the column mirrored first for a flip
        inv = jnp.stack([jnp.stack([cos, sin * mirror], -1), jnp.stack([-sin, cos * mirror], -1)], -2)
        off = jnp.arange(size) - (size - 1) / 2
        grid = jnp.stack(jnp.meshgrid(off, off, indexing="ij"), -1)                  # (size, size, 2)
        src = jnp.einsum("bij,hwj->bhwi", inv, grid) + shift[:, None, None, :] + jnp.array([(h - 1) / 2, (w - 1) / 2])
        sample = lambda img, c: map_coordinates(img, [c[..., 0], c[..., 1]], order=1, mode="nearest")
        y = jax.vmap(sample)(x[..., 0], src)[..., None]
        mean = y.mean(axis=(1, 2, 3), keepdims=True)
        c = jax.random.uniform(k[4], (b, 1, 1, 1), minval=self.contrast[0], maxval=self.contrast[1])
        d = jax.random.uniform(k[5], (b, 1, 1, 1), minval=-self.brightness, maxval=self.brightness)
        y = jnp.clip((y - mean) * c + mean + d, 0.0, 1.0)
        return self.camera(k[6], y) if self.camera_stages else y

    @property
    def camera_stages(self) -> bool:
        return any((self.gamma_prob, self.lowres_prob, self.blur_prob, self.jpeg_prob, self.noise_prob))

    def camera(self, key, y):
        """The other-camera stages on faces ``y`` (B, S, S, 1) in [0, 1]."""
        b, s = y.shape[0], y.shape[1]
        k = jax.random.split(key, 11)
        use = lambda i, p: jax.random.uniform(k[i], (b, 1, 1, 1)) < p
        u = lambda i, lo, hi: jax.random.uniform(k[i], (b, 1, 1, 1), minval=lo, maxval=hi)
        g = jnp.exp(u(1, jnp.log(self.gamma[0]), jnp.log(self.gamma[1])))
        y = jnp.where(use(0, self.gamma_prob), y ** g, y)
        which = jax.random.randint(k[3], (b, 1, 1, 1), 0, len(self.lowres_sizes))
        small = use(2, self.lowres_prob)
        for i, r in enumerate(self.lowres_sizes):
            down = jax.image.resize(y, (b, r, r, 1), "linear", antialias=True)
            y = jnp.where(small & (which == i), jax.image.resize(down, (b, s, s, 1), "cubic"), y)
        y = jnp.where(use(4, self.blur_prob), gaussian_blur(y, u(5, *self.blur_sigma)), y)
        quality = jax.random.uniform(k[7], (b,), minval=self.jpeg_quality[0], maxval=self.jpeg_quality[1])
        y = jnp.where(use(6, self.jpeg_prob), jpeg(y, jnp.round(quality)), y)
        noise = jax.random.normal(k[9], y.shape) * u(10, *self.noise_std)
        return jnp.clip(jnp.where(use(8, self.noise_prob), y + noise, y), 0.0, 1.0)
