"""The standard-vs-robust studies `robust` and `robust_cifar` end to end on synthetic data (jexp.experiments.robust_study)."""
import json

import jax
import pytest

from jexp.cli import commands
from jexp.io import keras_h5
from jexp.nn import nets
from jexp.nn.nets import Activation, BatchNorm, Conv2D, Dense, Flatten



def _write_standard(path, shape):
    net = nets.Sequential(shape, (Flatten(), Dense(16, "relu"), Dense(10)))
    keras_h5.save(path, net, *nets.init(net, jax.random.key(0)))


@pytest.fixture
def small_nets(monkeypatch):
    """A small convnet in place of the experiments' CNNs: the same code path, seconds to compile."""
    from jexp.experiments import robust, robust_cifar
    for module, shape in ((robust, (28, 28, 1)), (robust_cifar, (32, 32, 3))):
        monkeypatch.setattr(module, "NET", nets.Sequential(shape, (Conv2D(4, 3, strides=2), BatchNorm(),
                                                                   Activation("relu"), Flatten(), Dense(10))))


def test_robust_mnist_experiment_on_synthetic_data(fake_data_dir, small_nets, tmp_path, capsys):
    _write_standard(tmp_path / "std.h5", (28, 28, 1))
    out = tmp_path / "artifacts"
    args = ["run", "robust", "--quick", "--no-progress", f"--out={out}", f"--standard={tmp_path / 'std.h5'}",
            "--restarts=2", "--pgd_steps=2", "--max_rounds=2", "--eval_size=32", "--curve_size=32", "--samples=0,1"]
    assert commands.main(args) == 0, capsys.readouterr().err
    folder = out / "robust" / "quick"
    m = json.loads((folder / "metrics.json").read_text())
    assert set(m["models"]) == {"standard", "robust"} and len(m["models"]["robust"]["generator"]["generators"]) == 20
    assert set(m["models"]["robust"]["checks"]) >= {"iterative ≤ single step", "white-box ≤ transfer"}
    net, params, state = keras_h5.load(folder / "robust.h5")
    assert net.input_shape == (28, 28, 1)
    sel = m["training"]["selection"]
    assert sel["size"] == 32 and sel["epoch"] in (1, 2) and len(sel["scores"]) == 3
    assert sel["scores"][sel["epoch"]] == max(sel["scores"][1:])  # the kept epoch has the best PGD check
    text = (folder / "results.md").read_text()
    assert text.startswith("> **Smoke run**") and text.split("\n\n", 1)[1].startswith("# robust") and "Madry" in text and (folder / "accuracy_vs_eps.png").exists()
    assert m["training"]["method"] == "PGD-2" and "2 signed-gradient steps" in text and "FGSM adversarial" not in text
    assert not m["standard_net"]["same_as_robust"] and "a different network from the standard model's" in text
    many = m["models"]["robust"]["generator"]["many"]
    assert many["attacks"] == 27 and 0 <= many["broken_within_eps"] <= 3 and "re-check of the PGD figure" in text
    assert (folder / "generators_robust.npz").exists() and (folder / "generators_standard.npz").exists()
    first = (folder / "metrics.json").read_bytes()
    assert commands.main(args + ["--fresh"]) == 0
    assert (folder / "metrics.json").read_bytes() == first  # bitwise the same numbers
    # re-evaluated from the run's own folder, without training: the same model and the same numbers
    h5 = (folder / "robust.h5").read_bytes()
    assert commands.main(args + [f"--model_from={folder}"]) == 0, capsys.readouterr().err
    again = json.loads((folder / "metrics.json").read_text())
    assert (folder / "robust.h5").read_bytes() == h5 and again["training"]["trained_by"].startswith("an earlier run")
    assert again["models"] == m["models"] and "this run re-evaluated it" in (folder / "results.md").read_text()
    assert again["training"]["history"] == m["training"]["history"] and len(m["training"]["history"]["test_loss"]) == 3
    assert commands.main(args + [f"--model_from={folder}", "--eps=0.2"]) == 2
    assert "trained with other settings (eps)" in capsys.readouterr().err


def test_robust_without_the_standard_model_says_how_to_make_it(fake_data_dir, tmp_path, capsys):
    code = commands.main(["run", "robust", "--quick", "--no-progress", f"--out={tmp_path}",
                          f"--standard={tmp_path / 'none.h5'}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "jexp run digits" in err


def test_robust_rejects_a_standard_model_of_the_wrong_shape(cifar_dir, tmp_path, capsys):  # noqa: F811
    _write_standard(tmp_path / "digits.h5", (28, 28, 1))
    code = commands.main(["run", "robust_cifar", "--quick", "--no-progress", f"--out={tmp_path}",
                          f"--standard={tmp_path / 'digits.h5'}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "(32, 32, 3)" in err


def test_robust_cifar_experiment_on_synthetic_data(cifar_dir, small_nets, tmp_path, capsys):  # noqa: F811
    _write_standard(tmp_path / "std.h5", (32, 32, 3))
    out = tmp_path / "artifacts"
    args = ["run", "robust_cifar", "--quick", "--no-progress", f"--out={out}", f"--standard={tmp_path / 'std.h5'}",
            "--restarts=1", "--pgd_steps=2", "--max_rounds=2", "--eval_size=16", "--curve_size=16"]
    assert commands.main(args) == 0, capsys.readouterr().err
    m = json.loads((out / "robust_cifar" / "quick" / "metrics.json").read_text())
    assert m["data"]["train_size"] == 300 and m["models"]["robust"]["n"] == 16
    assert "data_batch_2.bin" in (out / "robust_cifar" / "quick" / "results.md").read_text()


def test_learning_curves_leave_out_a_loss_the_history_does_not_have():
    """A history restored from a run that kept no test loss draws no "final nan" curve."""
    import numpy as np
    from jexp.plots import classifiers
    nan = np.full(3, np.nan)
    fig = classifiers.net_curves({"robust": {"train_loss": np.array([np.nan, 0.5, 0.3]), "train_acc": np.array([np.nan, .8, .9]),
                                             "test_acc": np.array([.1, .85, .9]), "test_loss": nan}})
    loss_ax, acc_ax = fig.axes
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["robust train"]
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == ["robust train", "robust test (final 10.00%)"]
