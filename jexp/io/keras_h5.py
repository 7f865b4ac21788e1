"""Keras legacy HDF5 (``.h5``) files for ``nets.Sequential`` models, with h5py only.

``save`` writes a file that ``keras.models.load_model(path)`` loads, in Keras 3 and in Keras 2
(``tf.keras`` of TensorFlow ≤ 2.15, ``tf_keras``), into a model whose predictions equal
``nets.apply`` to float32 rounding; ``load`` reads such a file, or one written by Keras itself
(Sequential, or a Functional model that is a plain chain), back into (net, params, model_state);
``load_classifier`` gives a file's classifier as a function, checking its input shape.
What the format needs, and what goes wrong without it:

* Keras assigns weights by layer *order*: the ``layer_names`` attribute lists the layers in model
  order (never the sorted pytree order, where ``dense_10`` comes before ``dense_2``), and each
  layer's ``weight_names`` lists kernel before bias (BatchNorm: gamma, beta, moving_mean,
  moving_variance).
* The file follows Keras 2's conventions, which Keras 3 also reads (its legacy loader): the model
  config starts with an ``InputLayer`` whose ``batch_input_shape`` is ``[null, *input_shape]``
  (Keras 3's own key, ``batch_shape``, makes Keras 2 refuse the file: "Unrecognized keyword
  arguments"); layer configs hold only keys Keras 2 knows; weights are named ``layer/kernel:0``.
  ``tests/test_keras_h5.py`` checks all this against files written by Keras 2.21 itself.

Activations Keras does not know (``lecun``) are written by name; Keras users pass the function
in ``custom_objects``, see ``KERAS_CUSTOM_OBJECTS_SNIPPET`` (also in docs/keras.md).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from jexp.nn import nets

FORMAT_VERSION = "2.21.0"  # the Keras version whose legacy-h5 layout we write (Keras 3 reads it too)
KERAS_ACTIVATIONS = {"relu", "tanh", "sigmoid", "softmax", "elu", "linear"}
CUSTOM_ACTIVATIONS = {"lecun"}
KERAS_CUSTOM_OBJECTS_SNIPPET = """\
import keras
custom_objects = {"lecun": lambda x: 1.7159 * keras.ops.tanh(2.0 * x / 3.0) + 0.01 * x}
model = keras.models.load_model(path, custom_objects=custom_objects)
"""


class KerasFileError(ValueError):
    """An .h5 file that is not a Keras model jexp can read; the message is one line."""


# --- writing ----------------------------------------------------------------------------------

def _act(name):
    name = name or "linear"
    if name not in KERAS_ACTIVATIONS | CUSTOM_ACTIVATIONS:
        raise ValueError(f"activation {name!r} has no Keras equivalent")
    return name


def _pool_cfg(layer):
    return {"pool_size": list(layer.pool_size), "strides": list(layer.strides), "padding": layer.padding, "data_format": "channels_last"}


def layer_config(layer, name: str) -> dict:
    """The Keras ``{"class_name", "config"}`` of one layer spec."""
    base = {"name": name, "trainable": True, "dtype": "float32"}
    if isinstance(layer, nets.Dense):
        cls, cfg = "Dense", {"units": layer.units, "activation": _act(layer.activation), "use_bias": layer.use_bias}
    elif isinstance(layer, nets.Conv2D):
        cls, cfg = "Conv2D", {"filters": layer.filters, "kernel_size": list(layer.kernel_size),
                              "strides": list(layer.strides), "padding": layer.padding,
                              "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
                              "activation": _act(layer.activation), "use_bias": layer.use_bias}
    elif isinstance(layer, nets.MaxPool2D):
        cls, cfg = "MaxPooling2D", _pool_cfg(layer)
    elif isinstance(layer, nets.AvgPool2D):
        cls, cfg = "AveragePooling2D", _pool_cfg(layer)
    elif isinstance(layer, nets.GlobalAvgPool2D):
        cls, cfg = "GlobalAveragePooling2D", {"data_format": "channels_last", "keepdims": False}
    elif isinstance(layer, nets.Flatten):
        cls, cfg = "Flatten", {"data_format": "channels_last"}
    elif isinstance(layer, nets.Reshape):
        cls, cfg = "Reshape", {"target_shape": list(layer.target_shape)}
    elif isinstance(layer, nets.Dropout):
        cls, cfg = "Dropout", {"rate": layer.rate}
    elif isinstance(layer, nets.BatchNorm):
        cls, cfg = "BatchNormalization", {"axis": -1, "momentum": layer.momentum, "epsilon": layer.epsilon,
                                          "center": True, "scale": True}
    elif isinstance(layer, nets.Activation):
        cls, cfg = "Activation", {"activation": _act(layer.name)}
    else:
        raise TypeError(f"no Keras layer for {layer!r}")
    return {"class_name": cls, "config": {**base, **cfg}}


def layer_weights(layer, name: str, params, model_state) -> list[tuple[str, np.ndarray]]:
    """(weight name, value) pairs of one layer, in Keras' order."""
    if isinstance(layer, (nets.Dense, nets.Conv2D)):
        p = params[name]
        return [("kernel", p["kernel"])] + ([("bias", p["bias"])] if layer.use_bias else [])
    if isinstance(layer, nets.BatchNorm):
        p, s = params[name], model_state["batch_stats"][name]
        return [("gamma", p["scale"]), ("beta", p["bias"]), ("moving_mean", s["mean"]),
                ("moving_variance", s["var"])]
    return []


def _strings(values) -> np.ndarray:
    """A list of names as Keras 2 writes it (an empty list: an empty float array, as h5py makes it)."""
    return np.array([v.encode("utf8") for v in values], dtype=object) if values else np.array([])


def save(path, net: nets.Sequential, params, model_state=None, *, softmax: bool = True,
         metadata: dict | None = None) -> Path:
    """Write ``net`` with ``params``/``model_state`` as a Keras legacy .h5 file. With ``softmax``
    a final softmax Activation is added (unless the net already ends in one), so that Keras'
    ``predict`` gives class probabilities. ``metadata`` (JSON-able, e.g. a fitted temperature) is
    kept in a root attribute Keras ignores; ``metadata(path)`` reads it back. Written atomically
    (a temp file, then renamed)."""
    import h5py
    layers = tuple(net.layers)
    last = layers[-1] if layers else None
    ends_in_softmax = (isinstance(last, nets.Activation) and last.name == "softmax") or \
                      (isinstance(last, (nets.Dense, nets.Conv2D)) and last.activation == "softmax")
    if softmax and not ends_in_softmax:
        layers += (nets.Activation("softmax"),)
    names = nets.layer_names(layers)
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, *net.input_shape], "dtype": "float32",
                                                "sparse": False, "name": "input_1"}}]
        + [layer_config(l, n) for l, n in zip(layers, names)]}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["backend"] = "jax"
        f.attrs["keras_version"] = FORMAT_VERSION
        f.attrs["model_config"] = json.dumps(config)
        if metadata:
            f.attrs[METADATA] = json.dumps(metadata)
        g = f.create_group("model_weights")
        g.attrs["backend"] = "jax"
        g.attrs["keras_version"] = FORMAT_VERSION
        g.attrs["layer_names"] = _strings(names)
        for layer, name in zip(layers, names):
            lg = g.create_group(name)
            weights = layer_weights(layer, name, params, model_state or {})
            lg.attrs["weight_names"] = _strings([f"{name}/{w}:0" for w, _ in weights])
            for w, value in weights:
                lg.create_dataset(f"{name}/{w}:0", data=np.asarray(value, np.float32))
        g.create_group("top_level_model_weights").attrs["weight_names"] = _strings([])
    _seal(tmp)
    tmp.replace(path)
    return path


SEAL = "jexp_sha256"  # root attribute: SHA-256 of the model's config, metadata and every weight


def _digest(f) -> str:
    """SHA-256 over the file's model_config and jexp metadata attributes and every dataset under
    model_weights (name, dtype, shape and bytes, in name order)."""
    h = hashlib.sha256()
    for key in ("model_config", METADATA):
        raw = f.attrs.get(key)
        h.update(key.encode() + b"\0" + (b"" if raw is None else raw.encode() if isinstance(raw, str) else bytes(raw)))
    names = []
    f["model_weights"].visititems(lambda n, obj: names.append(n) if hasattr(obj, "shape") else None)
    for n in sorted(names):
        a = np.ascontiguousarray(f["model_weights"][n][()])
        h.update(f"\0{n}\0{a.dtype.str}{a.shape}".encode() + a.tobytes())
    return h.hexdigest()


def _seal(path) -> None:
    import h5py
    with h5py.File(path, "a") as f:
        f.attrs[SEAL] = _digest(f)


def seal(path) -> None:
    """Add the seal to a jexp .h5 written before seals existed (in place, atomically); the model
    and its weights are unchanged."""
    path = Path(path)
    load(path)  # a readable model first
    tmp = path.with_name(path.name + ".tmp")
    shutil.copyfile(path, tmp)
    _seal(tmp)
    tmp.replace(path)


# --- reading ----------------------------------------------------------------------------------

def _spec(cls: str, c: dict, where: str):
    def need(cond, what):
        if not cond:
            raise KerasFileError(f"{where}: {cls} with {what} is not supported")

    def act(name):
        name = name if isinstance(name, str) else (name or {}).get("config", {}).get("name", str(name))
        need(name in KERAS_ACTIVATIONS | CUSTOM_ACTIVATIONS, f"activation {name!r}")
        return None if name == "linear" else name

    need(c.get("data_format", "channels_last") == "channels_last", "data_format channels_first")
    if cls == "Dense":
        return nets.Dense(c["units"], act(c.get("activation")), c.get("use_bias", True))
    if cls in ("Conv2D", "Convolution2D"):
        need(tuple(nets._pair(c.get("dilation_rate", 1))) == (1, 1) and c.get("groups", 1) == 1, "dilation or groups")
        return nets.Conv2D(c["filters"], c["kernel_size"], c.get("strides", 1),
                           c.get("padding", "valid"), act(c.get("activation")), c.get("use_bias", True))
    if cls in ("MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D"):
        kind = nets.MaxPool2D if cls.startswith("Max") else nets.AvgPool2D
        strides = c.get("strides")
        return kind(c.get("pool_size", 2), strides, c.get("padding", "valid"))
    if cls in ("GlobalAveragePooling2D", "GlobalAvgPool2D"):
        need(not c.get("keepdims", False), "keepdims")
        return nets.GlobalAvgPool2D()
    if cls == "Flatten":
        return nets.Flatten()
    if cls == "Reshape":
        return nets.Reshape(tuple(c["target_shape"]))
    if cls == "Dropout":
        return nets.Dropout(float(c["rate"]))
    if cls == "BatchNormalization":
        axis = c.get("axis", -1)
        need(axis in (-1, 3, [-1], [3]), f"axis {axis}")
        return nets.BatchNorm(float(c.get("momentum", 0.99)), float(c.get("epsilon", 1e-3)))
    if cls == "Activation":
        return nets.Activation(act(c["activation"]) or "linear")
    raise KerasFileError(f"{where}: layer type {cls} is not supported (jexp reads: Dense, Conv2D, "
                         "MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Flatten, Reshape, Dropout, "
                         "BatchNormalization, Activation)")


def _sources(node) -> list[str]:
    """Names of the layers feeding a functional layer: Keras 3 ``keras_history`` entries or
    Keras 2 ``[name, node_index, tensor_index, kwargs]`` lists, anywhere in ``inbound_nodes``."""
    if isinstance(node, dict):
        if "keras_history" in node:
            return [node["keras_history"][0]]
        return [s for v in node.values() for s in _sources(v)]
    if isinstance(node, list):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
            return [node[0]]
        return [s for v in node for s in _sources(v)]
    return []


def _weights(group, name: str, where: str) -> dict[str, np.ndarray]:
    if name not in group:
        raise KerasFileError(f"{where}: no weights for layer {name!r}")
    lg = group[name]
    out = {}
    for w in lg.attrs.get("weight_names", []):
        w = w.decode("utf8") if isinstance(w, bytes) else str(w)
        if w not in lg:
            raise KerasFileError(f"{where}: weight {w!r} of layer {name!r} is missing")
        out[w.rsplit("/", 1)[-1].split(":")[0]] = np.asarray(lg[w], np.float32)
    return out


def load(path):
    """(net, params, model_state) from a Keras .h5 model file. Raises KerasFileError."""
    import h5py
    where = str(path)
    if not Path(path).is_file():
        raise KerasFileError(f"{where}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise KerasFileError(f"{where}: not an HDF5 file, or a truncated one") from None
    with f:
        try:
            raw = f.attrs.get("model_config")
            if raw is None:
                raise KerasFileError(f"{where}: no model_config attribute; not a Keras model file (weights only?)")
            config = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
            layers = config.get("config", {}).get("layers")
            if config.get("class_name") not in ("Sequential", "Functional", "Model") or not isinstance(layers, list):
                raise KerasFileError(f"{where}: model class {config.get('class_name')!r} is not supported "
                                     "(Sequential or a chain of layers)")
            input_shape, specs, names, previous = None, [], [], None
            functional = config["class_name"] != "Sequential"
            for item in layers:
                cls, c = item["class_name"], item["config"]
                if functional and previous is not None and _sources(item.get("inbound_nodes", [])) != [previous]:
                    raise KerasFileError(f"{where}: the functional model is not a plain chain of layers "
                                         f"(at layer {c.get('name')!r})")
                previous = item.get("name", c.get("name"))
                shape = c.get("batch_shape") or c.get("batch_input_shape")
                if input_shape is None and shape:
                    input_shape = tuple(shape[1:])
                if cls == "InputLayer":
                    continue
                specs.append(_spec(cls, c, where))
                names.append(c["name"])
            if input_shape is None or None in input_shape:
                raise KerasFileError(f"{where}: the model has no fixed input shape")
            if "model_weights" not in f:
                raise KerasFileError(f"{where}: no model_weights group")
            net = nets.Sequential(input_shape, tuple(specs))
            sealed = f.attrs.get(SEAL)
            if sealed is not None and (sealed.decode() if isinstance(sealed, bytes) else sealed) != _digest(f):
                raise KerasFileError(f"{where}: damaged: its weights or config no longer match the SHA-256 seal "
                                     "jexp wrote with them; restore or re-export the file")
            return (net, *_params(net, f["model_weights"], names, where))
        except KerasFileError:
            raise
        except (KeyError, TypeError, ValueError, OSError, json.JSONDecodeError) as e:
            raise KerasFileError(f"{where}: damaged or unexpected Keras file ({type(e).__name__}: {e})") from None


METADATA = "jexp_metadata"


def metadata(path) -> dict:
    """The ``metadata`` a jexp .h5 file was saved with; {} for a file without (anyone else's)."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get(METADATA)
    except OSError as e:
        raise KerasFileError(f"{path}: not a readable HDF5 file ({e})") from None
    if raw is None:
        return {}
    try:
        out = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        raise KerasFileError(f"{path}: its {METADATA} attribute is not JSON") from None
    return out if isinstance(out, dict) else {}


def calibration(path) -> tuple[float | None, float | None]:
    """(temperature, unsure_below) that a jexp .h5 was saved with (``jexp run digits`` and ``jexp run
    emotion`` fit them on a validation split); (None, None) for a file without a temperature, whose
    confidence is then not calibrated. Raises KerasFileError for a stored temperature that is not a
    positive number."""
    meta = metadata(path)
    temperature = meta.get("temperature")
    if temperature is None:
        return None, None
    if isinstance(temperature, bool) or not (isinstance(temperature, (int, float)) and temperature > 0):
        raise KerasFileError(f"{path}: its stored temperature {temperature!r} is not a positive number")
    return temperature, meta.get("unsure_below")


def load_classifier(path, input_shape, *, hint: str = ""):
    """(net, logits_fn, variables) of the Keras classifier in ``path`` (see ``nets.classifier``), for
    inputs of ``input_shape``: the file's own input shape, or any shape with as many values (a flat
    784-input model takes 28×28×1 digits). A missing file, a file jexp cannot read and a model for
    other inputs are one-line ``KerasFileError``s; ``hint`` tells, for a missing file, how to make one."""
    p = Path(path)
    if not p.is_file():
        raise KerasFileError(f"{p}: no such model file" + (f" ({hint})" if hint else ""))
    net, params, state = load(p)
    if int(np.prod(net.input_shape)) != int(np.prod(input_shape)):
        raise KerasFileError(f"{p}: the model takes inputs of shape {tuple(net.input_shape)}, not {tuple(input_shape)}")
    return (net, *nets.classifier(net, params, state))


def _params(net, group, file_names, where):
    params, stats = {}, {}
    for layer, ours, theirs in zip(net.layers, nets.layer_names(net.layers), file_names):
        if not isinstance(layer, (nets.Dense, nets.Conv2D, nets.BatchNorm)):
            continue
        w = _weights(group, theirs, where)
        if isinstance(layer, nets.BatchNorm):
            n = next(iter(w.values())).shape if w else None
            if n is None or "moving_mean" not in w or "moving_variance" not in w:
                raise KerasFileError(f"{where}: BatchNormalization {theirs!r} lacks its moving statistics")
            params[ours] = {"scale": w.get("gamma", np.ones(n, np.float32)), "bias": w.get("beta", np.zeros(n, np.float32))}
            stats[ours] = {"mean": w["moving_mean"], "var": w["moving_variance"]}
        else:
            if "kernel" not in w or (layer.use_bias and "bias" not in w):
                raise KerasFileError(f"{where}: layer {theirs!r} lacks its kernel or bias")
            params[ours] = {"kernel": w["kernel"], **({"bias": w["bias"]} if layer.use_bias else {})}
    _check_shapes(net, params, stats, where)
    return params, ({"batch_stats": stats} if stats else {})


def _check_shapes(net, params, stats, where):
    import jax
    ref_params, ref_state = jax.eval_shape(lambda: nets.init(net, jax.random.key(0)))
    got = {"params": params, **({"batch_stats": stats} if stats else {})}
    ref = {"params": ref_params, **ref_state}
    flat_ref = dict(jax.tree_util.tree_flatten_with_path(ref)[0])
    flat_got = dict(jax.tree_util.tree_flatten_with_path(got)[0])
    if flat_ref.keys() != flat_got.keys():
        raise KerasFileError(f"{where}: the weights do not match the architecture")
    for k, v in flat_ref.items():
        if tuple(v.shape) != tuple(np.shape(flat_got[k])):
            raise KerasFileError(f"{where}: weight {jax.tree_util.keystr(k)} has shape {np.shape(flat_got[k])}, "
                                 f"the architecture needs {tuple(v.shape)}")
