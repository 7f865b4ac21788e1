import json
import subprocess
import sys

import pytest

from jexp import cli, data, experiment


def run_cli(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_experiment(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in experiment.names():
        assert name in out and experiment.describe(experiment.load(name)) in out


@pytest.mark.parametrize("args, message", [
    (["run", "nope"], "unknown experiment 'nope'; known: ex1b"),
    (["run", "ex1b", "--epoch=3"], "unknown config key --epoch; valid keys: seed, seeds, depths"),
    (["run", "ex1b", "--epochs=three"], "--epochs=three: expected int"),
    (["run", "ex1b", "--depths=5,x"], "--depths=5,x: expected comma-separated int values"),
    (["run", "ex1b", "--verbose"], "unknown flag --verbose"),
    (["run", "ex1b", "-v"], "unknown flag -v"),
    (["run"], "run takes one experiment name"),
    (["fly"], "unknown command 'fly'"),
    (["run", "ex1b", "--activations=relu,swish", "--quick"], "unknown activation 'swish'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    code, _, err = run_cli(capsys, *args, f"--out={tmp_path}")
    assert code == 2
    assert err.startswith("jexp: error: ") and message in err and err.count("\n") == 1


def test_missing_data_is_exit_1_naming_the_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_reachable", lambda url, timeout=3.0: "offline (test)")
    code, _, err = run_cli(capsys, "run", "ex1b", "--quick", f"--data-dir={tmp_path}", f"--out={tmp_path / 'a'}")
    assert code == 1 and err.count("\n") == 1
    assert f"missing data file {tmp_path}/mnist/" in err and "idx" in err
    assert not (tmp_path / "a" / "ex1b").exists() or not any((tmp_path / "a" / "ex1b").glob("*.json"))


TINY = ["--depths=1,2", "--seeds=2", "--epochs=2", "--width=8", "--no-progress"]


@pytest.mark.parametrize("name", ["ex1b", "ex1c", "ex1d"])
def test_experiment_runs_on_synthetic_data_and_repeats_bitwise(capsys, fake_data_dir, tmp_path, name):
    out = tmp_path / "artifacts"
    for _ in range(2):
        code, stdout, err = run_cli(capsys, "run", name, "--quick", *TINY, f"--out={out}", "--fresh")
        assert code == 0, err
        first = (out / name / "quick" / "metrics.json").read_bytes() if _ == 0 else first
    folder = out / name / "quick"
    assert (folder / "metrics.json").read_bytes() == first  # same command twice: bitwise the same numbers
    metrics = json.loads(first)  # strict JSON (no NaN literals)
    cfg = json.loads((folder / "config.json").read_text())["config"]
    assert cfg["depths"] == [1, 2] and cfg["train_size"] == 2048
    assert len(metrics["runs"]) == 2 * 2 * (3 if name != "ex1d" else 2)
    run = metrics["runs"][0]
    assert len(run["history"]["test_acc"]) == 3 and run["history"]["train_loss"][0] is None
    assert (folder / "results.md").read_text().startswith(f"# {name}")
    assert list(folder.glob("*.png"))


def test_a_failed_run_keeps_the_previous_artifacts(capsys, fake_data_dir, tmp_path, monkeypatch):
    out = tmp_path / "artifacts"
    assert run_cli(capsys, "run", "ex1b", "--quick", *TINY, f"--out={out}")[0] == 0
    before = (out / "ex1b" / "quick" / "metrics.json").read_bytes()
    (fake_data_dir / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8bbroken")
    monkeypatch.setenv(data.NO_VERIFY_ENV, "1")
    code, _, err = run_cli(capsys, "run", "ex1b", "--quick", *TINY, "--seeds=3", f"--out={out}")
    assert code == 1 and "corrupt data file" in err
    assert (out / "ex1b" / "quick" / "metrics.json").read_bytes() == before
    assert not list((out).glob(".ex1b.staging.*"))


def test_python_dash_m_entry_point():
    res = subprocess.run([sys.executable, "-m", "jexp", "list"], capture_output=True, text=True)
    assert res.returncode == 0 and "ex1b" in res.stdout
    res = subprocess.run([sys.executable, "-m", "jexp", "run", "ex9"], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.strip().endswith("(see `jexp list`)")
