"""The CIFAR-10 binary reader on synthetic batches in the original record layout, CropFlip, and
the CIFAR attack experiment end to end."""
import json

import jax
import numpy as np
import pytest

from jexp import augment, cifar10, cli, data


def synthetic(n, seed):
    """Learnable fake images: class k is a bright k-th horizontal band in channel k % 3."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 10).astype(np.uint8)
    x = rng.integers(0, 60, (n, 32, 32, 3)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 3 * k:3 * k + 3, :, k % 3] = 230
    return x, y


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data" / cifar10.FOLDER / cifar10.BATCHES
    folder.mkdir(parents=True)
    for name, n, seed in (("data_batch_1.bin", 200, 0), ("data_batch_2.bin", 100, 1), ("test_batch_first1000.bin", 60, 2)):
        cifar10.write_batch(folder / name, *synthetic(n, seed))
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "data"))
    return folder


def test_record_layout_is_label_then_red_green_blue_planes():
    img = np.zeros((1, 32, 32, 3), np.uint8)
    img[0, 0, 1] = (10, 20, 30)  # row 0, column 1
    raw = bytes([7]) + img.transpose(0, 3, 1, 2).tobytes()
    assert raw[1 + 1] == 10 and raw[1 + 1024 + 1] == 20 and raw[1 + 2048 + 1] == 30
    s = cifar10.parse_batch(raw)
    assert s.y.tolist() == [7] and s.x.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(s.x[0, 0, 1] * 255, [10, 20, 30], rtol=1e-6)


def test_reads_whatever_batches_are_present(cifar_dir):
    ds, used = cifar10.load()
    assert used == {"train": ["data_batch_1.bin", "data_batch_2.bin"], "test": ["test_batch_first1000.bin"]}
    assert ds.train.x.shape == (300, 32, 32, 3) and ds.test.y.shape == (60,)
    x, y = synthetic(200, 0)
    np.testing.assert_array_equal(np.round(ds.train.x[:200] * 255).astype(np.uint8), x)
    np.testing.assert_array_equal(ds.train.y[:200], y)
    assert ds.classes == cifar10.CLASSES


@pytest.mark.parametrize("damage, words", [(lambda b: b[:-5], "whole number"), (lambda b: b"\x0c" + b[1:], "label 12")])
def test_corrupt_batches_are_one_line_errors(cifar_dir, damage, words):
    p = cifar_dir / "data_batch_1.bin"
    p.write_bytes(damage(p.read_bytes()))
    with pytest.raises(data.DataError, match=words) as e:
        cifar10.load()
    assert "\n" not in str(e.value) and "data_batch_1.bin" in str(e.value)


def test_missing_offline_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_reachable", lambda url, timeout=3.0: "offline (test)")
    with pytest.raises(data.DataError) as e:
        cifar10.load(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "cifar-10-batches-bin" in msg and "test_batch.bin" in msg and "offline" in msg


def test_fetch_unpacks_the_original_archive(tmp_path, monkeypatch):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, n in (("data_batch_1.bin", 20), ("test_batch.bin", 10)):
            raw = np.concatenate([synthetic(n, 0)[1][:, None], synthetic(n, 0)[0].transpose(0, 3, 1, 2).reshape(n, -1)], 1)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = raw.nbytes
            tar.addfile(info, io.BytesIO(raw.astype(np.uint8).tobytes()))
    archive = buf.getvalue()

    def fake_fetch(spec, dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(archive)
    monkeypatch.setattr(data, "fetch", fake_fetch)
    monkeypatch.setattr(cifar10, "ARCHIVE", data.FileSpec(cifar10.ARCHIVE.name, len(archive), data.sha256(archive)))
    ds, used = cifar10.load(tmp_path)
    assert used == {"train": ["data_batch_1.bin"], "test": ["test_batch.bin"]} and len(ds.train.y) == 20


def test_crop_flip_keeps_shape_and_moves_content():
    x = jax.random.uniform(jax.random.key(0), (16, 32, 32, 3))
    y = augment.CropFlip()(jax.random.key(1), x)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert not np.allclose(y, x)
    same = augment.CropFlip(pad=0)(jax.random.key(1), x)  # no padding: only flips
    for a, b in zip(same, x):
        assert np.array_equal(a, b) or np.array_equal(a, b[:, ::-1])


def test_cifar_attack_experiment_on_synthetic_data(cifar_dir, tmp_path, capsys):
    out = tmp_path / "artifacts"
    args = ["run", "adversarial_cifar", "--quick", "--no-progress", f"--out={out}", "--max_rounds=3"]
    assert cli.main(args) == 0, capsys.readouterr().err
    folder = out / "adversarial_cifar" / "quick"
    m = json.loads((folder / "metrics.json").read_text())
    assert m["data"]["train_files"] == ["data_batch_1.bin", "data_batch_2.bin"] and len(m["generators"]) == 10
    assert (folder / "cifar.h5").exists() and (folder / "grid.png").exists()
    assert "test_batch_first1000.bin" in (folder / "results.md").read_text()
