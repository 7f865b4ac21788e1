"""2-D convolution on CPU as matmuls: im2col, and Winograd's F(2×2, 3×3) for 3×3 stride-1 layers.

NHWC inputs, HWIO kernels (Keras' layout), "VALID" or "SAME" padding, cross-correlation like
``lax.conv_general_dilated``. Why not XLA's own convolution: on CPU inside a training loop its
gradient runs 20–100× slower than these (bench/conv.py measures it on the suite's layers).

- ``im2col``: the kh·kw shifted views stacked on the channel axis, then one matmul with the kernel
  reshaped to (kh·kw·C, F). Every input value is copied kh·kw times.
- ``winograd``: the output in 2×2 tiles; each tile's 4×4 input patch is transformed (Bᵀ d B, sums and
  differences only), multiplied per position by the transformed kernel (G g Gᵀ) in 16 batched
  matmuls, and transformed back (Aᵀ m A) — 16 multiplications per 2×2 outputs and channel pair
  instead of 36 (Lavin & Gray 2016, "Fast algorithms for convolutional neural networks"). Its
  gradient is the same algorithm's transpose, which autodiff gives. It sums in another order than a
  direct convolution, so results differ in the last bits (tests compare both to a float64 reference).
- ``conv2d`` picks: Winograd for 3×3 stride-1 kernels over ≥ ``WINOGRAD_MIN_CHANNELS`` input channels
  (below that its matmuls are too thin to pay: e.g. a first layer on grey images), im2col otherwise.
  bench/profile_cnn.py and bench/peers.py measure the choice on the suite's CNNs.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

WINOGRAD_MIN_CHANNELS = 8

# F(2×2, 3×3): input transform Bᵀ (4×4), kernel transform G (4×3), output transform Aᵀ (2×4)
_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
_G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], np.float32)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)


def same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """(before, after) padding of one axis for "SAME" (TensorFlow's rule: the extra one after)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad_same(x, kh, kw, sh=1, sw=1):
    return jnp.pad(x, ((0, 0), same_pads(x.shape[1], kh, sh), same_pads(x.shape[2], kw, sw), (0, 0)))


def im2col(x, kernel, strides=(1, 1), padding="VALID"):
    """Convolution as one matmul over the stacked shifted views."""
    (kh, kw, _, f), (sh, sw) = kernel.shape, strides
    if padding == "SAME":
        x = _pad_same(x, kh, kw, sh, sw)
    ho, wo = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    cols = [x[:, i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw, :] for i in range(kh) for j in range(kw)]
    return jnp.concatenate(cols, -1) @ kernel.reshape(-1, f)


def _combine(coefficients, parts):
    """Σ c·part over the non-zero coefficients (here 0, ±1, ±½), written as adds and subtracts."""
    out = None
    for c, p in zip(coefficients, parts):
        if c == 0:
            continue
        term = p if c == 1 else -p if c == -1 else c * p
        out = term if out is None else out + term
    return out


def winograd(x, kernel, padding="VALID"):
    """3×3 stride-1 convolution by Winograd's F(2×2, 3×3)."""
    kh, kw, c, f = kernel.shape
    if (kh, kw) != (3, 3):
        raise ValueError(f"winograd needs a 3×3 kernel, got {kh}×{kw}")
    if padding == "SAME":
        x = _pad_same(x, 3, 3)
    n, h, w, _ = x.shape
    ho, wo = h - 2, w - 2
    th, tw = -(-ho // 2), -(-wo // 2)                      # 2×2 output tiles, the last ones padded
    x = jnp.pad(x, ((0, 0), (0, 2 * th + 2 - h), (0, 2 * tw + 2 - w), (0, 0)))
    rows = [x[:, a:a + 2 * th:2] for a in range(4)]          # row a of every tile: (n, th, W, c)
    rows = [_combine(_BT[u], rows) for u in range(4)]        # Bᵀ d, along the rows
    v = []
    for u in range(4):
        cols = [rows[u][:, :, b:b + 2 * tw:2] for b in range(4)]
        v += [_combine(_BT[t], cols) for t in range(4)]      # (Bᵀ d) B, along the columns
    v = jnp.stack(v).reshape(16, n * th * tw, c)
    u = jnp.einsum("ia,abcf,jb->ijcf", _G, kernel, _G).reshape(16, c, f)
    m = jnp.einsum("ktc,kcf->ktf", v, u).reshape(4, 4, n, th, tw, f)
    mr = [_combine(_AT[p], list(m)) for p in range(2)]      # Aᵀ m, along the rows
    y = [jnp.stack([_combine(_AT[q], list(mr[p])) for q in range(2)], 3) for p in range(2)]
    return jnp.stack(y, 2).reshape(n, 2 * th, 2 * tw, f)[:, :ho, :wo]


def algorithm(kernel_shape, strides) -> str:
    """"winograd" or "im2col": what ``conv2d`` uses for this kernel shape (HWIO) and strides."""
    kh, kw, c, _ = kernel_shape
    if (kh, kw) == (3, 3) and tuple(strides) == (1, 1) and c >= WINOGRAD_MIN_CHANNELS:
        return "winograd"
    return "im2col"


def conv2d(x, kernel, strides=(1, 1), padding="VALID"):
    """The convolution of ``x`` (NHWC) with ``kernel`` (HWIO), by the algorithm ``algorithm`` picks."""
    if algorithm(kernel.shape, strides) == "winograd":
        return winograd(x, kernel, padding)
    return im2col(x, kernel, strides, padding)
