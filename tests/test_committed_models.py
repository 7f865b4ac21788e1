"""Every committed model file reproduces the test accuracy its run recorded (real data; CI has it).

A model file that was swapped, re-exported wrongly or trained by other code fails here. The models
are read back through ``keras_h5`` (the file, not the run's memory) and evaluated on the test set
the run used; the recorded figure came from the training-time evaluation of the same weights, so
the two may differ by float rounding on at most one borderline image.
"""
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from jexp.data import cifar10, fer2013, mnist
from jexp.io import keras_h5
from jexp.nn import evaluate, nets
from conftest import REAL_DATA, real_data_or_skip

ROOT = Path(__file__).resolve().parents[1] / "artifacts"
# (model file, test set, where the run recorded its accuracy)
MODELS = [
    ("digits/mlp.h5", "mnist", ("digits", "mlp", "test_acc")),
    ("digits/cnn.h5", "mnist", ("digits", "cnn", "test_acc")),
    ("digits/digits.h5", "mnist", ("digits", "digits", "test_acc")),
    ("robust/robust.h5", "mnist", ("robust", "models", "robust", "test_acc")),
    ("adversarial_cifar/cifar.h5", "cifar10", ("adversarial_cifar", "test_acc")),
    ("robust_cifar/robust.h5", "cifar10", ("robust_cifar", "models", "robust", "test_acc")),
    ("emotion/emotion.h5", "fer2013", ("emotion", "test_acc")),  # PrivateTest
]


def _test_set(name):
    if name == "fer2013":
        if not (REAL_DATA / fer2013.FOLDER).is_dir():
            pytest.skip(f"real FER2013 not found in {REAL_DATA}")
        return fer2013.load(REAL_DATA).test
    if name == "cifar10":
        if not (REAL_DATA / cifar10.FOLDER / cifar10.BATCHES).is_dir():
            pytest.skip(f"real CIFAR-10 not found in {REAL_DATA}")
        return cifar10.load(REAL_DATA, download=False)[0].test
    return mnist.load(name, real_data_or_skip(name), download=False).test


@pytest.mark.realdata
@pytest.mark.parametrize("path, dataset, recorded", MODELS, ids=[m[0] for m in MODELS])
def test_a_committed_model_reproduces_its_recorded_accuracy(path, dataset, recorded):
    if not (ROOT / path).exists():
        pytest.skip(f"{path} not committed")
    metrics = json.loads((ROOT / recorded[0] / "metrics.json").read_text())
    want = metrics
    for key in recorded[1:]:
        want = want[key]
    test = _test_set(dataset)
    got = _accuracy(ROOT / path, test)
    assert abs(got - want) <= 1 / len(test.y) + 1e-9, f"{path}: {got} on {len(test.y)} test images, recorded {want}"


def _accuracy(path, test) -> float:
    net, params, state = keras_h5.load(path)
    predict = jax.jit(lambda x: nets.apply(net, params, state, x))
    return float(np.mean(evaluate.batched(predict, test.x).argmax(-1) == test.y))


@pytest.mark.realdata
def test_the_check_catches_a_swapped_model_file():
    """The robust MNIST model in place of the standard CNN: a good model, but not the one recorded."""
    if not (ROOT / "robust/robust.h5").exists():
        pytest.skip("robust.h5 not committed")
    recorded = json.loads((ROOT / "digits" / "metrics.json").read_text())["cnn"]["test_acc"]
    test = _test_set("mnist")
    assert abs(_accuracy(ROOT / "robust/robust.h5", test) - recorded) > 1 / len(test.y)
