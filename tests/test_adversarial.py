"""The MNIST attack experiment end to end on synthetic data and models (jexp.experiments.adversarial)."""
import json

import jax

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
    assert (folder / "results.md").read_text().startswith("# adversarial")
    first = (folder / "metrics.json").read_bytes()
    assert commands.main(args + ["--fresh"]) == 0
    assert (folder / "metrics.json").read_bytes() == first  # bitwise the same numbers


def test_mnist_attack_without_models_says_how_to_make_them(fake_data_dir, tmp_path, capsys):
    code = commands.main(["run", "adversarial", "--quick", "--no-progress", f"--out={tmp_path}",
                          f"--model_dir={tmp_path / 'none'}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "jexp run digits" in err
