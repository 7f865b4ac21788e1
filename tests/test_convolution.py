"""convolution: im2col and Winograd F(2×2, 3×3) equal a float64 reference convolution, in value and in
both gradients, and conv2d picks the algorithm it documents (jexp.nn.convolution)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jexp.nn import convolution


def reference(x, k, strides, padding):
    """Direct cross-correlation in float64 numpy, one output position at a time (NHWC, HWIO)."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    (kh, kw, _, f), (sh, sw) = k.shape, strides
    if padding == "SAME":
        pads = [convolution.same_pads(x.shape[1], kh, sh), convolution.same_pads(x.shape[2], kw, sw)]
        x = np.pad(x, ((0, 0), *pads, (0, 0)))
    ho, wo = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], ho, wo, f))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            out[:, i, j] = np.einsum("nhwc,hwcf->nf", patch, k)
    return out


def reference_grads(x, k, strides, padding, dy):
    """Gradients of Σ dy·conv(x, k) w.r.t. x and k, by the same direct loops in float64."""
    x64, k64 = np.asarray(x, np.float64), np.asarray(k, np.float64)
    (kh, kw, _, _), (sh, sw) = k64.shape, strides
    pads = ([convolution.same_pads(x.shape[1], kh, sh), convolution.same_pads(x.shape[2], kw, sw)]
            if padding == "SAME" else [(0, 0), (0, 0)])
    xp = np.pad(x64, ((0, 0), *pads, (0, 0)))
    gx, gk = np.zeros_like(xp), np.zeros_like(k64)
    dy = np.asarray(dy, np.float64)
    for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
            sl = (slice(None), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            gx[sl] += np.einsum("nf,hwcf->nhwc", dy[:, i, j], k64)
            gk += np.einsum("nhwc,nf->hwcf", xp[sl], dy[:, i, j])
    (t, b), (l, r) = pads
    return gx[:, t:gx.shape[1] - b, l:gx.shape[2] - r], gk


CASES = [  # input H, W, channels, filters, kernel, strides, padding
    (9, 10, 16, 8, (3, 3), (1, 1), "VALID"), (8, 8, 8, 4, (3, 3), (1, 1), "SAME"),
    (7, 5, 12, 3, (3, 3), (1, 1), "SAME"), (6, 9, 9, 5, (3, 3), (1, 1), "VALID"),   # odd sizes: padded tiles
    (9, 9, 3, 4, (3, 3), (2, 2), "SAME"), (8, 9, 3, 4, (2, 3), (1, 2), "SAME"), (10, 10, 2, 3, (5, 5), (2, 2), "SAME"),
    (4, 4, 3, 2, (1, 1), (1, 1), "VALID")]


@pytest.mark.parametrize("algorithm, h, w, c, f, kernel, strides, padding",
                         [("im2col", *case) for case in CASES]
                         + [("winograd", *case) for case in CASES if case[4:6] == ((3, 3), (1, 1))])
def test_convolution_and_its_gradients_equal_a_float64_reference(algorithm, h, w, c, f, kernel, strides, padding):
    rs = np.random.default_rng(h * 100 + c)
    x = rs.standard_normal((2, h, w, c)).astype(np.float32)
    k = rs.standard_normal((*kernel, c, f)).astype(np.float32)
    conv = {"im2col": lambda x, k: convolution.im2col(x, k, strides, padding),
            "winograd": lambda x, k: convolution.winograd(x, k, padding)}[algorithm]
    y, pullback = jax.vjp(conv, jnp.asarray(x), jnp.asarray(k))
    ref = reference(x, k, strides, padding)
    scale = np.abs(ref).max()
    assert y.shape == ref.shape and y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y), ref, atol=3e-6 * scale, rtol=0)
    dy = rs.standard_normal(ref.shape).astype(np.float32)
    gx, gk = pullback(jnp.asarray(dy))
    rgx, rgk = reference_grads(x, k, strides, padding, dy)
    np.testing.assert_allclose(np.asarray(gx), rgx, atol=3e-6 * np.abs(rgx).max(), rtol=0)
    np.testing.assert_allclose(np.asarray(gk), rgk, atol=3e-6 * np.abs(rgk).max(), rtol=0)


def test_the_reference_is_a_convolution():
    """The float64 reference itself, on a case worked by hand: a 3×3 box sum of 1..16."""
    x = np.arange(1, 17, dtype=np.float64).reshape(1, 4, 4, 1)
    out = reference(x, np.ones((3, 3, 1, 1)), (1, 1), "VALID")
    assert out[0, :, :, 0].tolist() == [[54, 63], [90, 99]]


def test_conv2d_picks_winograd_for_3x3_stride_1_over_enough_channels():
    c = convolution.WINOGRAD_MIN_CHANNELS
    assert convolution.algorithm((3, 3, c, 4), (1, 1)) == "winograd"
    assert convolution.algorithm((3, 3, c - 1, 4), (1, 1)) == "im2col"   # a grey first layer
    assert convolution.algorithm((3, 3, c, 4), (2, 2)) == "im2col"
    assert convolution.algorithm((5, 5, c, 4), (1, 1)) == "im2col"
    x = jnp.asarray(np.random.default_rng(0).standard_normal((1, 6, 6, c)), jnp.float32)
    k = jnp.asarray(np.random.default_rng(1).standard_normal((3, 3, c, 2)), jnp.float32)
    assert np.array_equal(convolution.conv2d(x, k, (1, 1), "SAME"), convolution.winograd(x, k, "SAME"))
    with pytest.raises(ValueError, match="3×3"):
        convolution.winograd(x, jnp.zeros((5, 5, c, 2)))
