"""The digits experiment end to end on synthetic data (jexp.experiments.digits)."""
import jax
import numpy as np
import pytest

from jexp.cli import commands
from jexp.data import digit_sets
from jexp.io import keras_h5
from jexp.nn import evaluate


def test_digits_experiment_on_synthetic_data(fake_data_dir, tmp_path, capsys):
    out = tmp_path / "artifacts"
    args = ["run", "digits", "--quick", "--models=mlp,digits", "--epochs=1,1", "--no-progress", f"--out={out}"]
    assert commands.main(args) == 0, capsys.readouterr().err
    folder = out / "digits" / "quick"
    import json
    phases = {p["name"]: p["steps"] for p in json.loads((folder / "timing.json").read_text())["phases"]}
    assert phases["digits/data"] == 4 and phases["digits/digits evaluation"] >= 4  # no silent phase
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) == {"mnist_test_size", "train_count", "val_size", "typeset_count", "scan_count", "sets",
                            "unreadable",
                            "val_sets", "mlp", "digits"} and "optdigits" not in metrics["sets"]
    # the recogniser alone also trains on typeset digits: one per class and font (QUICK)
    assert metrics["typeset_count"] == 10 * len(digit_sets.TYPESET_FONTS) and 0 < metrics["scan_count"] <= 64
    assert {"fonts", "mnist_framefill", "mnist_boxfill", "mnist_8px"} <= set(metrics["sets"])
    # the validation split is held out of training: of the 320 synthetic training digits, 128
    assert (metrics["train_count"], metrics["val_size"]) == (320 - 128, 128)
    assert metrics["val_sets"]["MNIST validation (as is)"] == 128 and "optdigits" not in metrics["val_sets"]
    cal = metrics["digits"]["calibration"]
    assert cal["temperature"] > 0 and set(cal["sets"]) == {"MNIST test (as is)", *metrics["sets"]}
    assert set(metrics["digits"]["properties"]) == set(digit_sets.PROPERTIES)
    # the temperature travels with the model, for predict-digit
    assert keras_h5.metadata(folder / "digits.h5")["temperature"] == cal["temperature"]
    assert len(metrics["digits"]["history"]["test_acc"]) == 2
    from jexp.data import datasets, mnist
    test = datasets.subset(mnist.load("mnist", fake_data_dir).test, 256)
    assert metrics["mnist_test_size"] == len(test.y)
    for name in ("mlp", "digits"):  # the written .h5 reproduces the recorded test accuracy
        _, f, v = keras_h5.load_classifier(folder / f"{name}.h5", (28, 28, 1))
        classify = jax.jit(lambda x, f=f, v=v: jax.nn.softmax(f(v, x)))
        acc = float(np.mean(evaluate.batched(classify, test.x).argmax(-1) == test.y))
        assert abs(acc - metrics[name]["test_acc"]) <= 1 / len(test.y) + 1e-9
    for name in ("mlp", "digits"):
        net, params, state = keras_h5.load(folder / f"{name}.h5")
        assert net.input_shape == (28, 28, 1) and (folder / f"{name}.orbax").is_dir()
    assert commands.main(["predict-digit", str(folder / "ood_examples.png"), f"--model={folder / 'digits.h5'}"]) == 0
    assert {p.name for p in folder.glob("*.png")} >= {"learning_curves.png", "ood_accuracy.png", "ood_examples.png",
                                                      "reliability.png"}
    text = (folder / "results.md").read_text()
    assert text.startswith("> **Smoke run**") and text.split("\n\n", 1)[1].startswith("# digits") and "mnist_8px, mnist_framefill, mnist_boxfill, fonts_boxfill the process" in text
    assert "mnist_28px, mnist_inverted, mnist_photo, fonts come from processes it never trained on" in text
    # --models_from: the same models evaluated again, not retrained; other training settings are refused
    import shutil
    shutil.copytree(folder, tmp_path / "earlier")
    again = tmp_path / "again"
    assert commands.main(args[:-1] + [f"--out={again}", f"--models_from={tmp_path / 'earlier'}"]) == 0, capsys.readouterr().err
    reused = json.loads((again / "digits" / "quick" / "metrics.json").read_text())
    for name in ("mlp", "digits"):
        old, new = metrics[name]["history"], reused[name]["history"]
        assert reused[name]["sets"] == metrics[name]["sets"] and {k: v for k, v in new.items() if k != "test_acc"} \
            == {k: v for k, v in old.items() if k != "test_acc"} and new["test_acc"][:-1] == old["test_acc"][:-1]
        # the last test accuracy is measured again, by another program: the same count of correct
        # digits, but the float32 ratio may be rounded differently (one unit in the last place)
        assert new["test_acc"][-1] == pytest.approx(old["test_acc"][-1], rel=2 ** -22, abs=0)
        assert "trained_by" in reused[name]
        a, b = keras_h5.load(folder / f"{name}.h5"), keras_h5.load(again / "digits" / "quick" / f"{name}.h5")
        assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a[1:]), jax.tree.leaves(b[1:])))
    assert "were not retrained in this run" in (again / "digits" / "quick" / "results.md").read_text()
    capsys.readouterr()
    assert commands.main(args[:-1] + [f"--out={again}", f"--models_from={tmp_path / 'earlier'}", "--lr=0.1"]) == 2
    assert "trained with other settings (lr)" in capsys.readouterr().err


# --- digits that fill their frame (issue 10) ------------------------------------------------------




def test_seen_process_names_the_families_made_as_the_scan_copies_are():
    from jexp.experiments import digits
    assert [f for f in ("mnist_8px", "mnist_20px", "mnist_28px", "mnist_64px", "mnist_boxfill", "fonts_boxfill",
                        "mnist_framefill", "fonts", "optdigits", "mnist_inverted") if digits.seen_process(f)] == [
        "mnist_8px", "mnist_20px", "mnist_boxfill", "fonts_boxfill", "mnist_framefill"]
