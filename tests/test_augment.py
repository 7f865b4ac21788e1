"""On-device augmentation of digits, natural images and faces (jexp.nn.augment)."""

import jax
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
