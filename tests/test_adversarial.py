"""The MNIST attack experiment end to end on synthetic data and models (jexp.experiments.adversarial)."""
import json

import jax
import numpy as np

from jexp.nn import nets
from jexp.cli import commands
from jexp.io import keras_h5
from jexp.nn.nets import Dense, Flatten

TINY = nets.Sequential((28, 28, 1), (Flatten(), Dense(16, "relu"), Dense(10)))


def write_digit_models(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed in (("cnn", 0), ("mlp", 1)):
        params, state = nets.init(TINY, jax.random.key(seed))
        keras_h5.save(folder / f"{name}.h5", TINY, params, state)


def test_mnist_attack_experiment_on_synthetic_data(fake_data_dir, tmp_path, capsys):
    models = tmp_path / "models"
    write_digit_models(models)
    out = tmp_path / "artifacts"
    args = ["run", "adversarial", "--quick", "--no-progress", f"--out={out}", f"--model_dir={models}",
            "--samples=0,1"]
    assert commands.main(args) == 0, capsys.readouterr().err
    folder = out / "adversarial" / "quick"
    m = json.loads((folder / "metrics.json").read_text())
    assert set(m["models"]) == {"cnn", "mlp"} and len(m["models"]["cnn"]["generators"]) == 20
    assert (folder / "grid_cnn.png").exists() and (folder / "perturbations_mlp.png").exists()
    text = (folder / "results.md").read_text()
    assert text.startswith("> **Smoke run**") and text.split("\n\n", 1)[1].startswith("# adversarial") and "The sheet's literal reading" in text and "4 test digits × every" in text
    many = m["models"]["cnn"]["many"]
    assert many["attacks"] == 36 == sum(t["attacks"] for t in many["per_target"].values()) and len(m["many_samples"]) == 4
    saved = np.load(folder / "generators_cnn.npz")
    other = saved["labels"] != saved["targets"]
    assert saved["images"].shape == (40, 28, 28, 1) and saved["success"][other].sum() == many["successes"]
    assert set(saved["samples"]) == set(m["many_samples"]) and (folder / "per_target.png").exists()
    assert "sheet" in m["models"]["mlp"] and m["models"]["mlp"]["sheet"]["attacks"] == 18
    first = (folder / "metrics.json").read_bytes()
    assert commands.main(args + ["--fresh"]) == 0
    assert (folder / "metrics.json").read_bytes() == first  # bitwise the same numbers


def test_mnist_attack_without_models_says_how_to_make_them(fake_data_dir, tmp_path, capsys):
    code = commands.main(["run", "adversarial", "--quick", "--no-progress", f"--out={tmp_path}",
                          f"--model_dir={tmp_path / 'none'}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "jexp run digits" in err


def test_the_per_target_figure_draws_certain_rates_and_missing_intervals():
    """All generators of a class succeed (Wilson's interval ends exactly at 100 %) or too few succeed
    for a median interval: the figure still draws (a run once failed there, after its attacks)."""
    from jexp.attacks import pairs
    from jexp.plots import attack_figures
    row = lambda k, n: {"success_rate": k / n, "success_ci": pairs.rate_interval(k, n), "median_l2": 1.5 if k else None,
                        "median_l2_ci": pairs.median_interval(np.linspace(1, 2, k))}
    stats = {"cnn": {"per_target": {str(j): row(90, 90) for j in range(10)}},
             "mlp": {"per_target": {str(j): row(j % 3, 9) for j in range(10)}}}
    fig = attack_figures.per_target(stats, "title", 0.95, 2.0)
    assert len(fig.axes) == 2
