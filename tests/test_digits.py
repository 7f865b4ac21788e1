"""Digit preprocessing, the out-of-MNIST sets, and the predict-digit / eval-digits commands."""
import cv2
import jax
import numpy as np
import pytest

from jexp import cli, digit_sets, digits, evaluate, keras_h5, nets


def seven(h=300, w=200, thickness=18):
    """A '7' in black ink on white paper, h × w uint8."""
    im = np.full((h, w), 255, np.uint8)
    p = lambda x, y: (round(x * w / 200), round(y * h / 300))
    cv2.line(im, p(40, 50), p(160, 50), 0, thickness)
    cv2.line(im, p(160, 50), p(80, 260), 0, thickness)
    return im


def centre_of_mass(x):
    m = x.sum()
    return (x.sum(1) * np.arange(28)).sum() / m, (x.sum(0) * np.arange(28)).sum() / m


def test_preprocess_follows_mnist_convention():
    x = digits.preprocess(seven())
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.max() == pytest.approx(1.0, abs=1e-3) and x.min() == 0.0
    np.testing.assert_allclose(centre_of_mass(x), (14.0, 14.0), atol=0.05)
    rows = np.nonzero((x > 0.25).any(1))[0]
    assert 19 <= rows[-1] - rows[0] + 1 <= 21  # the long side fills the 20-pixel box
    cols = np.nonzero((x > 0.25).any(0))[0]
    assert cols[-1] - cols[0] + 1 < 17          # aspect ratio kept (the 7 is narrower than tall)


def test_polarity_colour_alpha_and_depth_do_not_matter():
    ref = digits.preprocess(seven())
    im = seven()
    variants = {
        "light on dark": 255 - im,
        "colour": np.stack([im, im // 2 + 100, im], -1),
        "uint16": im.astype(np.uint16) * 257,
        "float": im / 255.0,
        "alpha": np.dstack([np.zeros((300, 200, 3), np.uint8), 255 - im]),  # black ink on a transparent sheet
        "grey paper": (im * 0.4 + 120).astype(np.uint8),
    }
    for name, v in variants.items():
        assert np.abs(digits.preprocess(v) - ref).max() < 0.08, name


def test_tiny_and_huge_inputs_land_in_the_same_frame():
    big = digits.preprocess(seven(1200, 800, 72))
    small = digits.preprocess(cv2.resize(seven(), (8, 12), interpolation=cv2.INTER_AREA))
    for x in (big, small):
        np.testing.assert_allclose(centre_of_mass(x), (14.0, 14.0), atol=0.1)
    assert np.abs(big - digits.preprocess(seven())).mean() < 0.02


@pytest.mark.parametrize("image, message", [
    (np.full((30, 30), 200, np.uint8), "no ink"),
    (np.zeros((5,), np.uint8), "expected an image"),
    (np.zeros((10, 10, 2), np.uint8), "expected an image"),
    (np.array([[np.nan, 1], [0, 1]]), "NaN"),
])
def test_bad_images_raise_one_line(image, message):
    with pytest.raises(digits.DigitError, match=message):
        digits.preprocess(image)


def test_confusion_counts_exactly():
    m = evaluate.confusion([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], n=3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_optdigits_reader(tmp_path):
    assert digit_sets.load_optdigits(tmp_path) is None
    path = tmp_path / digit_sets.OPTDIGITS
    path.parent.mkdir()
    path.write_text("\n".join(",".join(map(str, [i % 17] * 64 + [i % 10])) for i in range(5)) + "\n")
    images, labels = digit_sets.load_optdigits(tmp_path)
    assert images.shape == (5, 8, 8) and images.dtype == np.uint8 and images[3, 0, 0] == 48
    np.testing.assert_array_equal(labels, [0, 1, 2, 3, 4])
    path.write_text("1,2,3\n")
    with pytest.raises(digits.DigitError, match="65 comma-separated"):
        digit_sets.load_optdigits(tmp_path)


# --- the commands -------------------------------------------------------------------------------

def bar_model(tmp_path):
    """A random linear digit model saved as .h5: enough to check the commands' plumbing."""
    net = nets.Sequential((28, 28, 1), (nets.Flatten(), nets.Dense(10)))
    params, _ = nets.init(net, jax.random.key(0))
    return keras_h5.save(tmp_path / "bars.h5", net, params)


def test_predict_digit_prints_digit_and_confidence(tmp_path, capsys):
    model = bar_model(tmp_path)
    good = tmp_path / "seven.png"
    cv2.imwrite(str(good), seven())
    jpg = tmp_path / "seven.jpg"
    cv2.imwrite(str(jpg), np.stack([seven()] * 3, -1))
    code = cli.main(["predict-digit", str(good), str(jpg), f"--model={model}"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{good}: ") and lines[0].endswith("%)")


def test_predict_digit_reports_each_bad_file_and_exits_1(tmp_path, capsys):
    model = bar_model(tmp_path)
    good, text, blank = tmp_path / "ok.png", tmp_path / "notes.png", tmp_path / "blank.png"
    cv2.imwrite(str(good), seven())
    text.write_text("not an image")
    cv2.imwrite(str(blank), np.full((20, 20), 255, np.uint8))
    code = cli.main(["predict-digit", str(good), str(text), str(blank), str(tmp_path / "gone.png"),
                     "--model", str(model)])
    out, err = capsys.readouterr()
    assert code == 1 and out.count("\n") == 1
    assert err.count("\n") == 3 and "not an image" in err and "no ink" in err and "no such file" in err


def test_eval_digits_accuracy_and_confusion(tmp_path, capsys):
    model = bar_model(tmp_path)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 30, (20, 16, 12)).astype(np.uint8)
    for i in range(20):
        images[i, 2:14, 4:8] = 250
    np.savez(tmp_path / "set.npz", images=images, labels=np.arange(20) % 10)
    code = cli.main(["eval-digits", "--npz", str(tmp_path / "set.npz"), "--model", str(model), f"--out={tmp_path}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("accuracy ") and "on 20 digits" in out
    assert (tmp_path / "eval_digits" / "set__bars_confusion.png").is_file()
    import json
    saved = json.loads((tmp_path / "eval_digits" / "set__bars.json").read_text())
    assert np.sum(saved["confusion"]) == 20 and saved["n"] == 20


@pytest.mark.parametrize("case, message", [
    ("missing_npz", "no such file"), ("bad_npz", "not a readable .npz"), ("no_labels", "missing array"),
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
    elif case == "broken_h5":
        model.write_bytes(model.read_bytes()[:300])
    elif case == "wrong_input":
        net = nets.Sequential((5,), (nets.Dense(10),))
        model = keras_h5.save(tmp_path / "five.h5", net, nets.init(net, jax.random.key(0))[0])
    elif case == "no_model":
        model = tmp_path / "none.h5"
    code = cli.main(["eval-digits", f"--npz={npz}", f"--model={model}", f"--out={tmp_path}"])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("jexp: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("args, message", [(["predict-digit"], "the following arguments are required: IMAGE"),
                                           (["predict-digit", "a.png", "--fast"], "unknown flag --fast"),
                                           (["predict-digit", "a.png", "--ink=dark"], "invalid choice: 'dark'"),
                                           (["eval-digits", "--model=x.h5"], "required: --npz")])
def test_digit_commands_usage_errors_exit_2(capsys, args, message):
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err


def test_digits_experiment_on_synthetic_data(fake_data_dir, tmp_path, capsys):
    out = tmp_path / "artifacts"
    args = ["run", "digits", "--quick", "--models=mlp,digits", "--epochs=1,1", "--no-progress", f"--out={out}"]
    assert cli.main(args) == 0, capsys.readouterr().err
    folder = out / "digits" / "quick"
    import json
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) == {"mnist_test_size", "sets", "mlp", "digits"} and "optdigits" not in metrics["sets"]
    assert {"fonts", "mnist_framefill", "mnist_8px"} <= set(metrics["sets"])
    assert len(metrics["digits"]["history"]["test_acc"]) == 2
    from jexp import data
    test = data.subset(data.load("mnist", fake_data_dir).test, 256)
    assert metrics["mnist_test_size"] == len(test.y)
    for name in ("mlp", "digits"):  # the written .h5 reproduces the recorded test accuracy
        classify = digits.load_classifier(folder / f"{name}.h5")
        acc = float(np.mean(evaluate.batched(classify, test.x).argmax(-1) == test.y))
        assert abs(acc - metrics[name]["test_acc"]) <= 1 / len(test.y) + 1e-9
    for name in ("mlp", "digits"):
        net, params, state = keras_h5.load(folder / f"{name}.h5")
        assert net.input_shape == (28, 28, 1) and (folder / f"{name}.orbax").is_dir()
    assert cli.main(["predict-digit", str(folder / "ood_examples.png"), f"--model={folder / 'digits.h5'}"]) == 0
    assert {p.name for p in folder.glob("*.png")} >= {"learning_curves.png", "ood_accuracy.png", "ood_examples.png"}
    assert (folder / "results.md").read_text().startswith("# digits")
    # --models_from: the same models evaluated again, not retrained; other training settings are refused
    import shutil
    shutil.copytree(folder, tmp_path / "earlier")
    again = tmp_path / "again"
    assert cli.main(args[:-1] + [f"--out={again}", f"--models_from={tmp_path / 'earlier'}"]) == 0, capsys.readouterr().err
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
    assert cli.main(args[:-1] + [f"--out={again}", f"--models_from={tmp_path / 'earlier'}", "--lr=0.1"]) == 2
    assert "trained with other settings (lr)" in capsys.readouterr().err


def test_specks_of_dust_do_not_move_the_digit():
    im = seven()
    ref = digits.preprocess(im)
    dusty = im.copy()
    dusty[5:8, 190:193] = 0      # a dark speck in the corner
    dusty[290:292, 3:5] = 30
    np.testing.assert_allclose(digits.preprocess(dusty), ref, atol=1e-6)
    broken = np.full((100, 100), 255, np.uint8)  # a '4' whose pen lifted: three separate strokes, all kept
    cv2.line(broken, (30, 10), (20, 60), 0, 6)
    cv2.line(broken, (20, 60), (70, 60), 0, 6)
    cv2.line(broken, (60, 15), (60, 50), 0, 6)
    cv2.line(broken, (60, 70), (60, 95), 0, 6)
    assert cv2.connectedComponents((broken < 128).astype(np.uint8))[0] == 4
    ink = 1 - broken / 255.0
    assert digits.drop_specks(ink).sum() == pytest.approx(ink.sum())


# --- digits that fill their frame (issue 10) ------------------------------------------------------

def frame_filling_zero(size=16, pen=4):
    """A thick '0' drawn to touch all four sides of a size × size frame, ink high, binary: most of
    its border is ink, so the border's median is the ink level."""
    im = np.zeros((size, size), np.uint8)
    cv2.ellipse(im, (size // 2, size // 2), (size // 2 - 1, size // 2 - 1), 0, 0, 360, 255, pen)
    return np.where(im > 127, 255, 0).astype(np.uint8)


def test_a_digit_filling_its_frame_is_preprocessed_with_known_or_detected_polarity():
    im = frame_filling_zero()
    border = np.concatenate([im[0], im[-1], im[:, 0], im[:, -1]])
    assert np.median(border) == 255  # the case the border rule got wrong
    ref = digits.preprocess(im, "high")
    assert ref.max() == pytest.approx(1.0, abs=1e-3) and ref[14, 14] < 0.1  # the hole is paper
    np.testing.assert_allclose(centre_of_mass(ref), (14.0, 14.0), atol=0.1)
    rows = np.nonzero((ref > 0.25).any(1))[0]
    assert 19 <= rows[-1] - rows[0] + 1 <= 21
    for ink, picture in (("auto", im), ("low", 255 - im), ("auto", 255 - im)):
        np.testing.assert_array_equal(digits.preprocess(picture, ink), ref)
    big = cv2.resize(im, (64, 64), interpolation=cv2.INTER_NEAREST)  # the same picture, scanned larger
    assert np.abs(digits.preprocess(big, "high") - ref).mean() < 0.05
    thick = frame_filling_zero(16, 8)  # 88 % of the border is ink: auto cannot tell, a known polarity can
    np.testing.assert_allclose(centre_of_mass(digits.preprocess(thick, "high")), (14.0, 14.0), atol=0.1)
    assert digits.ink_polarity(digits.to_grey(im)) == "high"
    assert digits.ink_polarity(digits.to_grey(255 - im)) == "low"


def test_polarity_rule_on_ordinary_pictures():
    im = seven()
    for picture, want in ((im, "low"), (255 - im, "high"), ((im * 0.4 + 120).astype(np.uint8), "low")):
        assert digits.ink_polarity(digits.to_grey(picture)) == want
    # a thin stroke on unevenly lit paper: Otsu splits the paper, the border rule still decides
    yy, xx = np.mgrid[0:48, 0:48] / 47.0
    paper = 0.55 + 0.3 * xx
    stroke = np.zeros((48, 48))
    stroke[8:40, 22:24] = 1
    grey = paper * (1 - stroke) + 0.2 * stroke
    assert digits.ink_polarity(grey) == "low"


def test_frame_filling_set_touches_the_border_and_is_binary():
    rng = np.random.default_rng(0)
    images = np.stack([seven(28, 28, 3)] * 4).astype(np.uint8)
    images = 255 - images  # ink high, as MNIST
    out = digit_sets.frame_filling(images, rng)
    for im in out:
        assert im.shape == (16, 16) and set(np.unique(im)) <= {0, 255}
        ink = im > 0
        rows, cols = np.nonzero(ink.any(1))[0], np.nonzero(ink.any(0))[0]
        assert (rows[0], rows[-1]) == (0, 15) or (cols[0], cols[-1]) == (0, 15)  # no margin on the long side
        x = digits.preprocess(im, "high")
        np.testing.assert_allclose(centre_of_mass(x), (14.0, 14.0), atol=0.15)


def test_eval_digits_counts_an_unreadable_digit_as_an_error_and_goes_on(tmp_path, capsys):
    import json
    model = bar_model(tmp_path)
    images = np.stack([frame_filling_zero()] * 6)
    images[2] = 0                    # blank: no digit to find
    images[4] = 200                  # uniform grey
    images[5] = frame_filling_zero(16, 8)  # frame-filling, mostly ink: must be read
    labels = np.zeros(6, np.int64)
    np.savez(tmp_path / "set.npz", images=images, labels=labels)
    code = cli.main(["eval-digits", f"--npz={tmp_path / 'set.npz'}", f"--model={model}", f"--out={tmp_path}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    saved = json.loads((tmp_path / "eval_digits" / "set__bars.json").read_text())
    assert [u["index"] for u in saved["unreadable"]] == [2, 4] and "no ink" in saved["unreadable"][0]["reason"]
    counts = np.array(saved["confusion"])
    assert counts.shape == (10, 11) and counts[0, 10] == 2 and counts.sum() == 6
    classify = digits.load_classifier(model)
    readable = [0, 1, 3, 5]
    x = np.stack([digits.preprocess(images[i], "high") for i in readable])[..., None]
    right = int((np.asarray(classify(x)).argmax(-1) == 0).sum())
    assert saved["accuracy"] == right / 6
    assert out.startswith(f"accuracy {100 * right / 6:.2f}% on 6 digits ({6 - right} wrong, 2 of them unreadable)")
    assert "unreadable (counted as errors, listed in the JSON): 2, 4" in out
    assert (tmp_path / "eval_digits" / "set__bars_confusion.png").is_file()
