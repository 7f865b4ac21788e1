"""SVHN's MATLAB files: the original layout, checksums, fetching (jexp.data.svhn_mat)."""
import dataclasses
import socket

import numpy as np
import pytest
from scipy import io as sio

from jexp.data import files, svhn_mat


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8), (np.arange(n) % 10).astype(np.int64)


@pytest.fixture
def svhn_dir(tmp_path, monkeypatch):
    """Tiny train/test/extra files in the original layout, their sizes and sha256 registered."""
    folder = tmp_path / "svhn"
    folder.mkdir()
    made = {}
    for role, n in (("train", 30), ("test", 20), ("extra", 10)):
        x, y = _images(n, len(made))
        svhn_mat.write_mat(folder / svhn_mat.FILES[role].name, x, y)
        raw = (folder / svhn_mat.FILES[role].name).read_bytes()
        monkeypatch.setitem(svhn_mat.FILES, role, dataclasses.replace(svhn_mat.FILES[role], size=len(raw), sha256=files.sha256(raw)))
        made[role] = (x, y)
    return tmp_path, made


def test_the_original_layout_reads_back_with_10_meaning_0(svhn_dir):
    root, made = svhn_dir
    raw = sio.loadmat(root / "svhn" / "train_32x32.mat")
    assert raw["X"].shape == (32, 32, 3, 30) and raw["y"].shape == (30, 1)
    assert set(raw["y"].ravel()) == set(range(1, 11))  # 0 is stored as 10, as in the real files
    ds = svhn_mat.load(root)
    assert ds.train.x.shape == (30, 32, 32, 3) and ds.train.x.dtype == np.float32 and ds.test.x.shape[0] == 20
    np.testing.assert_array_equal(ds.train.y, made["train"][1])
    np.testing.assert_array_equal(ds.train.x, made["train"][0] / np.float32(255))
    assert ds.classes == tuple("0123456789")
    with_extra = svhn_mat.load(root, extra=True)
    assert len(with_extra.train.y) == 40
    np.testing.assert_array_equal(with_extra.train.y[30:], made["extra"][1])


@pytest.mark.parametrize("content, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:300]), "scipy cannot read it as a MATLAB file"),
    (lambda p: sio.savemat(p, {"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1))}), "expected uint8 32×32×3×N"),
    (lambda p: sio.savemat(p, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [3]])}), "expected 1–10"),
    (lambda p: sio.savemat(p, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1))}), "3 labels for 2 images"),
    (lambda p: sio.savemat(p, {"images": np.zeros(3)}), "no X and y arrays (found images)"),
])
def test_a_wrong_file_is_one_clear_error(svhn_dir, monkeypatch, content, message):
    root, _ = svhn_dir
    path = root / "svhn" / "test_32x32.mat"
    content(path)
    monkeypatch.setenv(files.NO_VERIFY_ENV, "1")  # past the checksum, to the parser
    with pytest.raises(files.DataError, match="corrupt data file") as err:
        svhn_mat.load(root)
    assert message in str(err.value) and "\n" not in str(err.value) and str(path) in str(err.value)


def test_a_changed_file_fails_its_checksum(svhn_dir):
    root, _ = svhn_dir
    path = root / "svhn" / "test_32x32.mat"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(files.DataError, match="sha256 mismatch"):
        svhn_mat.load(root)


def test_missing_files_offline_are_one_line_naming_them_and_the_folder(tmp_path, monkeypatch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    for role, spec in list(svhn_mat.FILES.items()):
        monkeypatch.setitem(svhn_mat.FILES, role, dataclasses.replace(spec, urls=(f"http://127.0.0.1:{port}/{spec.name}",)))
    with pytest.raises(files.DataError) as err:
        svhn_mat.load(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"missing SVHN files in {tmp_path / 'svhn'}/: put train_32x32.mat, test_32x32.mat there")
    assert "cannot reach 127.0.0.1" in msg and "\n" not in msg
    with pytest.raises(files.DataError, match="from http://ufldl.stanford.edu/housenumbers/"):
        svhn_mat.load(tmp_path, download=False)


def test_the_registered_checksums_are_tfds_own():
    import importlib.resources
    tsv = importlib.resources.files("tensorflow_datasets") / "datasets" / "svhn_cropped" / "checksums.tsv"
    lines = {ln.split("\t")[0]: ln.split("\t") for ln in tsv.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
    for spec in svhn_mat.FILES.values():
        url, size, sha, name = lines[spec.urls[0]]
        assert (int(size), sha, name) == (spec.size, spec.sha256, spec.name)


def test_a_missing_file_is_fetched_with_tfds_and_verified(svhn_dir, http_server, monkeypatch):
    root, made = svhn_dir
    www, url = http_server
    local = root / "svhn" / "test_32x32.mat"
    (www / local.name).write_bytes(local.read_bytes())
    local.unlink()
    monkeypatch.setitem(svhn_mat.FILES, "test", dataclasses.replace(svhn_mat.FILES["test"], urls=(url + local.name,)))
    ds = svhn_mat.load(root)
    assert local.exists() and not (root / "svhn" / ".downloads").exists()
    np.testing.assert_array_equal(ds.test.y, made["test"][1])
