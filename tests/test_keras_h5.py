"""Keras .h5 export and import, checked against real Keras 3 (jax backend)."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jexp import keras_h5, nets
from jexp.nets import (Activation, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D,
                       MaxPool2D, Reshape)

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
    with pytest.raises(Exception):
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
            ["dense_10/kernel", "dense_10/bias"]
        assert f["model_weights/dense_10/dense_10/kernel"].shape == (12, 13)
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
                del f["model_weights/batch_normalization/batch_normalization/moving_variance"]
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
    from jexp import cli, digits
    layers = [keras.Input(shape)] + ([keras.layers.Flatten()] if len(shape) == 2 else []) + \
        [keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    model.save(tmp_path / "theirs.h5")
    images = np.zeros((10, 12, 12), np.uint8)
    for i in range(10):
        images[i, 2:10, 3 + i % 6] = 255
    np.savez(tmp_path / "set.npz", images=images, labels=np.arange(10))
    code = cli.main(["eval-digits", f"--npz={tmp_path / 'set.npz'}", f"--model={tmp_path / 'theirs.h5'}",
                     f"--out={tmp_path}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    x = np.stack([digits.preprocess(im, "high") for im in images])
    expected = np.mean(model.predict(x.reshape(10, *shape), verbose=0).argmax(-1) == np.arange(10))
    assert out.startswith(f"accuracy {100 * expected:.2f}% on 10 digits")


@pytest.mark.parametrize("name", ["mlp", "cnn", "digits"])
def test_the_committed_digit_models_load_in_keras_and_agree(name):
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "artifacts" / "digits" / f"{name}.h5"
    if not path.exists():
        pytest.skip(f"{path} not built yet (jexp run digits)")
    model = keras.models.load_model(path)
    net, params, state = keras_h5.load(path)
    x = np.asarray(jax.random.uniform(jax.random.key(0), (64, 28, 28, 1)) ** 3, np.float32)
    ours = np.asarray(nets.apply(net, params, state, x))
    assert np.max(np.abs(model.predict(x, verbose=0) - ours)) <= 1e-5
    np.testing.assert_allclose(ours.sum(1), 1.0, atol=1e-5)  # the file ends in softmax: probabilities
