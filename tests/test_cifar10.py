"""The CIFAR-10 binary reader on synthetic batches in the original record layout: whatever batches are
present, one-line errors, the archive fetched (jexp.data.cifar10)."""
import numpy as np
import pytest

from conftest import synthetic_cifar
from jexp.data import cifar10, files


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
    x, y = synthetic_cifar(200, 0)
    np.testing.assert_array_equal(np.round(ds.train.x[:200] * 255).astype(np.uint8), x)
    np.testing.assert_array_equal(ds.train.y[:200], y)
    assert ds.classes == cifar10.CLASSES


@pytest.mark.parametrize("damage, words", [(lambda b: b[:-5], "whole number"), (lambda b: b"\x0c" + b[1:], "label 12")])
def test_corrupt_batches_are_one_line_errors(cifar_dir, damage, words):
    p = cifar_dir / "data_batch_1.bin"
    p.write_bytes(damage(p.read_bytes()))
    with pytest.raises(files.DataError, match=words) as e:
        cifar10.load()
    assert "\n" not in str(e.value) and "data_batch_1.bin" in str(e.value)


def test_missing_offline_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_reachable", lambda url, timeout=3.0: "offline (test)")
    with pytest.raises(files.DataError) as e:
        cifar10.load(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "cifar-10-batches-bin" in msg and "test_batch.bin" in msg and "offline" in msg


def test_fetch_unpacks_the_original_archive(tmp_path, monkeypatch):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, n in (("data_batch_1.bin", 20), ("test_batch.bin", 10)):
            raw = np.concatenate([synthetic_cifar(n, 0)[1][:, None], synthetic_cifar(n, 0)[0].transpose(0, 3, 1, 2).reshape(n, -1)], 1)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = raw.nbytes
            tar.addfile(info, io.BytesIO(raw.astype(np.uint8).tobytes()))
    archive = buf.getvalue()

    def fake_fetch(spec, dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(archive)
    monkeypatch.setattr(files, "fetch", fake_fetch)
    monkeypatch.setattr(cifar10, "ARCHIVE", files.FileSpec(cifar10.ARCHIVE.name, len(archive), files.sha256(archive)))
    ds, used = cifar10.load(tmp_path)
    assert used == {"train": ["data_batch_1.bin"], "test": ["test_batch.bin"]} and len(ds.train.y) == 20


