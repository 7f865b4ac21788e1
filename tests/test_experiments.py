"""The experiments without a test file of their own run end to end on synthetic data: the convnets
sheet's (which repeat bitwise) and the EE599 ones."""
import json

import numpy as np
import pytest

from jexp.cli import commands
from test_sequences import write_human_machine


@pytest.mark.parametrize("name, extra", [
    ("toyconv", ["--epochs=2"]),
    ("mnist3", ["--models=softmax,cnn"]),
    ("lrsweep", ["--learning_rates=0.3,1e6", "--epochs=4"]),
    ("autoencoder", ["--epochs=100"]),  # 100 × 2 small steps: enough to beat PCA on the synthetic digits
])
def test_convnets_sheet_experiments_run_on_synthetic_data(fake_data_dir, tmp_path, capsys, name, extra):
    out = tmp_path / "artifacts"
    args = ["run", name, "--quick", "--no-progress", f"--out={out}", *extra]
    assert commands.main(args) == 0, capsys.readouterr().err
    folder = out / name / "quick"
    metrics = (folder / "metrics.json").read_bytes()
    json.loads(metrics)
    assert (folder / "results.md").read_text().split("\n\n", 1)[1].startswith(f"# {name}")  # after the smoke-run line
    assert list(folder.glob("*.png"))
    from jexp.cli import report
    from jexp.experiments import registry
    module = registry.load(name)
    if hasattr(module, "results_md") and list(__import__("inspect").signature(module.results_md).parameters) == ["cfg", "metrics"]:
        assert report.results_from(name, folder) == (folder / "results.md").read_text()
    if name == "mnist3":
        m = json.loads(metrics)
        assert list(m) == ["softmax", "cnn"] and m["softmax"]["params"] == 784 * 10 + 10
        assert m["cnn"]["params"] == (25 * 16 + 16) + (25 * 16 * 32 + 32) + (4 * 4 * 32 * 10 + 10)
        assert all(len(h["test_acc"]) == 3 and len(h["train_acc"]) == 3 for h in m.values())  # epochs 0, 1, 2
    if name == "autoencoder":  # on the synthetic digits too, the trained 2-D code reconstructs better than PCA's
        scores = json.loads(metrics)["scores"]
        assert scores["autoencoder"]["mse_per_pixel"] < scores["PCA"]["mse_per_pixel"]
    if name in ("toyconv", "lrsweep"):  # the same command again, from scratch: the same bytes
        assert commands.main(args + ["--fresh"]) == 0
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


@pytest.mark.parametrize("name", ["ee599_backprop", "fashion_confusion", "fashion_weights", "humanmachine"])
def test_ee599_experiments_run_on_synthetic_data(fake_data_dir, tmp_path, capsys, monkeypatch, name):
    if name == "humanmachine":
        from jexp.data import files, mnist, sequences
        raw = write_human_machine(fake_data_dir, n=200).read_bytes()
        monkeypatch.setattr(sequences, "FILE", files.FileSpec(sequences.FILE.name, len(raw), files.sha256(raw)))
    out = tmp_path / "artifacts"
    extra = ["--train_size=300", "--val_size=100"] if name == "ee599_backprop" else []
    assert commands.main(["run", name, "--quick", "--no-progress", f"--out={out}", *extra]) == 0, capsys.readouterr().err
    folder = out / name / "quick"
    printed = capsys.readouterr()
    assert "[[" not in printed.out + printed.err  # no weight matrix in the log: it is a figure
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (folder / "results.md").read_text().split("\n\n", 1)[1].startswith(f"# {name}")  # after the smoke-run line
    assert list(folder.glob("*.png"))
    from jexp.cli import report
    from jexp.experiments import registry
    module = registry.load(name)
    if hasattr(module, "results_md"):  # results.md is a function of config.json and metrics.json alone
        assert report.results_from(name, folder) == (folder / "results.md").read_text()
    if name == "ee599_backprop":
        assert len(metrics["runs"]) == 6 and 0 <= metrics["test_acc"] <= 1
        assert len(list(folder.glob("accuracy_*.png"))) == 6
        assert not list(folder.glob("*.hdf5"))  # converted data are not artifacts
    if name == "fashion_confusion":
        from jexp.data import files, mnist
        n = min(512, len(mnist.load("fashion_mnist", fake_data_dir).test.y))  # QUICK's test_size, or all there is
        counts = np.asarray(metrics["confusion"])
        assert counts.shape == (10, 10) and counts.sum() == n
        assert metrics["test_acc"] == np.trace(counts) / n
    if name == "fashion_weights":
        for m in metrics.values():
            assert m["constant_pixels"] >= 0 and len(m["history"]["test_acc"]) == 3
            assert all(0 <= k["small_share"] <= 1 and k["max_abs"] >= k["std"] > 0 for k in m["kernels"].values())
    if name == "humanmachine":
        assert metrics["split"]["train_rows"] + metrics["split"]["val_rows"] == 400
        assert set(metrics["baselines"]) == {"logistic, raw bits", "logistic, features", "MLP 20, features"}
        cfg = json.loads((folder / "config.json").read_text())["config"]
        assert all(len(v) == cfg["seeds"] and all(0 <= a <= 1 for a in v) for v in metrics["baselines"].values())
        assert len(metrics["runs"]) == len(cfg["optimisers"]) * 3
