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
