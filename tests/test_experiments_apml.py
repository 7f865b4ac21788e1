"""The convnets-sheet experiments run end to end on synthetic data, and repeat bitwise."""
import json

import pytest

from jexp import cli


@pytest.mark.parametrize("name, extra", [
    ("toyconv", ["--epochs=2"]),
    ("mnist3", ["--models=softmax,cnn"]),
    ("lrsweep", ["--learning_rates=0.3,1e6", "--epochs=4"]),
    ("autoencoder", []),
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
    if name in ("toyconv", "lrsweep"):  # the same command again, from scratch: the same bytes
        assert cli.main(args + ["--fresh"]) == 0
        assert (folder / "metrics.json").read_bytes() == metrics
    if name == "lrsweep":  # a learning rate of 1e6 fails without stopping the sweep
        runs = json.loads(metrics)["runs"]
        assert [r["status"] for r in runs][0] == "ok" and runs[1]["status"] in ("diverged", "collapsed")
