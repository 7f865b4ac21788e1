"""MNIST and Fashion-MNIST's IDX files: exact round trips, strict parsing, the real files' checksums
(jexp.data.mnist)."""
import gzip
import time

import numpy as np
import pytest

from conftest import real_data_or_skip, synthetic_images
from jexp.data import files, mnist


def test_idx_round_trip_is_exact(tmp_path):
    x, y = synthetic_images(7, 0)
    mnist.write_idx(tmp_path / "x.gz", x)
    mnist.write_idx(tmp_path / "y.gz", y.astype(np.int32))
    np.testing.assert_array_equal(mnist.parse_idx((tmp_path / "x.gz").read_bytes()), x)
    np.testing.assert_array_equal(mnist.parse_idx((tmp_path / "y.gz").read_bytes()), y)


def test_known_idx_header_bytes():
    raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    np.testing.assert_array_equal(mnist.parse_idx(raw), [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b[: len(b) // 2], "bad gzip stream"),                             # truncated download
    (lambda b: gzip.compress(gzip.decompress(b)[:-5]), "expected"),               # short IDX body
    (lambda b: gzip.compress(b"\x01\x02" + gzip.decompress(b)[2:]), "bad magic"),  # not IDX
    (lambda b: b"<html>not found</html>", "bad magic"),
])
def test_corrupt_files_are_errors(tmp_path, mangle, message):
    x, _ = synthetic_images(5, 0)
    mnist.write_idx(tmp_path / "x.gz", x)
    with pytest.raises(files.DataError, match=message):
        mnist.parse_idx(mangle((tmp_path / "x.gz").read_bytes()))


def test_load_gives_float32_nhwc_in_unit_range(fake_data_dir):
    ds = mnist.load("mnist")
    x_raw, y_raw = synthetic_images(320, 0)
    assert ds.train.x.shape == (320, 28, 28, 1) and ds.train.x.dtype == np.float32
    np.testing.assert_array_equal(ds.train.x[..., 0], x_raw.astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.train.y, y_raw)
    assert ds.test.x.shape == (80, 28, 28, 1) and ds.train.y.dtype == np.int32
    assert mnist.load("fashion_mnist").classes[9] == "Ankle boot"


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_real_data_checksums_and_counts(name):
    root = real_data_or_skip(name)
    t0 = time.perf_counter()
    ds = mnist.load(name, root, download=False)
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
    mnist.write_idx(tmp_path / "a", x)
    monkeypatch.setattr(time_module, "time", lambda: 2e9)
    mnist.write_idx(tmp_path / "b", x)
    (tmp_path / "c").mkdir()
    mnist.write_idx(tmp_path / "c" / "a", x)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "c" / "a").read_bytes()
    assert mnist.parse_idx(gzip.decompress((tmp_path / "b").read_bytes())).tolist() == x.tolist()
