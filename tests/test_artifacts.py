"""A run's artifacts folder: staged, swapped in whole, working folders kept (jexp.io.artifacts)."""


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
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoints", "quick", "results.md"]  # no stale figure
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
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["g.npz"]
