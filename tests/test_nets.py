"""nets: layers equal the reference lax/flax operations; training a BatchNorm/dropout CNN works."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jexp import augment, nets, train
from jexp.nets import Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D


@pytest.mark.parametrize("kernel, strides, padding, size", [
    ((3, 3), (1, 1), "VALID", 9), ((3, 3), (2, 2), "SAME", 9), ((2, 3), (1, 2), "SAME", 8),
    ((5, 5), (2, 2), "SAME", 10), ((1, 1), (1, 1), "VALID", 4)])
def test_im2col_conv_equals_lax_conv(kernel, strides, padding, size):
    x = jax.random.normal(jax.random.key(0), (2, size, size + 1, 3), jnp.float32)
    conv = nets.Conv(4, kernel, strides, padding)
    params = conv.init(jax.random.key(1), x)
    ours = conv.apply(params, x)
    ref = jax.lax.conv_general_dilated(x, params["params"]["kernel"], strides, padding,
                                       dimension_numbers=("NHWC", "HWIO", "NHWC")) + params["params"]["bias"]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("window, strides, padding", [((2, 2), (2, 2), "VALID"), ((2, 2), (2, 2), "SAME"),
                                                       ((3, 3), (2, 2), "SAME"), ((3, 2), (3, 2), "SAME")])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_equals_flax(window, strides, padding, kind):
    x = jax.random.normal(jax.random.key(0), (2, 7, 9, 3))
    ours = nets._pool(x, window, strides, padding, kind)
    ref = (nn.max_pool(x, window, strides, padding) if kind == "max"
           else nn.avg_pool(x, window, strides, padding, count_include_pad=False))
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)


def test_specs_are_canonical_and_names_follow_keras():
    assert Conv2D(8, 3) == Conv2D(8, (3, 3), (1, 1))
    assert MaxPool2D(2) == MaxPool2D((2, 2), (2, 2))
    with pytest.raises(ValueError, match="padding"):
        Conv2D(8, 3, padding="full")
    layers = (Conv2D(2), BatchNorm(), Conv2D(2), Dense(3), Dense(3), Activation("relu"))
    assert nets.layer_names(layers) == ["conv2d", "batch_normalization", "conv2d_1", "dense", "dense_1", "activation"]


def test_train_mode_updates_batch_stats_and_dropout_depends_on_key():
    net = nets.Sequential((4,), (Dense(8), BatchNorm(momentum=0.5), Dropout(0.5), Dense(2)))
    params, state = nets.init(net, jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (16, 4)) * 3 + 1
    out1, new = nets.apply(net, params, state, x, train=True, key=jax.random.key(2))
    out2, _ = nets.apply(net, params, state, x, train=True, key=jax.random.key(3))
    h = x @ params["dense"]["kernel"] + params["dense"]["bias"]
    np.testing.assert_allclose(new["batch_stats"]["batch_normalization"]["mean"], 0.5 * h.mean(0), rtol=1e-5)
    assert not np.allclose(out1, out2)
    np.testing.assert_array_equal(nets.apply(net, params, state, x), nets.apply(net, params, state, x))


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


def test_fit_net_learns_a_tiny_cnn_with_augmentation_bitwise_reproducibly(fake_data_dir, tmp_path):
    from jexp import data
    ds = data.load("mnist", fake_data_dir)
    d = train.make_data(ds.train, ds.test, jax.random.key(0), 16)
    net = nets.Sequential((28, 28, 1), (Conv2D(4, 3, strides=2), BatchNorm(), Activation("relu"), MaxPool2D(),
                                        Flatten(), Dropout(0.1), Dense(10)))
    aug = augment.Augment(rotate_deg=5, lowres_sizes=(14,), elastic_prob=0.0)
    go = lambda ckpt=None, progress=None: train.fit_net(net, d, 3, batch_size=32, lr=1e-2, augment=aug,
                                                         ckpt_dir=ckpt, progress=progress)
    params, state, hist = go()
    assert hist["test_acc"][-1] > 0.5 and hist["test_acc"][-1] > hist["test_acc"][0]
    assert state["batch_stats"]["batch_normalization"]["var"].shape == (4,)

    class StopAfter2:  # interrupts the run after the epoch-2 checkpoint
        n = 0

        def update(self, k=1):
            self.n += k
            if self.n == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        go(str(tmp_path / "ck"), StopAfter2())
    params3, state3, hist3 = go(str(tmp_path / "ck"))  # resumed from epoch 2: the same bits
    for a, b in zip(jax.tree.leaves((params, state)), jax.tree.leaves((params3, state3))):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(hist["test_acc"], hist3["test_acc"])


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


def test_the_emotion_net_classifies_whole_faces_after_training_on_crops():
    params, state = nets.init(nets.EMOTION_CNN, jax.random.key(0))
    assert 1.1e6 < nets.count_params(params) < 1.2e6
    for side in (40, 48):
        assert nets.apply(nets.EMOTION_CNN, params, state, jnp.zeros((2, side, side, 1))).shape == (2, 7)
