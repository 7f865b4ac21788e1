"""The EE599 experiments end to end on synthetic data."""
import json

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
    if name == "ee599_backprop":
        assert len(metrics["runs"]) == 6 and 0 <= metrics["test_acc"] <= 1
        assert len(list(folder.glob("accuracy_*.png"))) == 6
        assert not list(folder.glob("*.hdf5"))  # converted data are not artifacts
    if name == "humanmachine":
        assert metrics["split"]["train_rows"] + metrics["split"]["val_rows"] == 400
