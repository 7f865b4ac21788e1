"""The SVHN experiment end to end on synthetic .mat files, and `jexp run all` skipping it without them
(jexp.experiments.svhn)."""
import dataclasses
import json

import numpy as np

from jexp.cli import commands, runner
from jexp.data import files, svhn_mat
from jexp.experiments import registry


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8), (np.arange(n) % 10).astype(np.int64)


def _learnable(n, seed):
    """Digit k lights a vertical band at column 3k of one colour channel: a pattern a tiny CNN can learn."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.integers(0, 60, (n, 32, 32, 3)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 4:28, 3 * k:3 * k + 3, k % 3] = 230
    return x, y


def test_the_experiment_runs_on_synthetic_files_and_writes_every_figure(tmp_path, monkeypatch, capsys):
    from jexp.cli import report
    folder = tmp_path / "data" / "svhn"
    folder.mkdir(parents=True)
    for role, (n, seed) in (("train", (420, 0)), ("test", (150, 1))):
        svhn_mat.write_mat(folder / svhn_mat.FILES[role].name, *_learnable(n, seed))
        raw = (folder / svhn_mat.FILES[role].name).read_bytes()
        monkeypatch.setitem(svhn_mat.FILES, role, dataclasses.replace(svhn_mat.FILES[role], size=len(raw), sha256=files.sha256(raw)))
    out = tmp_path / "artifacts"
    code = commands.main(["run", "svhn", "--quick", f"--data-dir={tmp_path / 'data'}", f"--out={out}", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    run = out / "svhn" / "quick"
    m = json.loads((run / "metrics.json").read_text())
    assert m["sizes"] == {"train": 256, "val": 64, "test": 128}
    for name in ("sheet", "wide"):
        r = m["models"][name]
        assert np.asarray(r["confusion"]).sum() == 128 and 1 <= r["selected_epoch"] <= r["epochs_trained"] <= 3
        assert (run / f"{name}.h5").exists() and (run / f"confusion_{name}.png").exists()
    assert m["models"]["sheet"]["params"] == 19629
    fm = m["feature_maps"]
    assert sorted(fm["labels"]) == list(range(10)) and [l["filters"] for l in fm["layers"]] == [9, 36, 49]
    assert [l["size"] for l in fm["layers"]] == [32, 10, 3]
    assert sorted(p.name for p in run.glob("feature_maps_digit*.png")) == [f"feature_maps_digit{k}.png" for k in range(10)]
    assert report.results_from("svhn", run) == (run / "results.md").read_text()


def test_run_all_skips_svhn_without_its_files_but_fails_others(capsys, tmp_path, monkeypatch):

    def fake_run(name, overrides, **kw):
        if name in ("svhn", "ex1b"):
            raise files.MissingData(f"missing data file for {name}")
        return tmp_path / name
    monkeypatch.setattr(registry, "names", lambda: ("ex1b", "ex1c", "svhn"))
    monkeypatch.setattr(runner, "run", fake_run)
    code = commands.main(["run", "all", "--quick", f"--out={tmp_path}"])
    out, err = capsys.readouterr()
    assert code == 1 and "jexp: error: ex1b: missing data file for ex1b" in err
    assert "jexp: note: svhn skipped for missing data" in err
    assert "1 of 3 experiments done; skipped for missing data: svhn; failed: ex1b" in out
    monkeypatch.setattr(registry, "names", lambda: ("ex1c", "svhn"))
    assert commands.main(["run", "all", "--quick", f"--out={tmp_path}"]) == 0


