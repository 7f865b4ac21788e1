"""`jexp predict-digit` and `jexp eval-digits` (jexp.cli.digit_commands)."""
from pathlib import Path

import cv2
import jax
import numpy as np
import pytest

from jexp.cli import commands
from jexp.data import digit_pictures
from jexp.io import keras_h5
from jexp.nn import nets
from test_digit_pictures import frame_filling_zero, seven


def bar_model(tmp_path, metadata=None):
    """A random linear digit model saved as .h5: enough to check the commands' plumbing."""
    net = nets.Sequential((28, 28, 1), (nets.Flatten(), nets.Dense(10)))
    params, _ = nets.init(net, jax.random.key(0))
    return keras_h5.save(tmp_path / "bars.h5", net, params, metadata=metadata)


def test_predict_digit_prints_digit_and_confidence(tmp_path, capsys):
    model = bar_model(tmp_path)
    good = tmp_path / "seven.png"
    cv2.imwrite(str(good), seven())
    jpg = tmp_path / "seven.jpg"
    cv2.imwrite(str(jpg), np.stack([seven()] * 3, -1))
    code = commands.main(["predict-digit", str(good), str(jpg), f"--model={model}"])
    out, err = capsys.readouterr()
    assert code == 0 and "not calibrated" in err and err.count("\n") == 1  # a model without a temperature
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{good}: ") and lines[0].endswith("%)")
    assert "calibrated" not in out and "unsure" not in out  # no threshold without a calibration


def test_predict_digit_calibrated_confidence_and_its_flags(tmp_path, capsys):
    good = tmp_path / "seven.png"
    cv2.imwrite(str(good), seven())  # dark ink on white paper
    model = bar_model(tmp_path, {"temperature": 1.0, "unsure_below": 0.0})
    assert commands.main(["predict-digit", str(good), f"--model={model}"]) == 0
    sure, err = capsys.readouterr()
    assert err == "" and "(calibrated confidence " in sure and "[" not in sure
    model = bar_model(tmp_path, {"temperature": 50.0, "unsure_below": 0.9})  # softened: every answer unsure
    assert commands.main(["predict-digit", str(good), f"--model={model}"]) == 0
    unsure = capsys.readouterr().out
    assert "[unsure: under 90%, next best " in unsure
    p = float(unsure.split("confidence ")[1].split("%")[0])
    assert p < float(sure.split("confidence ")[1].split("%")[0]) and p < 20  # T = 50 brings it towards 10 %
    # the same digit either way: a temperature never changes the answer
    assert unsure.split(": ")[1].split(" ")[0] == sure.split(": ")[1].split(" ")[0]
    # the stated polarity contradicts the picture: flagged, read as stated
    assert commands.main(["predict-digit", str(good), f"--model={model}", "--ink=high"]) == 0
    out = capsys.readouterr().out
    assert "--ink=high was given, but the picture looks like dark ink on light paper" in out
    assert commands.main(["predict-digit", str(good), f"--model={model}", "--ink=low"]) == 0
    assert "was given" not in capsys.readouterr().out
    bad = bar_model(tmp_path, {"temperature": -1})
    assert commands.main(["predict-digit", str(good), f"--model={bad}"]) == 1
    assert "not a positive number" in capsys.readouterr().err


def test_predict_digit_reports_each_bad_file_and_exits_1(tmp_path, capsys):
    model = bar_model(tmp_path)
    good, text, blank = tmp_path / "ok.png", tmp_path / "notes.png", tmp_path / "blank.png"
    cv2.imwrite(str(good), seven())
    text.write_text("not an image")
    cv2.imwrite(str(blank), np.full((20, 20), 255, np.uint8))
    code = commands.main(["predict-digit", str(good), str(text), str(blank), str(tmp_path / "gone.png"),
                          "--model", str(model)])
    out, err = capsys.readouterr()
    assert code == 1 and out.count("\n") == 1
    errors = [line for line in err.splitlines() if line.startswith("jexp: error: ")]
    assert len(errors) == 3 and "not an image" in err and "no ink" in err and "no such file" in err


def test_eval_digits_accuracy_and_confusion(tmp_path, capsys):
    model = bar_model(tmp_path)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 30, (20, 16, 12)).astype(np.uint8)
    for i in range(20):
        images[i, 2:14, 4:8] = 250
    np.savez(tmp_path / "set.npz", images=images, labels=np.arange(20) % 10)
    code = commands.main(["eval-digits", "--npz", str(tmp_path / "set.npz"), "--model", str(model), f"--out={tmp_path}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("accuracy ") and "on 20 digits" in out
    assert (tmp_path / "eval_digits" / "set__bars_confusion.png").is_file()
    import json
    saved = json.loads((tmp_path / "eval_digits" / "set__bars.json").read_text())
    assert np.sum(saved["confusion"]) == 20 and saved["n"] == 20
    assert saved["temperature"] is None and "confidence: not calibrated" in out
    model = bar_model(tmp_path, {"temperature": 2.0, "unsure_below": 0.5})
    assert commands.main(["eval-digits", "--npz", str(tmp_path / "set.npz"), "--model", str(model),
                          f"--out={tmp_path}"]) == 0
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "eval_digits" / "set__bars.json").read_text())
    assert "calibrated confidence (T = 2.000)" in out and saved["temperature"] == 2.0
    assert saved["confidence"]["n"] == 20 and 0 <= saved["confidence"]["ece"] <= 1


@pytest.mark.parametrize("case, message", [
    ("missing_npz", "no such file"), ("bad_npz", "not a readable .npz"), ("no_labels", "no array 'labels' in it"),
    ("empty", "no images in it"), ("nan_labels", "whole digits"), ("text_labels", "expected the digits 0-9"),
    ("fractional_labels", "whole digits"), ("pickled", "pickled objects"), ("directory", "a directory"),
    ("int8_images", "not a picture format"), ("bool_images", "not a picture format"),
    ("broken_h5", "not an HDF5 file"), ("wrong_input", "takes inputs of shape"), ("no_model", "no such model file"),
])
def test_eval_digits_bad_input_is_one_line_exit_1(tmp_path, capsys, case, message):
    model = bar_model(tmp_path)
    npz = tmp_path / "set.npz"
    np.savez(npz, images=np.zeros((2, 8, 8), np.uint8) + np.eye(8, dtype=np.uint8) * 200, labels=np.array([1, 7]))
    if case == "missing_npz":
        npz = tmp_path / "nothing.npz"
    elif case == "bad_npz":
        npz.write_text("hello")
    elif case == "no_labels":
        np.savez(npz, images=np.zeros((2, 8, 8), np.uint8))
    elif case == "empty":
        np.savez(npz, images=np.zeros((0, 8, 8), np.uint8), labels=np.zeros(0, np.int64))
    elif case in ("nan_labels", "text_labels", "fractional_labels"):
        labels = {"nan_labels": [1.0, np.nan], "text_labels": ["one", "seven"], "fractional_labels": [1.0, 6.5]}[case]
        np.savez(npz, images=np.zeros((2, 8, 8), np.uint8), labels=np.array(labels))
    elif case == "pickled":
        np.savez(npz, images=np.array([object()] * 2, dtype=object), labels=np.array([1, 7]))
    elif case == "directory":
        npz = tmp_path
    elif case in ("int8_images", "bool_images"):
        np.savez(npz, images=np.zeros((2, 8, 8), np.int8 if case == "int8_images" else bool), labels=np.array([1, 7]))
    elif case == "broken_h5":
        model.write_bytes(model.read_bytes()[:300])
    elif case == "wrong_input":
        net = nets.Sequential((5,), (nets.Dense(10),))
        model = keras_h5.save(tmp_path / "five.h5", net, nets.init(net, jax.random.key(0))[0])
    elif case == "no_model":
        model = tmp_path / "none.h5"
    code = commands.main(["eval-digits", f"--npz={npz}", f"--model={model}", f"--out={tmp_path}"])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("jexp: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("args, message", [(["predict-digit"], "the following arguments are required: IMAGE"),
                                           (["predict-digit", "a.png", "--fast"], "unknown flag --fast"),
                                           (["predict-digit", "a.png", "--ink=dark"], "invalid choice: 'dark'"),
                                           (["eval-digits", "--model=x.h5"], "required: --npz")])
def test_digit_commands_usage_errors_exit_2(capsys, args, message):
    assert commands.main(args) == 2
    assert message in capsys.readouterr().err


def test_eval_digits_counts_an_unreadable_digit_as_an_error_and_goes_on(tmp_path, capsys):
    import json
    model = bar_model(tmp_path)
    images = np.stack([frame_filling_zero()] * 6)
    images[2] = 0                    # blank: no digit to find
    images[4] = 200                  # uniform grey
    images[5] = frame_filling_zero(16, 8)  # frame-filling, mostly ink: must be read
    labels = np.zeros(6, np.int64)
    np.savez(tmp_path / "set.npz", images=images, labels=labels)
    code = commands.main(["eval-digits", f"--npz={tmp_path / 'set.npz'}", f"--model={model}", f"--out={tmp_path}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    saved = json.loads((tmp_path / "eval_digits" / "set__bars.json").read_text())
    assert [u["index"] for u in saved["unreadable"]] == [2, 4] and "no ink" in saved["unreadable"][0]["reason"]
    counts = np.array(saved["confusion"])
    assert counts.shape == (10, 11) and counts[0, 10] == 2 and counts.sum() == 6
    _, f, v = keras_h5.load_classifier(model, (28, 28, 1))
    classify = jax.jit(lambda x: jax.nn.softmax(f(v, x)))
    readable = [0, 1, 3, 5]
    x = np.stack([digit_pictures.preprocess(images[i], "high") for i in readable])[..., None]
    right = int((np.asarray(classify(x)).argmax(-1) == 0).sum())
    assert saved["accuracy"] == right / 6
    assert out.startswith(f"accuracy {100 * right / 6:.2f}% on 6 digits ({6 - right} wrong, 2 of them unreadable)")
    assert "unreadable (counted as errors, listed in the JSON): 2, 4" in out
    assert (tmp_path / "eval_digits" / "set__bars_confusion.png").is_file()


def test_eval_digits_writes_beside_the_set_not_where_it_was_started(tmp_path, capsys, monkeypatch):
    """Without --out the results go to eval_digits/ in the folder of the .npz, never into the folder
    the command was started from (which may be someone's repository)."""
    model = bar_model(tmp_path)
    (tmp_path / "sets").mkdir()
    images = np.zeros((4, 16, 12), np.uint8)
    images[:, 2:14, 4:8] = 250
    np.savez(tmp_path / "sets" / "mine.npz", images=images, labels=np.ones(4, int))
    elsewhere = tmp_path / "a_repo"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert commands.main(["eval-digits", f"--npz={tmp_path / 'sets' / 'mine.npz'}", f"--model={model}"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "sets" / "eval_digits" / "mine__bars.json").is_file()
    assert f"confusion matrix: {tmp_path / 'sets' / 'eval_digits' / 'mine__bars_confusion.png'}" in out
    assert not any(elsewhere.iterdir())


def test_every_command_finds_the_committed_models_from_any_folder(tmp_path, monkeypatch):
    """One rule (artifacts.committed): a model under the current folder is yours; else the checkout's."""
    from jexp.io import artifacts
    rel = "artifacts/digits/digits.h5"
    monkeypatch.chdir(tmp_path)
    assert artifacts.committed(rel) == artifacts.CHECKOUT / rel and artifacts.committed(rel).is_file()
    assert artifacts.committed("artifacts/emotion/emotion.h5").is_file()
    (tmp_path / "artifacts" / "digits").mkdir(parents=True)
    (tmp_path / rel).write_bytes(b"mine")
    assert artifacts.committed(rel) == Path(rel)  # your own run wins
    assert artifacts.committed("artifacts/none.h5") == Path("artifacts/none.h5")  # neither: the error names it


def test_predict_digit_from_another_folder_uses_the_committed_model(tmp_path, capsys, monkeypatch):
    picture = np.zeros((28, 28), np.uint8)
    picture[4:24, 12:16] = 255  # a 1
    cv2.imwrite(str(tmp_path / "one.png"), picture)
    monkeypatch.chdir(tmp_path)
    assert commands.main(["predict-digit", "one.png"]) == 0
    assert capsys.readouterr().out.startswith("one.png: 1 (calibrated confidence")
