"""Many processes (jexp.runtime.distributed): the set-up's checks, and a real job of 2 processes on
localhost (gloo, 2 forced CPU devices each) whose artifacts are byte for byte those of one process
with the same 4 devices, also when one process is killed mid-run and the job is started again."""
import glob
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jexp.cli import commands
from jexp.runtime import distributed

HERE = Path(__file__).parent
EX1B = ["ex1b", "--quick", "--depths=2,3", "--seeds=3", "--epochs=3"]
ATTACK = ["adversarial", "--quick", "--samples=0,1", "--models=cnn", "--sheet_too=false"]

# One process of the job; with JEXP_TEST_KILL_AT (a glob) it SIGKILLs itself at the first gather
# after a file matching it exists (e.g. process 0's checkpoint of epoch 2): a fault at a known point.
PROCESS = """
import glob, os, signal, sys
from jexp.runtime import distributed
from jexp.cli import commands
kill_at = os.environ.get("JEXP_TEST_KILL_AT")
if kill_at:
    real = distributed.gather
    def gather(tree):
        if glob.glob(kill_at, recursive=True):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(tree)
    distributed.gather = gather
sys.exit(commands.main(sys.argv[1:]))
"""


def test_the_setup_comes_from_flags_or_the_environment_and_is_checked(monkeypatch):
    for var in distributed.ENV.values():
        monkeypatch.delenv(var, raising=False)
    assert distributed.settings() is None  # one process
    assert distributed.settings("10.0.0.1:1234", 4, 3) == {"coordinator": "10.0.0.1:1234", "num_processes": 4,
                                                            "process_id": 3}
    assert distributed.settings("auto") == {"coordinator": "auto"}
    monkeypatch.setenv("JEXP_COORDINATOR", "h:9")
    monkeypatch.setenv("JEXP_NUM_PROCESSES", "2")
    monkeypatch.setenv("JEXP_PROCESS_ID", "1")
    assert distributed.settings() == {"coordinator": "h:9", "num_processes": 2, "process_id": 1}
    assert distributed.settings(process_id=0)["process_id"] == 0  # a flag beats the environment
    for var in distributed.ENV.values():
        monkeypatch.delenv(var)
    for bad in [("h:9", 2, 2), ("h", 2, 0), ("h:0", 2, 0), ("h:9", None, None), ("auto", 2, 0), (None, 2, 0)]:
        with pytest.raises(distributed.SetupError):
            distributed.settings(*bad)


def test_a_bad_setup_is_one_line_and_exit_2(capsys, tmp_path):
    code = commands.main(["run", "toyconv", "--quick", f"--out={tmp_path}", "--num-processes=2", "--process-id=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("jexp: error: --num-processes") and not any(tmp_path.iterdir())


def test_with_one_process_the_helpers_change_nothing():
    import jax
    x = jax.numpy.arange(3.0)
    assert distributed.gather(x) is x and distributed.agree(7) == 7 and distributed.writes()
    distributed.barrier("nothing to wait for")


def _env(tmp: Path, devices: int) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": str(devices), "JEXP_NO_VERIFY": "1",
           "JEXP_DATA_DIR": str(tmp / "data"), "JEXP_NO_COMPILE_CACHE": "1", "TMPDIR": str(tmp / "scratch")}
    env.pop("XLA_FLAGS", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _job(tmp: Path, args: list[str], out: Path, kill_at: str | None = None):
    """Both processes of a 2-process job (2 CPU devices each); returns them, started."""
    port = _free_port()
    procs = []
    for i in range(2):
        env = _env(tmp, 2)
        if kill_at and i == 1:
            env["JEXP_TEST_KILL_AT"] = kill_at
        log = open(tmp / f"{out.name}-p{i}.log", "ab")
        procs.append(subprocess.Popen(
            [sys.executable, "-c", PROCESS, "run", *args, f"--out={out}", "--no-progress",
             f"--coordinator=127.0.0.1:{port}", "--num-processes=2", f"--process-id={i}"],
            env=env, cwd=HERE, stdout=log, stderr=subprocess.STDOUT))
    return procs


def _files(folder: Path) -> dict[str, bytes]:
    """Every result file under ``folder`` by relative path, except timing.json (wall clocks) and
    the working folders (checkpoints)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "timing.json" and "checkpoints" not in p.parts}


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory):
    from conftest import write_idx_dataset
    from test_adversarial import write_digit_models
    tmp = tmp_path_factory.mktemp("job")
    write_idx_dataset(tmp / "data", "mnist")
    write_digit_models(tmp / "models")
    (tmp / "scratch").mkdir()
    single = tmp / "single"  # the reference: one process with the same 4 devices
    for args in (EX1B, [*ATTACK, f"--model_dir={tmp / 'models'}"]):
        subprocess.run([sys.executable, "-m", "jexp", "run", *args, f"--out={single}", "--no-progress"],
                       env=_env(tmp, 4), cwd=HERE, check=True, capture_output=True)
    return tmp


def _wait(procs, timeout=240):
    codes = [p.wait(timeout=timeout) for p in procs]
    return codes


def test_two_processes_write_byte_for_byte_what_one_process_writes(job_dir):
    out = job_dir / "two"
    for args in (EX1B, [*ATTACK, f"--model_dir={job_dir / 'models'}"]):
        assert _wait(_job(job_dir, args, out)) == [0, 0], (job_dir / "two-p0.log").read_text()[-3000:]
    for name in ("ex1b", "adversarial"):
        want, got = _files(job_dir / "single" / name), _files(out / name)
        assert sorted(got) == sorted(want) and "quick/metrics.json" in got
        assert [k for k in want if got[k] != want[k]] == []
    assert list((job_dir / "scratch").glob("jexp-scratch-*")) == []  # process 1 left nothing behind


def test_a_process_killed_mid_run_and_the_job_restarted_end_where_one_process_ends(job_dir):
    out = job_dir / "killed"
    p0, p1 = _job(job_dir, EX1B, out, kill_at=str(out / "ex1b" / "quick" / "checkpoints" / "**" / "2"))
    assert p1.wait(timeout=240) == -signal.SIGKILL
    time.sleep(1)
    p0.kill()  # the scheduler ends the job's other process (left alone, JAX ends it within a minute)
    p0.wait()
    assert "metrics.json" not in {p.name for p in (out / "ex1b").rglob("*")}  # no results: the job did not finish
    assert glob.glob(str(out / "ex1b" / "quick" / "checkpoints" / "**" / "2"), recursive=True)
    assert _wait(_job(job_dir, EX1B, out)) == [0, 0]
    assert "resuming from checkpoint" in (job_dir / "killed-p0.log").read_text()
    want, got = _files(job_dir / "single" / "ex1b"), _files(out / "ex1b")
    assert sorted(got) == sorted(want) and [k for k in want if got[k] != want[k]] == []
    np.testing.assert_array_equal(np.frombuffer(got["quick/metrics.json"], np.uint8),
                                  np.frombuffer(want["quick/metrics.json"], np.uint8))
