"""Checkpoints (jexp.nn.checkpoint): sealed steps, and damage found, reported and fallen back from."""
import os
from pathlib import Path

import jax
import numpy as np

from jexp.nn import checkpoint


def _tree(v: float):  # random weights: they do not compress, so the largest data file holds them
    w = np.random.default_rng(int(v)).normal(size=(64, 64)).astype(np.float32)
    return {"w": w, "key": jax.random.key(int(v)), "b": np.arange(5) * v}


def _data_files(step_dir: Path) -> list[Path]:
    return sorted((p for p in step_dir.rglob("*") if p.is_file() and "/d/" in str(p)), key=lambda p: -p.stat().st_size)


def test_the_last_two_steps_are_kept_sealed_and_restore_bitwise(tmp_path):
    d = tmp_path / "ck"
    for step in (1, 2, 3):
        checkpoint.save(d, step, _tree(step), {"hist": np.arange(step)})
    assert sorted(p.name for p in d.iterdir()) == ["2", "3", "sha256-2.txt", "sha256-3.txt"]
    step, tree, extra = checkpoint.restore_latest(d, _tree(0))
    assert step == 3 and np.array_equal(tree["w"], _tree(3)["w"]) and np.array_equal(extra["hist"], [0, 1, 2])
    assert np.array_equal(jax.random.key_data(tree["key"]), jax.random.key_data(jax.random.key(3)))


def test_a_damaged_step_is_reported_removed_and_the_one_before_restored(tmp_path, capsys):
    d = tmp_path / "ck"
    for step in (1, 2):
        checkpoint.save(d, step, _tree(step))
    target = _data_files(d / "2")[0]
    raw = bytearray(target.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 50] = bytes(b ^ 0xFF for b in raw[mid:mid + 50])
    target.write_bytes(bytes(raw))
    step, tree, _ = checkpoint.restore_latest(d, _tree(0))
    err = capsys.readouterr().err
    assert step == 1 and np.array_equal(tree["w"], _tree(1)["w"])
    assert err.count("\n") == 1 and err.startswith("jexp: warning: checkpoint") and "epoch 2 is damaged" in err
    assert "falling back to epoch 1" in err and not (d / "2").exists() and not (d / "sha256-2.txt").exists()


def test_with_every_step_damaged_training_starts_afresh_and_can_checkpoint_again(tmp_path, capsys):
    d = tmp_path / "ck"
    for step in (1, 2):
        checkpoint.save(d, step, _tree(step))
    for step in (1, 2):
        for f in _data_files(d / str(step)):
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])  # truncated
    assert checkpoint.restore_latest(d, _tree(0)) is None
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "epoch 2 is damaged" in err[0] and "starting afresh" in err[1]
    checkpoint.save(d, 1, _tree(7))
    assert checkpoint.restore_latest(d, _tree(0))[0] == 1
    # a folder orbax cannot read at all
    bad = tmp_path / "bad"
    (bad / "3").mkdir(parents=True)
    (bad / "3" / "garbage").write_text("x")
    assert checkpoint.restore_latest(bad, _tree(0)) is None
    assert os.path.isdir(tmp_path) and "jexp: warning:" in capsys.readouterr().err


def test_arrays_that_read_but_differ_from_their_seal_are_refused(tmp_path, capsys):
    d = tmp_path / "ck"
    for step in (1, 2):
        checkpoint.save(d, step, _tree(step))
    (d / "sha256-2.txt").write_text(checkpoint.digest([np.zeros(3)], {}) + "\n")  # as if the arrays had changed
    assert checkpoint.restore_latest(d, _tree(0))[0] == 1
    assert "do not match their SHA-256 seal" in capsys.readouterr().err
