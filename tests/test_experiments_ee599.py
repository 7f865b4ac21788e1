"""The EE599 experiments end to end on synthetic data."""
import json

import numpy as np
import pytest

from jexp import cli
from test_sequences import write_human_machine


@pytest.mark.parametrize("name", ["ee599_backprop", "fashion_confusion", "fashion_weights", "humanmachine"])
def test_runs_on_synthetic_data(fake_data_dir, tmp_path, capsys, monkeypatch, name):
    if name == "humanmachine":
        from jexp import data, sequences
        raw = write_human_machine(fake_data_dir, n=200).read_bytes()
        monkeypatch.setattr(sequences, "FILE", data.FileSpec(sequences.FILE.name, len(raw), data.sha256(raw)))
    out = tmp_path / "artifacts"
    extra = ["--train_size=300", "--val_size=100"] if name == "ee599_backprop" else []
    assert cli.main(["run", name, "--quick", "--no-progress", f"--out={out}", *extra]) == 0, capsys.readouterr().err
    folder = out / name / "quick"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (folder / "results.md").read_text().startswith(f"# {name}")
    assert list(folder.glob("*.png"))
    from jexp import experiment
    module = experiment.load(name)
    if hasattr(module, "results_md"):  # results.md is a function of config.json and metrics.json alone
        assert experiment.results_from(name, folder) == (folder / "results.md").read_text()
    if name == "ee599_backprop":
        assert len(metrics["runs"]) == 6 and 0 <= metrics["test_acc"] <= 1
        assert len(list(folder.glob("accuracy_*.png"))) == 6
        assert not list(folder.glob("*.hdf5"))  # converted data are not artifacts
    if name == "fashion_confusion":
        from jexp import data
        n = min(512, len(data.load("fashion_mnist", fake_data_dir).test.y))  # QUICK's test_size, or all there is
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
