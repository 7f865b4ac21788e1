"""The suite's networks: what they compute and that Keras loads them (jexp.nn.architectures)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jexp.nn import architectures, nets


@pytest.mark.parametrize("net_name", ["SVHN_SHEET", "SVHN_WIDE"])
def test_the_svhn_networks_load_in_keras_with_the_same_outputs(tmp_path, net_name):
    import os
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    import jax

    from jexp.io import keras_h5
    from jexp.nn import nets
    net = getattr(architectures, net_name)
    params, state = nets.init(net, jax.random.key(1))
    keras_h5.save(tmp_path / "m.h5", net, params, state)
    x = np.random.default_rng(0).random((4, 32, 32, 3), np.float32)
    theirs = keras.models.load_model(tmp_path / "m.h5", compile=False).predict(x, verbose=0)
    np.testing.assert_allclose(theirs, np.asarray(jax.nn.softmax(nets.apply(net, params, state, x))), atol=1e-6)


def test_the_emotion_net_classifies_whole_faces_after_training_on_crops():
    params, state = nets.init(architectures.EMOTION_CNN, jax.random.key(0))
    assert 1.1e6 < nets.count_params(params) < 1.2e6
    for side in (40, 48):
        assert nets.apply(architectures.EMOTION_CNN, params, state, jnp.zeros((2, side, side, 1))).shape == (2, 7)
