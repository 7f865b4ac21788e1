"""The convnets-sheet experiments run end to end on synthetic data, and repeat bitwise."""
import json

import pytest

from jexp import cli


@pytest.mark.parametrize("name, extra", [
    ("toyconv", ["--epochs=2"]),
    ("mnist3", ["--models=softmax,cnn"]),
    ("lrsweep", ["--learning_rates=0.3,1e6", "--epochs=4"]),
    ("autoencoder", ["--epochs=100"]),  # 100 × 2 small steps: enough to beat PCA on the synthetic digits
])
def test_runs_on_synthetic_data(fake_data_dir, tmp_path, capsys, name, extra):
    out = tmp_path / "artifacts"
    args = ["run", name, "--quick", "--no-progress", f"--out={out}", *extra]
    assert cli.main(args) == 0, capsys.readouterr().err
    folder = out / name / "quick"
    metrics = (folder / "metrics.json").read_bytes()
    json.loads(metrics)
    assert (folder / "results.md").read_text().startswith(f"# {name}")
    assert list(folder.glob("*.png"))
    from jexp import experiment
    module = experiment.load(name)
    if hasattr(module, "results_md") and list(__import__("inspect").signature(module.results_md).parameters) == ["cfg", "metrics"]:
        assert experiment.results_from(name, folder) == (folder / "results.md").read_text()
    if name == "mnist3":
        m = json.loads(metrics)
        assert list(m) == ["softmax", "cnn"] and m["softmax"]["params"] == 784 * 10 + 10
        assert m["cnn"]["params"] == (25 * 16 + 16) + (25 * 16 * 32 + 32) + (4 * 4 * 32 * 10 + 10)
        assert all(len(h["test_acc"]) == 3 and len(h["train_acc"]) == 3 for h in m.values())  # epochs 0, 1, 2
    if name == "autoencoder":  # on the synthetic digits too, the trained 2-D code reconstructs better than PCA's
        scores = json.loads(metrics)["scores"]
        assert scores["autoencoder"]["mse_per_pixel"] < scores["PCA"]["mse_per_pixel"]
    if name in ("toyconv", "lrsweep"):  # the same command again, from scratch: the same bytes
        assert cli.main(args + ["--fresh"]) == 0
        assert (folder / "metrics.json").read_bytes() == metrics
    if name == "lrsweep":  # a learning rate of 1e6 fails without stopping the sweep
        runs = json.loads(metrics)["runs"]
        assert [r["status"] for r in runs][0] == "ok" and runs[1]["status"] in ("diverged", "collapsed")
        ok = runs[0]["test_acc"]
        assert ok[-1] > ok[0] + 0.2  # the working rate learns: accuracy well above the untrained model's
    if name == "toyconv":  # y = Σ(Wx) is linear: the linear model fits it, the ReLU/max-pool convnet cannot
        m = json.loads(metrics)
        final = {(r["target"], r["model"]): r["test_mse"][0][-1] for r in m["runs"]}  # seed 0, last epoch
        assert final["sum", "linear"] < 0.01 * m["variance_of_y"]["sum"] < final["sum", "convnet"]
        assert final["max", "convnet"] < final["max", "linear"]  # and the max is the convnet's
        text = (folder / "results.md").read_text()
        assert "**sum**: linear is better" in text and "**max**: convnet is better" in text
