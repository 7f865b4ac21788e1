"""The `jexp` command: usage errors, runs on synthetic data, bitwise repeats, `run all`, help and
config keys, timing.json (jexp.cli)."""
import json
import os
import subprocess
import sys

import jax
import pytest

from jexp.cli import commands, configs, runner
from jexp.data import files
from jexp.experiments import registry


def run_cli(capsys, *args):
    code = commands.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_experiment(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in registry.names():
        assert name in out and registry.describe(registry.load(name)) in out


@pytest.mark.parametrize("args, message", [
    (["run", "nope"], "unknown experiment 'nope'; known: ex1b"),
    (["run", "ex1b", "--epoch=3"], "unknown config key --epoch; valid keys: seed, seeds, depths"),
    (["run", "ex1b", "--epochs"], "argument --epochs: expected one argument"),
    (["run", "ex1b", "--epochs=three"], "--epochs=three: expected int"),
    (["run", "ex1b", "--depths=5,x"], "--depths=5,x: expected comma-separated int values"),
    (["run", "ex1b", "--verbose"], "unknown flag --verbose"),
    (["run", "ex1b", "-v"], "unknown flag -v"),
    (["run"], "run takes one experiment name"),
    (["fly"], "invalid choice: 'fly'"),
    (["run", "all", "--epochs=3"], "config overrides need one experiment, not 'all'"),
    (["list", "extra"], "unknown argument extra"),
    (["run", "ex1b", "--activations=relu,swish", "--quick"], "unknown activation 'swish'"),
    (["run", "adversarial", "--loss=hinge"], "unknown attack loss 'hinge'; known: mse, xent, margin"),
    (["run", "robust", "--threshold=1.5"], "threshold must be in (0, 1)"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    code, _, err = run_cli(capsys, *args, f"--out={tmp_path}")
    assert code == 2
    assert err.startswith("jexp: error: ") and message in err and err.count("\n") == 1


def test_missing_data_is_exit_1_naming_the_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_reachable", lambda url, timeout=3.0: "offline (test)")
    code, _, err = run_cli(capsys, "run", "ex1b", "--quick", f"--data-dir={tmp_path}", f"--out={tmp_path / 'a'}")
    assert code == 1 and err.count("\n") == 1
    assert f"missing data file {tmp_path}/mnist/" in err and "idx" in err
    assert not (tmp_path / "a" / "ex1b").exists() or not any((tmp_path / "a" / "ex1b").glob("*.json"))


TINY = ["--depths=1,2", "--seeds=2", "--epochs=2", "--width=8", "--no-progress"]


@pytest.mark.parametrize("name", ["ex1b", "ex1c", "ex1d"])
def test_experiment_runs_on_synthetic_data_and_repeats_bitwise(capsys, fake_data_dir, tmp_path, name):
    out = tmp_path / "artifacts"
    runs = []
    for _ in range(2):
        code, stdout, err = run_cli(capsys, "run", name, "--quick", *TINY, f"--out={out}", "--fresh")
        assert code == 0, err
        runs.append((out / name / "quick" / "metrics.json").read_bytes())
    first = runs[0]
    folder = out / name / "quick"
    assert (folder / "metrics.json").read_bytes() == first  # same command twice: bitwise the same numbers
    metrics = json.loads(first)  # strict JSON (no NaN literals)
    cfg = json.loads((folder / "config.json").read_text())["config"]
    assert cfg["depths"] == [1, 2] and cfg["train_size"] == 2048
    assert len(metrics["runs"]) == 2 * 2 * (3 if name != "ex1d" else 2)
    run = metrics["runs"][0]
    assert len(run["history"]["test_acc"]) == 3 and run["history"]["train_loss"][0] is None
    results = (folder / "results.md").read_text()
    banner, page = results.split("\n\n", 1)  # a smoke run says so first, with what it shrank
    assert banner.startswith(f"> **Smoke run** (`jexp run {name} --quick`)") and "epochs=2" in banner
    assert "width=8" in banner and "train_size=2048" in banner and page.startswith(f"# {name}")
    if name == "ex1b":  # 2 epochs at width 8 are not the Keras solution's setting: nothing compares with it
        assert "No comparison with the public Keras run" in page and "Keras within" in page
        assert "**no**" not in page and "yes" not in page.split("Keras within", 1)[1].split("\n\n")[0]
    assert list(folder.glob("*.png"))


def test_a_failed_run_keeps_the_previous_artifacts(capsys, fake_data_dir, tmp_path, monkeypatch):
    out = tmp_path / "artifacts"
    assert run_cli(capsys, "run", "ex1b", "--quick", *TINY, f"--out={out}")[0] == 0
    before = (out / "ex1b" / "quick" / "metrics.json").read_bytes()
    (fake_data_dir / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8bbroken")
    monkeypatch.setenv(files.NO_VERIFY_ENV, "1")
    code, _, err = run_cli(capsys, "run", "ex1b", "--quick", *TINY, "--seeds=3", f"--out={out}")
    assert code == 1 and "corrupt data file" in err
    assert "JEXP_NO_VERIFY=1: " in err and "read without its size and sha256 checks" in err  # never silent
    assert (out / "ex1b" / "quick" / "metrics.json").read_bytes() == before
    assert not list((out).glob(".ex1b.staging.*"))


def test_python_dash_m_entry_point():
    res = subprocess.run([sys.executable, "-m", "jexp", "list"], capture_output=True, text=True)
    assert res.returncode == 0 and "ex1b" in res.stdout
    res = subprocess.run([sys.executable, "-m", "jexp", "run", "ex9"], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.strip().endswith("(see `jexp list`)")


def test_help_lists_commands_and_an_experiments_config_keys(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and all(c in out for c in ("list", "run", "report", "predict-digit", "eval-digits"))
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and "--data-dir DIR" in out and "jexp run NAME --help" in out and "ex1b" in out
    code, out, _ = run_cli(capsys, "run", "ex1b", "--help")
    assert code == 0 and out.startswith("usage: jexp run ex1b")
    assert registry.describe(registry.load("ex1b")) in out  # the docstring
    import re
    for name, typ, default, comment in configs.config_fields(registry.load("ex1b").Config):
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        assert re.search(rf"--{name} {re.escape(typ.upper())}\s", out), name
        bound = configs.bounds_text(name)
        assert f"(default: {shown}{'; ' + bound if bound else ''})" in " ".join(out.split()), name
    comments = [c for *_, c in configs.config_fields(registry.load("robust").Config) if c]
    assert "the L∞ budget, for training and evaluation" in comments
    code, out, _ = run_cli(capsys, "run", "robust", "--help")
    assert "the L∞ budget, for training and evaluation" in " ".join(out.split())


def test_config_fields_reads_types_defaults_and_comments():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Config:
        seed: int = 0
        sizes: tuple[int, ...] = (8, 16)  # pictures, in pixels
        lr: float = 1e-3                   # step size # not a second comment
        name: str = "a # b"
    assert configs.config_fields(Config) == [
        ("seed", "int", 0, ""), ("sizes", "int,…", (8, 16), "pictures, in pixels"),
        ("lr", "float", 1e-3, "step size # not a second comment"), ("name", "str", "a # b", "")]


def test_space_separated_override_equals_the_equals_form(capsys, fake_data_dir, tmp_path):
    outs = []
    for i, args in enumerate((["--epochs", "1"], ["--epochs=1"])):
        out = tmp_path / str(i)
        code, _, err = run_cli(capsys, "run", "ex1b", "--quick", "--depths=1", "--seeds=1", "--width=4", *args,
                               "--no-progress", f"--out={out}")
        assert code == 0, err
        outs.append((out / "ex1b" / "quick" / "metrics.json").read_bytes())
    assert outs[0] == outs[1]


def test_run_all_goes_on_past_a_failure_and_exits_1(capsys, tmp_path, monkeypatch):
    calls = []

    def fake_run(name, overrides, **kw):
        calls.append(name)
        if name == "ex1c":
            raise files.DataError("missing data file X (put it in Y)")
        if name == "ex1d":
            raise RuntimeError("a bug\nwith two lines")
        return tmp_path / name
    monkeypatch.setattr(registry, "names", lambda: ("ex1b", "ex1c", "ex1d", "digits"))
    monkeypatch.setattr(runner, "run", fake_run)
    code, out, err = run_cli(capsys, "run", "all", "--quick", f"--out={tmp_path}")
    assert code == 1 and calls == ["ex1b", "ex1c", "ex1d", "digits"]
    assert "jexp: error: ex1c: missing data file X (put it in Y)" in err
    assert "jexp: error: ex1d: RuntimeError: a bug" in err
    summary = out[out.index("experiment"):]
    assert "failed: missing data file X" in summary and f"{tmp_path}/digits/" in summary
    assert "2 of 4 experiments done; failed: ex1c, ex1d" in summary


def test_run_all_exits_0_when_everything_ran(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "names", lambda: ("ex1b", "ex1c"))
    monkeypatch.setattr(runner, "run", lambda name, overrides, **kw: tmp_path / name)
    code, out, _ = run_cli(capsys, "run", "all", "--quick", f"--out={tmp_path}")
    assert code == 0 and "2 of 2 experiments done" in out


def test_two_fresh_processes_give_the_same_bytes(fake_data_dir, tmp_path):
    """Bitwise reproducibility across processes, not only twice in one: the same command in two new
    Python processes writes the same metrics.json; the second loads its programs from the persistent
    compilation cache the first filled."""
    import os
    cache = tmp_path / "xla"
    env = {**os.environ, files.DATA_ENV: str(fake_data_dir), files.NO_VERIFY_ENV: "1",  # synthetic files: no registry sums
           "JAX_COMPILATION_CACHE_DIR": str(cache)}
    env.pop("JEXP_NO_COMPILE_CACHE", None)
    outs = []
    for i in range(2):
        if i == 1:
            filled = sorted(cache.iterdir())
            assert len(filled) >= 2  # the epoch programs, at least
        out = tmp_path / f"run{i}"
        res = subprocess.run([sys.executable, "-m", "jexp", "run", "ex1b", "--quick", *TINY, f"--out={out}"],
                             capture_output=True, text=True, env=env)
        assert res.returncode == 0, res.stderr
        outs.append((out / "ex1b" / "quick" / "metrics.json").read_bytes())
    new = set(cache.iterdir()) - set(filled)  # programs near the 0.1 s threshold may be kept only now
    assert set(filled) <= set(cache.iterdir()) and not [p for p in new if "epoch" in p.name]  # epochs: loaded
    assert outs[0] == outs[1]
    cached = [json.loads((tmp_path / f"run{i}" / "ex1b" / "quick" / "timing.json").read_text())["compile_cache"]
              for i in range(2)]
    assert cached[0]["hits"] < cached[1]["hits"] <= cached[1]["requests"]  # timing.json says the cache answered


def test_ex1c_reuses_ex1b_runs_only_when_config_and_code_match(capsys, fake_data_dir, tmp_path, monkeypatch):
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    assert run_cli(capsys, "run", "ex1b", "--quick", *TINY, f"--out={shared}")[0] == 0
    code, _, err = run_cli(capsys, "run", "ex1c", "--quick", *TINY, f"--out={shared}")
    assert code == 0 and f"using the 12 runs of {shared}/ex1b/quick/" in err
    code, _, err = run_cli(capsys, "run", "ex1c", "--quick", *TINY, f"--out={alone}")
    assert code == 0 and "using the" not in err
    # taken from ex1b or trained by ex1c itself: the same bytes
    for f in ("metrics.json", "results.md"):
        assert (shared / "ex1c" / "quick" / f).read_bytes() == (alone / "ex1c" / "quick" / f).read_bytes()
    # another config, or other code, or --fresh: trained again
    for args in (["--epochs=1"], ["--fresh"]):
        assert "using the" not in run_cli(capsys, "run", "ex1c", "--quick", *TINY, *args, f"--out={shared}")[2]
    monkeypatch.setattr(registry, "code_version", lambda name: "other")
    assert "using the" not in run_cli(capsys, "run", "ex1c", "--quick", *TINY, f"--out={shared}")[2]


def test_a_run_records_its_time_and_phases_apart_from_its_metrics(capsys, fake_data_dir, tmp_path):
    out = tmp_path / "artifacts"
    code, _, err = run_cli(capsys, "run", "ex1b", "--quick", *TINY, f"--out={out}")
    assert code == 0, err
    t = json.loads((out / "ex1b" / "quick" / "timing.json").read_text())
    assert t["resumed"] is False and t["seconds"] > 0 and "cores" in t["machine"]
    assert t["devices"] == {"backend": "cpu", "kind": "cpu", "count": jax.device_count(), "processes": 1}
    assert [p["name"] for p in t["phases"]] == ["ex1b: training"]
    assert t["phases"][0]["steps"] == 2 * 2  # depths × epochs ticks of the training bar
    assert 0 < t["phases"][0]["seconds"] <= t["seconds"]
    assert "seconds" not in (out / "ex1b" / "quick" / "metrics.json").read_text()
    assert t["compile_cache"]["hits"] == 0  # the tests run with the persistent cache off
    code, _, err = run_cli(capsys, "run", "ex1b", "--quick", *TINY, f"--out={out}")  # finished checkpoints
    assert code == 0, err
    assert json.loads((out / "ex1b" / "quick" / "timing.json").read_text())["resumed"] is True


@pytest.mark.parametrize("name", registry.names())
def test_every_config_field_says_what_it_means_also_where_a_base_declares_it(name):
    config = registry.load(name).Config
    assert all(comment for *_, comment in configs.config_fields(config)), name
    owner = configs.introduced_by(config)
    assert all(owner[f] in config.__mro__ for f in owner)


def test_an_experiments_help_groups_the_settings_it_shares_with_others(capsys):
    _, out, _ = run_cli(capsys, "run", "adversarial", "--help")
    own, shared = out.index("config (adversarial.Config"), out.index("config, shared: The generator attack's settings")
    assert own < out.rindex("--pgd_steps") < shared < out.rindex("--recon_steps")  # usage lists them in the same order
    assert out.index("--pgd_steps") < out.index("--recon_steps")
    _, out, _ = run_cli(capsys, "run", "ex1d", "--help")  # ex1d only changes GridConfig's defaults
    assert "config, shared: The settings of an MLP depth × activation study (GridConfig)" in out
    assert "hidden layers of each MLP (default: 5,20,40; ≥ 1)" in " ".join(out.split())


def test_sigterm_stops_a_run_cleanly_in_one_line_and_leaves_the_old_results(tmp_path):
    """SIGTERM (kill, timeout, a scheduler) is a clean stop, as Ctrl-C is: the staging folder goes,
    the results of the run before stay, one line says what happened."""
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "jexp", "run", "toyconv", "--quick", "--no-progress", f"--out={out}"]
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    before = (out / "toyconv" / "quick" / "metrics.json").read_bytes()
    p = subprocess.Popen(cmd + ["--fresh"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 120
    while not list((out / "toyconv").glob(".quick.staging.*")) and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=120)[1]
    if p.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert p.returncode == 143 and err.count("\n") == 1 and err.startswith("jexp: error: interrupted (SIGTERM)")
    assert not list((out / "toyconv").glob(".quick.staging.*"))
    assert (out / "toyconv" / "quick" / "metrics.json").read_bytes() == before


def test_kill_9_at_any_moment_of_a_run_leaves_complete_old_or_new_results(tmp_path):
    """SIGKILL (nothing runs after it) at spread moments of `jexp run toyconv --quick`: afterwards,
    once the next run's repair is done, the folder holds one run's complete set of files."""
    import json
    import signal
    import subprocess
    import sys
    import time
    from jexp.io import artifacts
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "jexp", "run", "toyconv", "--quick", "--no-progress", "--fresh", f"--out={out}"]
    t0 = time.time()
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    full = time.time() - t0
    folder = out / "toyconv" / "quick"
    for i in range(6):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * (0.3 + 0.15 * i))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        with artifacts.exclusive(out / "toyconv"):
            for f in (out / "toyconv", folder):
                artifacts.recover(f)
        listed = json.loads((folder / artifacts.MANIFEST).read_text())
        assert listed and all((folder / name).exists() for name in listed), i
        json.loads((folder / "metrics.json").read_text())
        assert not [p.name for p in (out / "toyconv").iterdir() if ".staging." in p.name or ".old." in p.name]


def test_impossible_config_values_are_refused_in_one_line_and_help_states_the_bounds(capsys):
    for bad, said in (("--lr=-1", "--lr=-1: must be > 0"), ("--lr=0", "--lr=0: must be > 0"),
                      ("--epochs=0", "--epochs=0: must be ≥ 1"), ("--batch_size=-5", "must be ≥ 1"),
                      ("--fill_prob=1.5", "--fill_prob=1.5: must be in [0, 1]"), ("--lr=nan", "must be a finite number"),
                      ("--ood_sizes=8,-2", "--ood_sizes=-2: must be ≥ 0")):
        assert commands.main(["run", "digits", "--quick", bad]) == 2, bad
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("jexp: error:") and said in err, (bad, err)
    assert commands.main(["run", "digits", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.002; > 0)" in text and "(default: 0.3; in [0, 1])" in text


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    assert commands.main(["run", "toyconv", "--quick", "--no-progress", f"--out={a_file}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jexp: error:") and "a_file" in err
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        assert commands.main(["run", "toyconv", "--quick", "--no-progress", f"--out={locked}"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Permission denied" in err
    finally:
        locked.chmod(0o700)


def test_the_run_all_summary_aligns_and_never_cuts_a_reason():
    long_path = "/some/very/long/output/folder/that/is/longer/than/thirty/characters/ex1b/"
    reason = ("failed: missing data file train-images-idx3-ubyte.gz (put it in /data/mnist/, or run once online "
              "so that tensorflow-datasets fetches it; see ../shared/data/SOURCES.md for the checksums)")
    rows = [("ex1b", "ok", 58.2, long_path), ("autoencoder", reason, 1234.5, "-"), ("x", "ok", 3.0, "a/")]
    lines = commands.summary_table(rows, width=100).splitlines()
    header, body = lines[0], lines[1:]
    at = header.index("status")
    firsts = [l for l in body if not l.startswith(" ")]
    assert len(firsts) == 3 and all(len(l) > at for l in firsts)
    assert all(l[at - 2:at] == "  " and l[at] != " " for l in firsts)  # every status starts in its column
    assert all(l[header.index("results")] != " " for l in firsts)  # so does every folder
    more = [l for l in body if l.startswith(" ")]
    assert more and all(l[:at].strip() == "" and l[at] != " " for l in more)  # wrapped under the column
    assert " ".join(l[at:] for l in body if l is firsts[1] or l in more).split() == reason.split()  # nothing cut
    assert all(len(l) - at <= max(100 - at, 30) for l in body)  # a line of 100, or a status column of 30


def test_report_says_unchanged_when_nothing_changed(tmp_path):
    from jexp.cli import report
    readme = tmp_path / "README.md"
    readme.write_text(f"head\n{report.START}\nold\n{report.END}\ntail\n")
    root = tmp_path / "artifacts"
    root.mkdir()
    assert report.update_readme(readme, root) == f"updated {readme}"
    written = readme.read_bytes()
    stamp = readme.stat().st_mtime_ns
    assert report.update_readme(readme, root).startswith(f"{readme} unchanged")
    assert readme.read_bytes() == written and readme.stat().st_mtime_ns == stamp  # not even rewritten


def test_help_quotes_the_committed_runs_recorded_time(capsys):
    from jexp.io import artifacts
    for name in registry.names():
        timing = artifacts.CHECKOUT / "artifacts" / name / "timing.json"
        code, out, _ = run_cli(capsys, "run", name, "--help")
        assert code == 0
        if not timing.exists():
            assert "Recorded:" not in out
            continue
        t = json.loads(timing.read_text())
        took = f"{t['seconds']:.0f} s" if t["seconds"] < 120 else f"{t['seconds'] / 60:.1f} min"
        assert f"Recorded: the committed run took {took} on {t['machine']}" in " ".join(out.split())

