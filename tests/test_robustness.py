"""Robust accuracy and the gradient-masking checks, on a linear model whose minimal L∞ attack is
known exactly; a gradient-masked copy of it must fail the checks; the robust experiments end to end."""
import json

import jax
import jax.numpy as jnp
import pytest

from jexp import cli, keras_h5, nets, robustness
from jexp.nets import Activation, BatchNorm, Conv2D, Dense, Flatten

from test_adversarial import linear_problem
from test_cifar10 import cifar_dir  # noqa: F401  (fixture)


def batch_of(n=6):
    f, w, x, label, eps_star = linear_problem()
    return f, w, jnp.repeat(x, n, 0), jnp.full((n,), label), eps_star


def test_survivors_row_zero_is_clean_and_fgsm_is_exact_for_a_linear_model():
    f, w, xs, ys, eps_star = batch_of()
    s = robustness.pgd_survivors(f, w, xs, ys, jax.random.key(0), 1.1 * eps_star, steps=1)
    assert s.shape == (2, 6) and s[0].all() and not s[1].any()
    s = robustness.pgd_survivors(f, w, xs, ys, jax.random.key(0), 0.9 * eps_star, steps=10, restarts=3, batch=4)
    assert s.shape == (4, 6) and s.all()  # below the minimal budget nothing can flip it
    wrong = robustness.pgd_survivors(f, w, xs, 1 - ys, jax.random.key(0), 0.1, steps=5)
    assert not wrong.any()  # misclassified images are never counted as robust


def test_noise_and_transfer_below_the_minimal_budget_cannot_flip():
    f, w, xs, ys, eps_star = batch_of()
    assert robustness.noise_survivors(f, w, xs, ys, jax.random.key(1), 0.9 * eps_star).all()
    assert robustness.transfer_survivors((f, w), (f, w), xs, ys, jax.random.key(1), 0.9 * eps_star, steps=10).all()
    assert not robustness.transfer_survivors((f, w), (f, w), xs, ys, jax.random.key(1), 1.2 * eps_star, steps=10).any()


def test_checks_pass_for_the_real_model_and_catch_a_masked_gradient():
    f, w, xs, ys, eps_star = batch_of()
    masked = lambda v, x: f(v, jax.lax.stop_gradient(x))  # the same model, no gradient reaches the input
    kw = dict(steps=10, restarts=3, eps_grid=(0.5 * eps_star, 1.2 * eps_star, 2 * eps_star), transfer_from=(f, w))
    real = robustness.evaluate(f, w, xs, ys, jax.random.key(2), 1.2 * eps_star, **kw)
    assert real["pgd"] == 0.0 and real["curve"]["acc"] == [1.0, 0.0, 0.0] and real["clean"] == 1.0
    assert all(c["passed"] for c in robustness.masking_checks(real).values())
    fake = robustness.evaluate(masked, w, xs, ys, jax.random.key(2), 1.2 * eps_star, **kw)
    assert fake["pgd"] > 0.5 and fake["transfer"] == 0.0  # looks robust to PGD, but transferred examples break it
    failed = {k for k, c in robustness.masking_checks(fake).items() if not c["passed"]}
    assert failed >= {"white-box ≤ transfer", "a large ε breaks it"}


def test_masking_checks_exact_verdicts():
    ev = {"clean": 0.99, "pgd": 0.80, "fgsm": 0.85, "noise": 0.97, "transfer": 0.95,
          "pgd_after_restart": [0.84, 0.81, 0.80], "curve": {"eps": [0.1, 0.3, 0.5], "acc": [0.95, 0.80, 0.05]}}
    assert all(c["passed"] for c in robustness.masking_checks(ev).values())
    bad = {**ev, "fgsm": 0.70, "pgd_after_restart": [0.95, 0.88, 0.80], "curve": {"eps": [0.1, 0.3, 0.5],
                                                                                   "acc": [0.80, 0.85, 0.60]}}
    failed = {k for k, c in robustness.masking_checks(bad).items() if not c["passed"]}
    assert failed == {"iterative ≤ single step", "falls as ε grows", "a large ε breaks it", "restarts converged"}


def _write_standard(path, shape):
    net = nets.Sequential(shape, (Flatten(), Dense(16, "relu"), Dense(10)))
    keras_h5.save(path, net, *nets.init(net, jax.random.key(0)))


@pytest.fixture
def small_nets(monkeypatch):
    """A small convnet in place of the experiments' CNNs: the same code path, seconds to compile."""
    from experiments import robust, robust_cifar
    for module, shape in ((robust, (28, 28, 1)), (robust_cifar, (32, 32, 3))):
        monkeypatch.setattr(module, "NET", nets.Sequential(shape, (Conv2D(4, 3, strides=2), BatchNorm(),
                                                                   Activation("relu"), Flatten(), Dense(10))))


def test_robust_mnist_experiment_on_synthetic_data(fake_data_dir, small_nets, tmp_path, capsys):
    _write_standard(tmp_path / "std.h5", (28, 28, 1))
    out = tmp_path / "artifacts"
    args = ["run", "robust", "--quick", "--no-progress", f"--out={out}", f"--standard={tmp_path / 'std.h5'}",
            "--restarts=2", "--pgd_steps=2", "--max_rounds=2", "--eval_size=32", "--curve_size=32", "--samples=0,1"]
    assert cli.main(args) == 0, capsys.readouterr().err
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
    assert text.startswith("# robust") and "Madry" in text and (folder / "accuracy_vs_eps.png").exists()
    assert m["training"]["method"] == "PGD-2" and "2 signed-gradient steps" in text and "FGSM adversarial" not in text
    assert not m["standard_net"]["same_as_robust"] and "a different network from the standard model's" in text
    first = (folder / "metrics.json").read_bytes()
    assert cli.main(args + ["--fresh"]) == 0
    assert (folder / "metrics.json").read_bytes() == first  # bitwise the same numbers


def test_robust_without_the_standard_model_says_how_to_make_it(fake_data_dir, tmp_path, capsys):
    code = cli.main(["run", "robust", "--quick", "--no-progress", f"--out={tmp_path}",
                     f"--standard={tmp_path / 'none.h5'}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "jexp run digits" in err


def test_robust_rejects_a_standard_model_of_the_wrong_shape(cifar_dir, tmp_path, capsys):  # noqa: F811
    _write_standard(tmp_path / "digits.h5", (28, 28, 1))
    code = cli.main(["run", "robust_cifar", "--quick", "--no-progress", f"--out={tmp_path}",
                     f"--standard={tmp_path / 'digits.h5'}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "(32, 32, 3)" in err


def test_robust_cifar_experiment_on_synthetic_data(cifar_dir, small_nets, tmp_path, capsys):  # noqa: F811
    _write_standard(tmp_path / "std.h5", (32, 32, 3))
    out = tmp_path / "artifacts"
    args = ["run", "robust_cifar", "--quick", "--no-progress", f"--out={out}", f"--standard={tmp_path / 'std.h5'}",
            "--restarts=1", "--pgd_steps=2", "--max_rounds=2", "--eval_size=16", "--curve_size=16"]
    assert cli.main(args) == 0, capsys.readouterr().err
    m = json.loads((out / "robust_cifar" / "quick" / "metrics.json").read_text())
    assert m["data"]["train_size"] == 300 and m["models"]["robust"]["n"] == 16
    assert "data_batch_2.bin" in (out / "robust_cifar" / "quick" / "results.md").read_text()
