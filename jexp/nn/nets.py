"""Sequential networks described by a tuple of layer specs, built as one flax linen module.

The spec is the architecture: the same tuple builds the linen module, names its parameters and
is written to (and read from) a Keras ``.h5`` file by ``jexp.io.keras_h5``. Specs mirror Keras'
layers and defaults (channels-last images, glorot-uniform kernels, zero biases, BatchNorm
momentum 0.99 and epsilon 1e-3, pooling strides = pool size), so a model means the same thing in
both. Example::

    net = Sequential((28, 28, 1), (Conv2D(32, 3, activation="relu"), MaxPool2D(), Flatten(),
                                   Dense(10)))
    params, state = init(net, jax.random.key(0))
    logits = net.apply({"params": params, **state}, x)          # inference
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from jexp.nn import activations, convolution

Pair = Union[int, tuple]


def _pair(v: Pair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(int(i) for i in v)


def activation(name: Optional[str]):
    if name in (None, "linear"):
        return lambda x: x
    if name == "softmax":
        return jax.nn.softmax
    return activations.get(name)


def _check_padding(padding):
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def _canonical_pool(layer):
    object.__setattr__(layer, "pool_size", _pair(layer.pool_size))
    object.__setattr__(layer, "strides", layer.pool_size if layer.strides is None else _pair(layer.strides))
    _check_padding(layer.padding)


@dataclass(frozen=True)
class Dense:
    units: int
    activation: Optional[str] = None
    use_bias: bool = True


@dataclass(frozen=True)
class Conv2D:
    filters: int
    kernel_size: Pair = 3
    strides: Pair = 1
    padding: str = "valid"  # "valid" or "same" (TensorFlow's rule: the extra pad goes at the end)
    activation: Optional[str] = None
    use_bias: bool = True

    def __post_init__(self):  # canonical form: pairs, so equal layers compare equal
        object.__setattr__(self, "kernel_size", _pair(self.kernel_size))
        object.__setattr__(self, "strides", _pair(self.strides))
        _check_padding(self.padding)


@dataclass(frozen=True)
class MaxPool2D:
    pool_size: Pair = 2
    strides: Optional[Pair] = None  # None: the pool size
    padding: str = "valid"

    def __post_init__(self):
        _canonical_pool(self)


@dataclass(frozen=True)
class AvgPool2D:
    pool_size: Pair = 2
    strides: Optional[Pair] = None
    padding: str = "valid"  # with "same", padded cells are not counted (as in Keras)

    def __post_init__(self):
        _canonical_pool(self)


@dataclass(frozen=True)
class GlobalAvgPool2D:
    pass


@dataclass(frozen=True)
class Flatten:
    pass


@dataclass(frozen=True)
class Reshape:
    target_shape: tuple  # without the batch axis

    def __post_init__(self):
        object.__setattr__(self, "target_shape", tuple(self.target_shape))


@dataclass(frozen=True)
class Dropout:
    rate: float


@dataclass(frozen=True)
class BatchNorm:
    momentum: float = 0.99
    epsilon: float = 1e-3


@dataclass(frozen=True)
class Activation:
    name: str


LAYERS = (Dense, Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D, Flatten, Reshape, Dropout,
          BatchNorm, Activation)
KERAS_NAME = {Dense: "dense", Conv2D: "conv2d", MaxPool2D: "max_pooling2d", AvgPool2D: "average_pooling2d",
              GlobalAvgPool2D: "global_average_pooling2d", Flatten: "flatten", Reshape: "reshape",
              Dropout: "dropout", BatchNorm: "batch_normalization", Activation: "activation"}


def layer_names(layers) -> list[str]:
    """Keras-style unique names in model order: conv2d, conv2d_1, …, dense, dense_1, …"""
    seen: dict[str, int] = {}
    out = []
    for layer in layers:
        base = KERAS_NAME[type(layer)]
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(base if n == 0 else f"{base}_{n}")
    return out


glorot = nn.initializers.glorot_uniform()


class Conv(nn.Module):
    """2-D convolution (NHWC, kernel HWIO, like Keras) computed as matmuls by
    ``convolution.conv2d``: Winograd's F(2×2, 3×3) for 3×3 stride-1 layers over ≥ 8 channels, im2col
    otherwise. Same numbers as ``lax.conv`` up to the order of sums; on CPU inside a loop (an epoch
    in ``lax.scan``) XLA's convolution and its gradient run far slower: bench/conv.py measures it
    on the suite's layers (artifacts/bench/conv.json, in the README's speed section)."""
    filters: int
    kernel_size: tuple
    strides: tuple = (1, 1)
    padding: str = "VALID"
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        kh, kw = self.kernel_size
        kernel = self.param("kernel", glorot, (kh, kw, x.shape[-1], self.filters))
        y = convolution.conv2d(x, kernel, self.strides, self.padding)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.filters,))
        return y


def _pool(x, window, strides, padding, kind):
    """Max or average pooling; the common case (stride = window) as a reshape, whose gradient is
    far cheaper on CPU than ``reduce_window``'s select-and-scatter."""
    if tuple(window) != tuple(strides):
        if kind == "max":
            return nn.max_pool(x, window, strides, padding=padding)
        return nn.avg_pool(x, window, strides, padding=padding, count_include_pad=False)
    (wh, ww), (n, h, w, c) = window, x.shape
    if padding == "SAME":
        ph, pw = (-h) % wh, (-w) % ww
        pads = ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0))
        mask = jnp.pad(jnp.ones((1, h, w, 1), x.dtype), pads)
        x = jnp.pad(x, pads, constant_values=-jnp.inf if kind == "max" else 0)
    else:
        x = x[:, :h // wh * wh, :w // ww * ww]
        mask = jnp.ones((1, x.shape[1], x.shape[2], 1), x.dtype)
    shape = (x.shape[1] // wh, wh, x.shape[2] // ww, ww)
    x = x.reshape(n, *shape, c)
    if kind == "max":
        return x.max(axis=(2, 4))
    return x.sum(axis=(2, 4)) / mask.reshape(1, *shape, 1).sum(axis=(2, 4))


class Sequential(nn.Module):
    """The layers in order. ``train=True`` uses batch statistics (and updates the moving ones in
    the ``batch_stats`` collection) and applies dropout (rng stream ``"dropout"``)."""
    input_shape: tuple
    layers: tuple

    @nn.compact
    def __call__(self, x, train: bool = False):
        for name, l in zip(layer_names(self.layers), self.layers):
            if isinstance(l, Dense):
                x = nn.Dense(l.units, use_bias=l.use_bias, kernel_init=glorot, name=name)(x)
                x = activation(l.activation)(x)
            elif isinstance(l, Conv2D):
                x = Conv(l.filters, l.kernel_size, l.strides, l.padding.upper(), l.use_bias,
                         name=name)(x)
                x = activation(l.activation)(x)
            elif isinstance(l, (MaxPool2D, AvgPool2D)):
                x = _pool(x, l.pool_size, l.strides, l.padding.upper(), "max" if isinstance(l, MaxPool2D) else "avg")
            elif isinstance(l, GlobalAvgPool2D):
                x = x.mean(axis=(1, 2))
            elif isinstance(l, Flatten):
                x = x.reshape(x.shape[0], -1)
            elif isinstance(l, Reshape):
                x = x.reshape(x.shape[0], *l.target_shape)
            elif isinstance(l, Dropout):
                x = nn.Dropout(l.rate, deterministic=not train, name=name)(x)
            elif isinstance(l, BatchNorm):
                x = nn.BatchNorm(use_running_average=not train, momentum=l.momentum, epsilon=l.epsilon,
                                 name=name)(x)
            elif isinstance(l, Activation):
                x = activation(l.name)(x)
            else:
                raise TypeError(f"unknown layer spec {l!r}")
        return x


def init(net: Sequential, key) -> tuple[dict, dict]:
    """(params, model_state) of ``net``; model_state holds ``batch_stats`` when it has BatchNorm."""
    variables = net.init(key, jnp.zeros((1, *net.input_shape), jnp.float32))
    params = variables["params"]
    return params, {k: v for k, v in variables.items() if k != "params"}


def apply(net: Sequential, params, model_state, x, train: bool = False, key=None):
    """Outputs of ``net``; with ``train=True`` also the updated model_state (needs ``key``
    when the net has dropout)."""
    variables = {"params": params, **(model_state or {})}
    if not train:
        return net.apply(variables, x)
    rngs = {"dropout": key} if key is not None else {}
    if not model_state:
        return net.apply(variables, x, train=True, rngs=rngs), model_state
    out, new_state = net.apply(variables, x, train=True, rngs=rngs, mutable=list(model_state))
    return out, dict(new_state)


def forward_fn(net: Sequential):
    """``(params, model_state, x, variant, key) -> (outputs, model_state)`` for ``train.Trainer``:
    training mode when ``key`` is given, inference otherwise (``variant`` is unused)."""
    def forward(params, model_state, x, variant, key=None):
        if key is None:
            return apply(net, params, model_state, x), model_state
        return apply(net, params, model_state, x, train=True, key=key)
    return forward


def count_params(params) -> int:
    return sum(int(a.size) for a in jax.tree.leaves(params))


def head(net: Sequential, params, model_state, n: int) -> tuple[Sequential, dict, dict]:
    """The first ``n`` layers of ``net`` as a net of their own, with their params and model_state
    (layer names are positional, so they are the same in both): e.g. an autoencoder's encoder."""
    keep = set(layer_names(net.layers[:n]))
    return (Sequential(net.input_shape, net.layers[:n]), {k: v for k, v in params.items() if k in keep},
            {c: {k: v for k, v in s.items() if k in keep} for c, s in (model_state or {}).items()})


def conv_outputs(net: Sequential, params, model_state, x) -> list[jax.Array]:
    """The output of every Conv2D layer of ``net`` (after its own activation, and the BatchNorm and
    Activation layers right after it), for inference on ``x``: one array (N, H, W, filters) each."""
    outs = []
    for i, layer in enumerate(net.layers):
        if not isinstance(layer, Conv2D):
            continue
        end = i + 1
        while end < len(net.layers) and isinstance(net.layers[end], (BatchNorm, Activation)):
            end += 1
        outs.append(apply(*head(net, params, model_state, end), x))
    return outs


# --- trained classifiers as functions ----------------------------------------------------------

def without_softmax(net: Sequential) -> Sequential:
    """``net`` giving logits: a final softmax Activation is dropped, a final Dense(…, softmax) made linear."""
    layers = net.layers
    if layers and isinstance(layers[-1], Activation) and layers[-1].name == "softmax":
        layers = layers[:-1]
    elif layers and isinstance(layers[-1], Dense) and layers[-1].activation == "softmax":
        layers = layers[:-1] + (Dense(layers[-1].units, None, layers[-1].use_bias),)
    return Sequential(net.input_shape, layers)


def classifier(net: Sequential, params, model_state=None) -> tuple[Callable, Any]:
    """(logits_fn, variables) for a trained ``net`` in inference mode; inputs of any shape with
    ``prod(net.input_shape)`` values per example are reshaped to it."""
    logits_net = without_softmax(net)

    def logits_fn(variables, x):
        return apply(logits_net, variables[0], variables[1], x.reshape(x.shape[0], *net.input_shape))
    return logits_fn, (params, model_state or {})


def probabilities(logits_fn, variables, temperature: float = 1.0):
    """``x -> softmax(logits_fn(variables, x) / temperature)``, jitted (the weights are constants of
    the program)."""
    return jax.jit(lambda x: jax.nn.softmax(logits_fn(variables, x) / temperature))
