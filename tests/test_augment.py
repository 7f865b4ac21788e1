"""On-device augmentation of digits, natural images and faces (jexp.nn.augment)."""

import jax
import jax.numpy as jnp
import numpy as np

from jexp.nn import augment


def test_crop_flip_keeps_shape_and_moves_content():
    x = jax.random.uniform(jax.random.key(0), (16, 32, 32, 3))
    y = augment.CropFlip()(jax.random.key(1), x)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert not np.allclose(y, x)
    same = augment.CropFlip(pad=0)(jax.random.key(1), x)  # no padding: only flips
    for a, b in zip(same, x):
        assert np.array_equal(a, b) or np.array_equal(a, b[:, ::-1])


def test_augment_without_randomness_is_the_identity_and_otherwise_keyed():
    x = jax.random.uniform(jax.random.key(0), (4, 28, 28, 1)) ** 4
    x = x / x.max(axis=(1, 2, 3), keepdims=True)
    still = augment.Augment(rotate_deg=0, scale=(1, 1), aspect=0, shear=0, translate=0, elastic_prob=0,
                            thickness_prob=0, lowres_prob=0, blur_prob=0, gamma=(1, 1), noise_prob=0)
    np.testing.assert_allclose(still(jax.random.key(1), x), x, atol=1e-5)
    aug = augment.Augment()
    a, b = aug(jax.random.key(1), x), aug(jax.random.key(2), x)
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    np.testing.assert_array_equal(a, aug(jax.random.key(1), x))
    assert not np.allclose(a, b)


def test_face_augment_crops_flips_and_is_the_identity_when_switched_off():
    x = jax.random.uniform(jax.random.key(0), (6, 48, 48, 1))
    off = dict(rotate_deg=0, zoom=(1, 1), shift=0, flip=False, brightness=0, contrast=(1, 1))
    np.testing.assert_array_equal(augment.FaceAugment(size=0, **off)(jax.random.key(1), x), x)
    np.testing.assert_allclose(augment.FaceAugment(size=40, **off)(jax.random.key(1), x), x[:, 4:44, 4:44], atol=1e-6)
    flips = augment.FaceAugment(size=0, **{**off, "flip": True})(jax.random.key(2), x)
    mirrored = [bool(np.allclose(f, im[:, ::-1], atol=1e-6)) for f, im in zip(np.asarray(flips), np.asarray(x))]
    kept = [bool(np.allclose(f, im, atol=1e-6)) for f, im in zip(np.asarray(flips), np.asarray(x))]
    assert all(m != k for m, k in zip(mirrored, kept)) and any(mirrored) and any(kept)
    aug = augment.FaceAugment()
    y = aug(jax.random.key(3), x)
    assert y.shape == (6, 40, 40, 1) and float(y.min()) >= 0 and float(y.max()) <= 1
    np.testing.assert_array_equal(y, aug(jax.random.key(3), x))
    assert not np.array_equal(y, aug(jax.random.key(4), x))


def _bar(width: int = 3) -> np.ndarray:
    """A thin upright stroke: 20 rows tall, ``width`` columns wide, centred in a 28×28 frame."""
    x = np.zeros((28, 28, 1), np.float32)
    x[4:24, 14 - width // 2:14 - width // 2 + width] = 1.0
    return x


def _extent(image, axis: int) -> int:
    ink = np.asarray(image)[..., 0] > 0.25
    span = np.nonzero(ink.any(axis))[0]
    return int(span[-1] - span[0] + 1) if len(span) else 0


QUIET = dict(rotate_deg=0, scale=(1, 1), aspect=0, shear=0, translate=0, elastic_prob=0, thickness_prob=0,
             lowres_prob=0, blur_prob=0, gamma=(1, 1), noise_prob=0)


def test_fill_stretches_the_short_side_towards_the_long_one_and_is_off_by_default():
    x = np.stack([_bar()] * 64)
    y = augment.Augment(**QUIET, fill_prob=1.0)(jax.random.key(0), x)
    widths = [_extent(im, 0) for im in y]
    heights = [_extent(im, 1) for im in y]
    assert min(widths) >= 3 and max(widths) >= 18  # about a third fill the square: 20 columns
    assert all(abs(h - 20) <= 1 for h in heights)  # the long side keeps its length
    assert sum(w > 4 for w in widths) > 32  # f is drawn in [0, 1.5]: most images are stretched
    np.testing.assert_array_equal(augment.Augment(**QUIET)(jax.random.key(0), x), augment.Augment(
        **QUIET, fill_prob=0.0)(jax.random.key(0), x))
    np.testing.assert_allclose(augment.Augment(**QUIET)(jax.random.key(0), x), x, atol=1e-5)


def test_binarise_gives_black_and_white_and_a_second_dilation_thickens_further():
    x = jax.random.uniform(jax.random.key(0), (16, 28, 28, 1))
    y = np.asarray(augment.Augment(**QUIET, binarise_prob=1.0)(jax.random.key(1), x))
    assert set(np.unique(y)) <= {0.0, 1.0} and 0 < y.mean() < 1
    dot = np.zeros((64, 28, 28, 1), np.float32)
    dot[:, 14, 14] = 1.0
    one = augment.Augment(**{**QUIET, "thickness_prob": 1.0})(jax.random.key(2), dot)
    two = augment.Augment(**{**QUIET, "thickness_prob": 1.0, "thickness_max": 2.0})(jax.random.key(2), dot)
    assert max(_extent(im, 0) for im in one) == 3  # one 3×3 dilation at most
    assert max(_extent(im, 0) for im in two) == 5  # up to two


def _smooth_faces(n=4, side=48, seed=0):
    import cv2
    rng = np.random.default_rng(seed)
    return np.stack([cv2.resize(rng.uniform(0, 1, (6, 6)).astype(np.float32), (side, side),
                                interpolation=cv2.INTER_CUBIC).clip(0, 1) for _ in range(n)])[..., None]


def test_jpeg_is_opencvs_lossy_step():
    import cv2
    x = _smooth_faces() * 0.8 + 0.1 + np.random.default_rng(1).normal(0, 0.05, (4, 48, 48, 1)).astype(np.float32)
    x = np.round(np.clip(x, 0, 1) * 255) / 255
    for q in (15, 50, 90):
        ours = np.asarray(augment.jpeg(jnp.asarray(x, jnp.float32), jnp.full((4,), q)))[..., 0] * 255
        ref = np.stack([cv2.imdecode(cv2.imencode(".jpg", np.uint8(im[..., 0] * 255), [cv2.IMWRITE_JPEG_QUALITY, q])[1],
                                     cv2.IMREAD_GRAYSCALE) for im in x])
        assert np.abs(ours - ref).mean() < 1.0 < np.abs(x[..., 0] * 255 - ref).mean()  # close to it, far from the input


def test_face_augment_camera_stages_are_off_by_default_and_each_does_its_job():
    x = jnp.asarray(_smooth_faces(8))
    key = jax.random.key(3)
    plain = augment.FaceAugment(size=0)
    base = np.asarray(plain(key, x))
    assert not plain.camera_stages
    gamma = np.asarray(augment.FaceAugment(size=0, gamma_prob=1.0)(key, x))  # the same crops, each to a power
    g = np.log(np.clip(gamma, 1e-3, None)) / np.log(np.clip(base, 1e-3, None))
    inner = (base > 0.05) & (base < 0.95)
    for i in range(8):
        assert 0.5 <= np.median(g[i][inner[i]]) <= 2.0 and np.std(g[i][inner[i]]) < 0.05
    noisy = np.asarray(augment.FaceAugment(size=0, noise_prob=1.0)(key, x)) - base
    assert 0.015 < np.std(noisy[inner]) < 0.07
    far = np.asarray(augment.FaceAugment(size=0, lowres_prob=1.0, lowres_sizes=(8,))(key, x))
    detail = lambda a: np.abs(np.diff(a, axis=1)).mean()
    assert detail(far) < 0.9 * detail(base)
