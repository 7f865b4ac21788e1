"""nets: layers equal the reference lax/flax operations, Keras-like specs and names, BatchNorm and dropout
modes, a trained net as a classifier (jexp.nn.nets)."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jexp.nn import nets
from jexp.nn.nets import Activation, BatchNorm, Conv2D, Dense, Dropout, MaxPool2D


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


def test_classifier_drops_a_final_softmax():
    net = nets.Sequential((4,), (Dense(3, "softmax"),))
    params, state = nets.init(net, jax.random.key(0))
    f, v = nets.classifier(net, params, state)
    x = jnp.ones((2, 4))
    logits = f(v, x)
    np.testing.assert_allclose(jax.nn.softmax(logits), nets.apply(net, params, state, x), rtol=1e-6)
    assert not np.allclose(jnp.sum(logits, -1), 1.0)
