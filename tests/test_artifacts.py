"""A run's artifacts folder: staged, swapped in whole, working folders kept (jexp.io.artifacts)."""
import os

import pytest

from jexp.io import artifacts


def test_a_run_replaces_its_folder_whole_keeping_checkpoints_and_quick(tmp_path):
    from jexp.io import artifacts
    folder = tmp_path / "exp"
    first = artifacts.Artifacts(folder)
    first.text("results.md", "one\n")
    first.text("old_figure.png", "stale")
    first.commit()
    (folder / "checkpoints" / "abc").mkdir(parents=True)
    (folder / "checkpoints" / "abc" / "state").write_text("ckpt")
    (folder / "quick").mkdir()
    (folder / "quick" / "results.md").write_text("quick\n")
    second = artifacts.Artifacts(folder)
    second.text("results.md", "two\n")
    failed = artifacts.Artifacts(folder)  # a run that fails changes nothing
    failed.text("results.md", "never\n")
    failed.discard()
    assert (folder / "old_figure.png").exists() and (folder / "results.md").read_text() == "one\n"
    assert second.commit() == [folder / "results.md"]
    assert sorted(p.name for p in folder.iterdir()) == [artifacts.MANIFEST, "checkpoints", "quick", "results.md"]  # no stale figure
    assert (folder / "results.md").read_text() == "two\n" and (folder / "checkpoints/abc/state").read_text() == "ckpt"
    assert (folder / "quick" / "results.md").read_text() == "quick\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]  # no staging or old folders left
    assert folder.stat().st_mode & 0o777 == 0o777 & ~artifacts._umask()  # an ordinary folder, not mkdtemp's 0700


def test_a_collecting_folder_keeps_earlier_files(tmp_path):
    from jexp.io import artifacts
    for name in ("a.json", "b.json"):
        out = artifacts.Artifacts(tmp_path / "eval", replace=False)
        out.text(name, name)
        out.commit()
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["a.json", "b.json"]


def test_arrays_read_back_exactly_make_the_same_bytes_twice_and_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    import numpy as np
    import pytest

    from jexp.io import artifacts
    data = {"images": np.random.default_rng(0).random((4, 3, 3, 1), np.float32), "ids": np.arange(4), "ok": np.ones(4, bool)}
    out = artifacts.Artifacts(tmp_path / "exp")
    out.arrays("g.npz", **data)
    out.commit()
    path = tmp_path / "exp" / "g.npz"
    back = np.load(path)
    assert back.files == ["images", "ids", "ok"]
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in data.items())
    assert artifacts.npz_bytes(data) == path.read_bytes()  # fixed timestamps: the same arrays, the same file
    import zipfile
    assert {i.compress_type for i in zipfile.ZipFile(path).infolist()} == {zipfile.ZIP_LZMA}
    before = path.read_bytes()

    real_fdopen = artifacts.os.fdopen

    class FullDisk:  # writes half, then the disk is full
        def __init__(self, fd, mode):
            self.f = real_fdopen(fd, mode)

        def write(self, b):
            self.f.write(b[:len(b) // 2])
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()
    monkeypatch.setattr(artifacts.os, "fdopen", FullDisk)
    with pytest.raises(OSError):
        artifacts.write_atomic(path, artifacts.npz_bytes({"images": data["images"]}))
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == [artifacts.MANIFEST, "g.npz"]


def _run(folder, text):
    out = artifacts.Artifacts(folder)
    out.text("results.md", text)
    return out


def _state(folder):
    """(results, checkpoint) as a user would find them after recovery."""
    results = (folder / "results.md").read_text() if (folder / "results.md").exists() else None
    ckpt = (folder / "checkpoints" / "c.txt").read_text() if (folder / "checkpoints" / "c.txt").exists() else None
    return results, ckpt


@pytest.mark.parametrize("exchange", [True, False])
def test_a_kill_at_any_step_of_the_swap_leaves_old_or_new_results_and_the_checkpoints(tmp_path, monkeypatch, exchange):
    """Fault injection: the k-th rename of a commit raises (as a kill there would stop it), for
    every k; after ``recover`` the folder holds the old results or the new ones, never neither,
    and the checkpoint folder is there."""
    if not exchange:
        monkeypatch.setattr(artifacts, "_exchange", lambda a, b: False)
    real_replace, real_exchange = os.replace, artifacts._exchange
    for k in range(6):
        folder = tmp_path / f"k{k}" / "exp"
        first = _run(folder, "old")
        first.commit()
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "c.txt").write_text("ckpt")
        second = _run(folder, "new")
        calls = {"n": 0}

        def dying(fn):
            def wrapped(*a, **kw):
                calls["n"] += 1
                if calls["n"] == k + 1:
                    raise KeyboardInterrupt  # the process dies here: nothing after runs
                return fn(*a, **kw)
            return wrapped
        monkeypatch.setattr(os, "replace", dying(real_replace))
        monkeypatch.setattr(artifacts, "_exchange", dying(real_exchange) if exchange else (lambda a, b: False))
        try:
            second.commit()
        except KeyboardInterrupt:
            pass
        monkeypatch.setattr(os, "replace", real_replace)
        monkeypatch.setattr(artifacts, "_exchange", real_exchange if exchange else (lambda a, b: False))
        with artifacts.exclusive(folder):
            artifacts.recover(folder)
        assert _state(folder) in (("old", "ckpt"), ("new", "ckpt")), (k, _state(folder))
        assert not [p.name for p in folder.parent.iterdir() if p.name.startswith(".exp.") and not p.name.endswith(".lock")]


def test_a_second_run_of_one_experiment_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "exp"
    with artifacts.exclusive(folder):
        with pytest.raises(artifacts.Busy, match=f"being written by another jexp run \\(pid {os.getpid()}\\)"):
            with artifacts.exclusive(folder):
                pass
    with artifacts.exclusive(folder):  # released with the first
        pass


def test_two_jexp_runs_at_once_one_waits_for_nothing_and_fails_cleanly(tmp_path):
    """A real second process: `jexp run toyconv --quick` while another holds the folder's lock."""
    import subprocess
    import sys
    folder = tmp_path / "out" / "toyconv"
    with artifacts.exclusive(folder):
        r = subprocess.run([sys.executable, "-m", "jexp", "run", "toyconv", "--quick", "--no-progress",
                            f"--out={tmp_path / 'out'}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("jexp: error:") \
        and "being written by another jexp run" in r.stderr


def test_files_the_user_put_in_the_folder_survive_the_next_run(tmp_path):
    folder = tmp_path / "exp"
    _run(folder, "one").commit()
    (folder / "notes.txt").write_text("mine")
    (folder / "my_plots").mkdir()
    second = _run(folder, "two")
    second.text("figure.png", "new")
    second.commit()
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "my_plots").is_dir()
    third = _run(folder, "three")  # a file jexp wrote before and does not write now is still dropped
    third.commit()
    assert not (folder / "figure.png").exists() and (folder / "notes.txt").read_text() == "mine"
