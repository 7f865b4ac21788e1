import gzip
import socket
import time

import jax
import numpy as np
import pytest

from conftest import real_data_or_skip, synthetic_images, write_idx_dataset
from jexp import data


def test_idx_round_trip_is_exact(tmp_path):
    x, y = synthetic_images(7, 0)
    data.write_idx(tmp_path / "x.gz", x)
    data.write_idx(tmp_path / "y.gz", y.astype(np.int32))
    np.testing.assert_array_equal(data.parse_idx((tmp_path / "x.gz").read_bytes()), x)
    np.testing.assert_array_equal(data.parse_idx((tmp_path / "y.gz").read_bytes()), y)


def test_known_idx_header_bytes():
    raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    np.testing.assert_array_equal(data.parse_idx(raw), [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b[: len(b) // 2], "bad gzip stream"),                             # truncated download
    (lambda b: gzip.compress(gzip.decompress(b)[:-5]), "expected"),               # short IDX body
    (lambda b: gzip.compress(b"\x01\x02" + gzip.decompress(b)[2:]), "bad magic"),  # not IDX
    (lambda b: b"<html>not found</html>", "bad magic"),
])
def test_corrupt_files_are_errors(tmp_path, mangle, message):
    x, _ = synthetic_images(5, 0)
    data.write_idx(tmp_path / "x.gz", x)
    with pytest.raises(data.DataError, match=message):
        data.parse_idx(mangle((tmp_path / "x.gz").read_bytes()))


def test_load_gives_float32_nhwc_in_unit_range(fake_data_dir):
    ds = data.load("mnist")
    x_raw, y_raw = synthetic_images(320, 0)
    assert ds.train.x.shape == (320, 28, 28, 1) and ds.train.x.dtype == np.float32
    np.testing.assert_array_equal(ds.train.x[..., 0], x_raw.astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.train.y, y_raw)
    assert ds.test.x.shape == (80, 28, 28, 1) and ds.train.y.dtype == np.int32
    assert data.load("fashion_mnist").classes[9] == "Ankle boot"


def test_checksum_mismatch_is_an_error(fake_data_dir):
    path = fake_data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    y = np.zeros(80, np.uint8)
    data.write_idx(path, y)  # same size class of file, other content
    with pytest.raises(data.DataError, match="t10k-labels.*(sha256 mismatch|bytes, expected)"):
        data.load("mnist")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_missing_file_offline_is_one_clear_line(fake_data_dir, monkeypatch):
    spec = data.DATASETS["mnist"]
    url = f"http://127.0.0.1:{_closed_port()}/mnist/"
    files = {r: data.FileSpec(f.name, f.size, f.sha256, (url + f.name,)) for r, f in spec.files.items()}
    monkeypatch.setitem(data.DATASETS, "mnist", data.DatasetSpec(spec.folder, files, spec.classes))
    (fake_data_dir / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    t0 = time.perf_counter()
    with pytest.raises(data.DataError) as err:
        data.load("mnist")
    msg = str(err.value)
    assert "\n" not in msg and "train-images-idx3-ubyte.gz" in msg and str(fake_data_dir / "mnist") in msg
    assert "cannot reach 127.0.0.1" in msg
    assert time.perf_counter() - t0 < 10  # no minutes of retries against a dead host
    with pytest.raises(data.DataError, match="missing data file"):
        data.load("mnist", download=False)


def test_missing_file_is_fetched_with_tfds_and_verified(fake_data_dir, http_server, monkeypatch):
    www, url = http_server
    files = write_idx_dataset(www, "mnist")  # same synthetic bytes as in fake_data_dir
    spec = data.DATASETS["mnist"]
    monkeypatch.setitem(data.DATASETS, "mnist", data.DatasetSpec(spec.folder, {
        r: data.FileSpec(f.name, f.size, f.sha256, (f"{url}mnist/{f.name}",)) for r, f in spec.files.items()},
        spec.classes))
    target = fake_data_dir / "mnist" / "train-labels-idx1-ubyte.gz"
    target.unlink()
    ds = data.load("mnist")
    assert target.read_bytes() == files[target.name]
    assert len(ds.train.y) == 320
    assert not (fake_data_dir / "mnist" / ".downloads").exists()


def test_fetched_file_with_wrong_checksum_is_refused(fake_data_dir, http_server):
    www, url = http_server
    (www / "bad.gz").write_bytes(b"\x1f\x8b not the file")
    dest = fake_data_dir / "mnist" / "new.gz"
    spec = data.FileSpec("new.gz", size=17, sha256="0" * 64, urls=(url + "bad.gz",))
    with pytest.raises(data.DataError, match="missing data file .*new.gz"):
        data.fetch(spec, dest)
    assert not dest.exists()


def test_split_is_deterministic_disjoint_and_complete():
    x, y = synthetic_images(50, 0)
    s = data.Split(x, y.astype(np.int32))
    (tr1, va1), (tr2, va2) = data.split(jax.random.key(3), s, 10), data.split(jax.random.key(3), s, 10)
    np.testing.assert_array_equal(va1.x, va2.x)
    np.testing.assert_array_equal(tr1.x, tr2.x)
    _, va3 = data.split(jax.random.key(4), s, 10)
    assert not np.array_equal(va1.x, va3.x)
    assert len(tr1.y) == 40 and len(va1.y) == 10
    both = np.concatenate([tr1.x, va1.x]).reshape(50, -1)
    assert len(np.unique(both, axis=0)) == len(np.unique(x.reshape(50, -1), axis=0))
    with pytest.raises(ValueError):
        data.split(jax.random.key(0), s, 50)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_real_data_checksums_and_counts(name):
    root = real_data_or_skip(name)
    t0 = time.perf_counter()
    ds = data.load(name, root, download=False)
    elapsed = time.perf_counter() - t0
    print(f"{name}: loaded and verified in {elapsed:.2f}s")
    assert ds.train.x.shape == (60000, 28, 28, 1) and ds.test.x.shape == (10000, 28, 28, 1)
    assert 0.0 <= ds.train.x.min() and ds.train.x.max() == 1.0
    if name == "mnist":  # per-digit counts from shared/data/SOURCES.md
        assert np.bincount(ds.train.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
        assert np.bincount(ds.test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    else:
        assert np.bincount(ds.train.y).tolist() == [6000] * 10


def test_idx_files_written_at_different_times_are_the_same_bytes(tmp_path, monkeypatch):
    # gzip stamps the current time into its header unless told otherwise; the synthetic files'
    # registered checksums (and the download test) rely on equal bytes for equal arrays
    import time as time_module
    x, _ = synthetic_images(4, 0)
    data.write_idx(tmp_path / "a", x)
    monkeypatch.setattr(time_module, "time", lambda: 2e9)
    data.write_idx(tmp_path / "b", x)
    (tmp_path / "c").mkdir()
    data.write_idx(tmp_path / "c" / "a", x)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "c" / "a").read_bytes()
    assert data.parse_idx(gzip.decompress((tmp_path / "b").read_bytes())).tolist() == x.tolist()
