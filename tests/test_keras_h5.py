"""Keras .h5 export and import, checked against real Keras 3 (jax backend)."""
import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py
import jax
import numpy as np
import pytest

from jexp.io import keras_h5
from jexp.nn import nets
from jexp.nn.nets import Activation, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D, Reshape

keras = pytest.importorskip("keras")

MLP = nets.Sequential((28, 28, 1), (Flatten(), Dense(32, "relu"), Dropout(0.2), Dense(16), Activation("tanh"),
                                    Dense(16, "sigmoid"), Dense(16, "elu"), Dense(10)))
CNN = nets.Sequential((28, 28, 1), (Conv2D(6, 3, activation="relu"), Conv2D(8, 3, strides=2, padding="same"),
                                    Activation("elu"), MaxPool2D(), Conv2D(8, (2, 3), padding="same"),
                                    AvgPool2D(2, padding="same"), Flatten(), Reshape((8, 9)), Flatten(),
                                    Dense(10)))
BN = nets.Sequential((9, 9, 3), (Conv2D(4, 3, padding="same"), BatchNorm(), Activation("relu"),
                                 MaxPool2D(3, strides=2, padding="same"), AvgPool2D(2, strides=1),
                                 GlobalAvgPool2D(), Dense(8), BatchNorm(epsilon=1e-5), Dense(3, "softmax")))
LECUN = nets.Sequential((5,), (Dense(7, "lecun"), Dense(7), Activation("lecun"), Dense(2)))


def random_model(net, seed=0):
    """Params with random (not initial) values everywhere, including BatchNorm statistics."""
    params, state = nets.init(net, jax.random.key(seed))
    leaves, treedef = jax.tree.flatten((params, state))
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    leaves = [jax.random.uniform(k, l.shape, minval=0.2, maxval=1.0) if l.ndim == 1 else
              jax.random.normal(k, l.shape) * 0.5 for k, l in zip(keys, leaves)]
    return jax.tree.unflatten(treedef, leaves)


def inputs(net, n=5, seed=2):
    return np.asarray(jax.random.normal(jax.random.key(seed), (n, *net.input_shape)), np.float32)


@pytest.mark.parametrize("net", [MLP, CNN, BN], ids=["mlp", "cnn", "batchnorm"])
def test_keras_loads_our_file_and_predicts_the_same(tmp_path, net):
    params, state = random_model(net)
    path = keras_h5.save(tmp_path / "m.h5", net, params, state)
    model = keras.models.load_model(path, compile=False)
    x = inputs(net)
    ours = np.asarray(jax.nn.softmax(nets.apply(net, params, state, x)) if net is not BN
                      else nets.apply(net, params, state, x))
    theirs = np.asarray(model.predict(x, verbose=0))
    assert theirs.shape == ours.shape
    assert np.max(np.abs(theirs - ours)) <= 1e-5
    # Keras agrees on the architecture, layer by layer
    assert [l.name for l in model.layers] == nets.layer_names(net.layers + ((Activation("softmax"),) if net is not BN else ()))


def test_lecun_loads_with_the_documented_custom_objects(tmp_path):
    params, state = random_model(LECUN)
    path = str(keras_h5.save(tmp_path / "lecun.h5", LECUN, params, state, softmax=False))
    with pytest.raises(TypeError, match="lecun"):
        keras.models.load_model(path, compile=False)  # standard Keras does not know "lecun"
    scope = {"path": path}
    exec(keras_h5.KERAS_CUSTOM_OBJECTS_SNIPPET, scope)
    x = inputs(LECUN)
    got = np.asarray(scope["model"].predict(x, verbose=0))
    assert np.max(np.abs(got - np.asarray(nets.apply(LECUN, params, state, x)))) <= 1e-5


def test_docs_carry_the_same_snippet():
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "keras.md")).read()
    assert keras_h5.KERAS_CUSTOM_OBJECTS_SNIPPET in doc


def test_layer_order_is_model_order_not_sorted_order(tmp_path):
    net = nets.Sequential((3,), tuple(Dense(3 + i) for i in range(12)))  # dense … dense_11
    params, _ = random_model(net)
    path = keras_h5.save(tmp_path / "deep.h5", net, params)
    with h5py.File(path) as f:
        text = lambda a: [n.decode() if isinstance(n, bytes) else n for n in a]
        names = text(f["model_weights"].attrs["layer_names"])
        assert names[:12] == ["dense"] + [f"dense_{i}" for i in range(1, 12)]
        assert text(f["model_weights/dense_10"].attrs["weight_names"]) == \
            ["dense_10/kernel:0", "dense_10/bias:0"]
        assert f["model_weights/dense_10/dense_10/kernel:0"].shape == (12, 13)
    model = keras.models.load_model(path, compile=False)
    x = inputs(net)
    assert np.max(np.abs(model.predict(x, verbose=0) - jax.nn.softmax(nets.apply(net, params, {}, x)))) <= 1e-5


@pytest.mark.parametrize("net", [MLP, CNN, BN, LECUN], ids=["mlp", "cnn", "batchnorm", "lecun"])
def test_round_trip_through_our_reader(tmp_path, net):
    params, state = random_model(net)
    path = keras_h5.save(tmp_path / "m.h5", net, params, state, softmax=False)
    net2, params2, state2 = keras_h5.load(path)
    assert net2 == net
    x = inputs(net)
    np.testing.assert_array_equal(nets.apply(net2, params2, state2, x), nets.apply(net, params, state, x))


def test_reads_a_file_written_by_keras(tmp_path):
    model = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(3, 3, padding="same", activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(),
                              keras.layers.Dropout(0.3), keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="softmax")])
    x = inputs(nets.Sequential((8, 8, 2), ()))
    bn = model.layers[1]
    bn.moving_mean.assign(np.linspace(-1, 1, 3)); bn.moving_variance.assign(np.linspace(0.5, 2, 3))
    path = tmp_path / "keras.h5"
    model.save(path)
    net, params, state = keras_h5.load(path)
    assert [type(l) for l in net.layers] == [Conv2D, BatchNorm, MaxPool2D, Dropout, Flatten, Dense]
    got = np.asarray(nets.apply(net, params, state, x))
    assert np.max(np.abs(got - np.asarray(model.predict(x, verbose=0)))) <= 1e-5


@pytest.mark.parametrize("damage", ["truncated", "not_hdf5", "weights_only", "missing_weight", "foreign_layer", "empty"])
def test_broken_files_give_one_line_errors(tmp_path, damage):
    path = keras_h5.save(tmp_path / "m.h5", BN, *random_model(BN))
    if damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not_hdf5":
        path.write_text("this is not a model\n")
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        with h5py.File(path, "r+") as f:
            if damage == "weights_only":
                del f.attrs["model_config"]
            elif damage == "missing_weight":
                del f["model_weights/batch_normalization/batch_normalization/moving_variance:0"]
            else:
                cfg = f.attrs["model_config"]
                cfg = cfg.decode() if isinstance(cfg, bytes) else cfg
                f.attrs["model_config"] = cfg.replace('"GlobalAveragePooling2D"', '"LSTM"')
    with pytest.raises(keras_h5.KerasFileError) as e:
        keras_h5.load(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_reads_a_functional_chain_and_refuses_a_branching_model(tmp_path):
    inp = keras.Input((6,))
    out = keras.layers.Dense(3)(keras.layers.Dropout(0.1)(keras.layers.Dense(5, activation="tanh")(inp)))
    chain = keras.Model(inp, out)
    chain.save(tmp_path / "chain.h5")
    net, params, state = keras_h5.load(tmp_path / "chain.h5")
    x = inputs(net)
    assert np.max(np.abs(np.asarray(nets.apply(net, params, state, x)) - chain.predict(x, verbose=0))) <= 1e-5
    residual = keras.Model(inp, keras.layers.Add()([keras.layers.Dense(6)(inp), inp]))
    residual.save(tmp_path / "residual.h5")
    with pytest.raises(keras_h5.KerasFileError, match="not a plain chain"):
        keras_h5.load(tmp_path / "residual.h5")


@pytest.mark.parametrize("shape", [(28, 28), (784,)])
def test_eval_digits_accepts_a_keras_written_model(tmp_path, capsys, shape):
    from jexp.cli import commands
    from jexp.data import digit_pictures
    layers = [keras.Input(shape)] + ([keras.layers.Flatten()] if len(shape) == 2 else []) + \
        [keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    model.save(tmp_path / "theirs.h5")
    images = np.zeros((10, 12, 12), np.uint8)
    for i in range(10):
        images[i, 2:10, 3 + i % 6] = 255
    np.savez(tmp_path / "set.npz", images=images, labels=np.arange(10))
    code = commands.main(["eval-digits", f"--npz={tmp_path / 'set.npz'}", f"--model={tmp_path / 'theirs.h5'}",
                          f"--out={tmp_path}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    x = np.stack([digit_pictures.preprocess(im, "high") for im in images])
    expected = np.mean(model.predict(x.reshape(10, *shape), verbose=0).argmax(-1) == np.arange(10))
    assert out.startswith(f"accuracy {100 * expected:.2f}% on 10 digits")


@pytest.mark.parametrize("name", ["digits/mlp", "digits/cnn", "digits/digits", "emotion/emotion"])
def test_the_committed_models_load_in_keras_and_agree(name):
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "artifacts" / f"{name}.h5"
    if not path.exists():
        pytest.skip(f"{path} not built yet (jexp run {name.split('/')[0]})")
    model = keras.models.load_model(path)
    net, params, state = keras_h5.load(path)
    x = np.asarray(jax.random.uniform(jax.random.key(0), (64, *net.input_shape)) ** 3, np.float32)
    ours = np.asarray(nets.apply(net, params, state, x))
    assert np.max(np.abs(model.predict(x, verbose=0) - ours)) <= 1e-5
    np.testing.assert_allclose(ours.sum(1), 1.0, atol=1e-5)  # the file ends in softmax: probabilities


# (saved generators, the model they attacked): every image the run marks successful is the target in Keras too
GENERATOR_FILES = [("adversarial/generators_cnn.npz", "digits/cnn.h5"), ("adversarial/generators_mlp.npz", "digits/mlp.h5"),
                   ("adversarial_cifar/generators_cifar.npz", "adversarial_cifar/cifar.h5")]


@pytest.mark.parametrize("npz, model", GENERATOR_FILES, ids=[g[0] for g in GENERATOR_FILES])
def test_the_committed_adversarial_images_fool_the_model_in_keras(npz, model):
    root = Path(__file__).resolve().parents[1] / "artifacts"
    if not (root / npz).exists():
        pytest.skip(f"{npz} not committed yet")
    saved = np.load(root / npz)
    threshold = json.loads((root / npz.split("/")[0] / "config.json").read_text())["config"]["threshold"]
    probs = keras.models.load_model(root / model, compile=False).predict(saved["images"], verbose=0, batch_size=500)
    won, targets = saved["success"], saved["targets"]
    assert len(targets) >= 1000 and won.mean() > 0.5
    assert np.array_equal(probs[won].argmax(-1), targets[won])  # every success is the target in Keras
    p = probs[np.arange(len(targets)), targets]
    assert np.all(p[won] >= threshold - 1e-3) and np.all(p[~won] < threshold + 1e-3)
    np.testing.assert_allclose(probs, saved["probs"], atol=1e-4)  # and Keras gives jexp's probabilities


# --- Keras 2 (tf.keras ≤ 2.15, tf_keras 2.x) -------------------------------------------------------------
# Files written by Keras 2.21 itself (see their README); the tests skip only where that folder is absent.
FIXTURES = Path(os.environ.get("JEXP_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")) / "keras2"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"{FIXTURES} not present")
KERAS2_FILES = {"sequential_cnn_bn.h5": "sequential", "functional_chain.h5": "functional"}
_INIT = {"kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
         "kernel_constraint", "bias_constraint"}
_POOL = {"name", "trainable", "dtype", "pool_size", "strides", "padding", "data_format"}
# Each layer's get_config() keys in tf_keras 2.21 (read from it once; the fixtures confirm the classes they hold):
# a key outside these makes Keras 2 refuse the file ("Unrecognized keyword arguments").
KERAS2_CONFIG_KEYS = {
    "InputLayer": {"batch_input_shape", "dtype", "name", "optional", "ragged", "sparse"},
    "Dense": {"name", "trainable", "dtype", "units", "activation", "use_bias"} | _INIT,
    "Conv2D": {"name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding", "data_format",
               "dilation_rate", "groups", "activation", "use_bias"} | _INIT,
    "MaxPooling2D": _POOL, "AveragePooling2D": _POOL,
    "GlobalAveragePooling2D": {"name", "trainable", "dtype", "data_format", "keepdims"},
    "Flatten": {"name", "trainable", "dtype", "data_format"},
    "Reshape": {"name", "trainable", "dtype", "target_shape"},
    "Dropout": {"name", "trainable", "dtype", "rate", "noise_shape", "seed"},
    "BatchNormalization": {"name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale",
                           "beta_initializer", "gamma_initializer", "moving_mean_initializer",
                           "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
                           "beta_constraint", "gamma_constraint"},
    "Activation": {"name", "trainable", "dtype", "activation"},
}


def _config(path):
    with h5py.File(path) as f:
        return json.loads(f.attrs["model_config"])


def _layout(path):
    """Everything in an .h5 file except the weight values and the model config: attribute names,
    layer names, weight names, dataset paths, shapes and dtypes."""
    text = lambda a: [n.decode() if isinstance(n, bytes) else str(n) for n in a]
    out = {}
    with h5py.File(path) as f:
        out["/"] = sorted(f.attrs)
        out["model_weights"] = sorted(f["model_weights"].attrs), text(f["model_weights"].attrs["layer_names"])

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = (obj.shape, str(obj.dtype))
            else:
                out[name] = text(obj.attrs.get("weight_names", []))
        f["model_weights"].visititems(visit)
    return out


@needs_fixtures
@pytest.mark.parametrize("name", KERAS2_FILES)
def test_reads_files_written_by_keras2(name):
    net, params, state = keras_h5.load(FIXTURES / name)
    io = np.load(FIXTURES / "inputs_outputs.npz")
    got = np.asarray(nets.apply(net, params, state, io["x"]))
    assert np.max(np.abs(got - io[KERAS2_FILES[name]])) <= 2.5e-7  # measured 2.1e-7: float32 rounding near 0.5


@needs_fixtures
def test_the_known_keras2_config_keys_are_those_keras2_writes():
    for name in KERAS2_FILES:
        for layer in _config(FIXTURES / name)["config"]["layers"]:
            assert set(layer["config"]) == KERAS2_CONFIG_KEYS[layer["class_name"]], layer["class_name"]


@needs_fixtures
@pytest.mark.parametrize("name", KERAS2_FILES)
def test_we_write_what_keras2_writes(tmp_path, name):
    """Read a Keras 2 file, write it with our writer: the same layers, configs Keras 2 accepts
    (no key it does not know, the same values), and for the Sequential model the same file layout."""
    net, params, state = keras_h5.load(FIXTURES / name)
    ours = keras_h5.save(tmp_path / name, net, params, state, softmax=False)
    theirs_cfg, ours_cfg = _config(FIXTURES / name), _config(ours)
    assert ours_cfg["class_name"] == "Sequential" and set(ours_cfg["config"]) == {"name", "layers"}
    theirs_layers = theirs_cfg["config"]["layers"]
    assert [l["class_name"] for l in ours_cfg["config"]["layers"]] == [l["class_name"] for l in theirs_layers]
    for mine, keras2 in zip(ours_cfg["config"]["layers"], theirs_layers):
        c, k = mine["config"], keras2["config"]
        assert set(c) <= KERAS2_CONFIG_KEYS[mine["class_name"]], mine["class_name"]
        differ = {key for key in c.keys() & k.keys() - {"name", "axis"} if c[key] != k[key]}
        assert not differ, (mine["class_name"], {key: (c[key], k[key]) for key in differ})
    if KERAS2_FILES[name] == "sequential":  # the same layout, plus jexp's seal (a root attribute Keras ignores)
        mine = _layout(ours)
        mine["/"].remove(keras_h5.SEAL)
        assert mine == _layout(FIXTURES / name)


def test_every_layer_kind_we_write_has_only_keys_keras2_knows(tmp_path):
    for net in (MLP, CNN, BN):
        path = keras_h5.save(tmp_path / "m.h5", net, *random_model(net))
        cfg = _config(path)
        assert cfg["config"]["layers"][0]["class_name"] == "InputLayer"
        assert cfg["config"]["layers"][0]["config"]["batch_input_shape"] == [None, *net.input_shape]
        for layer in cfg["config"]["layers"]:
            assert set(layer["config"]) <= KERAS2_CONFIG_KEYS[layer["class_name"]], layer["class_name"]
    kinds = {type(l).__name__ for net in (MLP, CNN, BN) for l in net.layers}
    assert kinds == {"Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "Flatten", "Reshape",
                     "Dropout", "BatchNorm", "Activation"}


@needs_fixtures
@pytest.mark.parametrize("name", KERAS2_FILES)
def test_keras3_reads_keras2_files_and_our_rewrites_alike(tmp_path, name):
    io = np.load(FIXTURES / "inputs_outputs.npz")
    ours = keras_h5.save(tmp_path / name, *keras_h5.load(FIXTURES / name), softmax=False)
    for path in (FIXTURES / name, ours):
        got = keras.models.load_model(path, compile=False).predict(io["x"], verbose=0)
        assert np.max(np.abs(got - io[KERAS2_FILES[name]])) <= 1e-5


def test_metadata_travels_in_the_file_and_keras_ignores_it(tmp_path):
    import h5py
    params, state = random_model(MLP)
    path = keras_h5.save(tmp_path / "m.h5", MLP, params, state, metadata={"temperature": 1.25, "unsure_below": 0.9})
    assert keras_h5.metadata(path) == {"temperature": 1.25, "unsure_below": 0.9}
    x = inputs(MLP)
    model = keras.models.load_model(path, compile=False)
    assert np.max(np.abs(model.predict(x, verbose=0) - np.asarray(jax.nn.softmax(nets.apply(MLP, params, state, x))))) <= 1e-5
    assert keras_h5.metadata(keras_h5.save(tmp_path / "plain.h5", MLP, params, state)) == {}
    with h5py.File(path, "a") as f:
        f.attrs[keras_h5.METADATA] = "{not json"
    with pytest.raises(keras_h5.KerasFileError, match="not JSON"):
        keras_h5.metadata(path)


def test_a_damaged_h5_is_refused_in_one_line_and_an_old_one_can_be_sealed(tmp_path):
    import h5py
    import jax
    net = nets.Sequential((8, 8, 1), (nets.Flatten(), nets.Dense(10)))
    params, state = nets.init(net, jax.random.key(0))
    path = keras_h5.save(tmp_path / "m.h5", net, params, state, metadata={"temperature": 1.5})
    keras_h5.load(path)
    raw = bytearray(path.read_bytes())
    with h5py.File(path, "r") as f:  # flip bytes inside the kernel's stored data
        offset = f["model_weights/dense/dense/kernel:0"].id.get_offset()
    raw[offset + 40:offset + 90] = bytes(b ^ 0x5A for b in raw[offset + 40:offset + 90])
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(raw))
    with pytest.raises(keras_h5.KerasFileError, match="damaged: its weights or config no longer match"):
        keras_h5.load(bad)
    with h5py.File(bad, "a") as f:  # an unsealed file (anyone else's, or jexp's before seals) loads as before
        del f.attrs[keras_h5.SEAL]
    keras_h5.load(bad)
    keras_h5.seal(bad)
    assert keras_h5.metadata(bad) == {"temperature": 1.5}
    raw = bytearray(bad.read_bytes())
    raw[offset + 40] ^= 0x01
    bad.write_bytes(bytes(raw))
    with pytest.raises(keras_h5.KerasFileError, match="damaged"):
        keras_h5.load(bad)
