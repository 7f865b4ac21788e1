"""Data files: sizes and sha256 checked, a missing file fetched through tfds or named in one line (jexp.data.files)."""
import socket
import time

import numpy as np
import pytest

from conftest import write_idx_dataset
from jexp.data import files, mnist


def test_checksum_mismatch_is_an_error(fake_data_dir):
    path = fake_data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    y = np.zeros(80, np.uint8)
    mnist.write_idx(path, y)  # same size class of file, other content
    with pytest.raises(files.DataError, match="t10k-labels.*(sha256 mismatch|bytes, expected)"):
        mnist.load("mnist")


def test_missing_file_offline_is_one_clear_line(fake_data_dir, monkeypatch):
    spec = mnist.DATASETS["mnist"]
    url = f"http://127.0.0.1:{_closed_port()}/mnist/"
    specs = {r: files.FileSpec(f.name, f.size, f.sha256, (url + f.name,)) for r, f in spec.files.items()}
    monkeypatch.setitem(mnist.DATASETS, "mnist", mnist.DatasetSpec(spec.folder, specs, spec.classes))
    (fake_data_dir / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    t0 = time.perf_counter()
    with pytest.raises(files.DataError) as err:
        mnist.load("mnist")
    msg = str(err.value)
    assert "\n" not in msg and "train-images-idx3-ubyte.gz" in msg and str(fake_data_dir / "mnist") in msg
    assert "cannot reach 127.0.0.1" in msg
    assert time.perf_counter() - t0 < 10  # no minutes of retries against a dead host
    with pytest.raises(files.DataError, match="missing data file"):
        mnist.load("mnist", download=False)


def test_missing_file_is_fetched_with_tfds_and_verified(fake_data_dir, http_server, monkeypatch):
    www, url = http_server
    written = write_idx_dataset(www, "mnist")  # same synthetic bytes as in fake_data_dir
    spec = mnist.DATASETS["mnist"]
    monkeypatch.setitem(mnist.DATASETS, "mnist", mnist.DatasetSpec(spec.folder, {
        r: files.FileSpec(f.name, f.size, f.sha256, (f"{url}mnist/{f.name}",)) for r, f in spec.files.items()},
        spec.classes))
    target = fake_data_dir / "mnist" / "train-labels-idx1-ubyte.gz"
    target.unlink()
    ds = mnist.load("mnist")
    assert target.read_bytes() == written[target.name]
    assert len(ds.train.y) == 320
    assert not (fake_data_dir / "mnist" / ".downloads").exists()


def test_fetched_file_with_wrong_checksum_is_refused(fake_data_dir, http_server):
    www, url = http_server
    (www / "bad.gz").write_bytes(b"\x1f\x8b not the file")
    dest = fake_data_dir / "mnist" / "new.gz"
    spec = files.FileSpec("new.gz", size=17, sha256="0" * 64, urls=(url + "bad.gz",))
    with pytest.raises(files.DataError, match="missing data file .*new.gz"):
        files.fetch(spec, dest)
    assert not dest.exists()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
