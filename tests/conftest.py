"""Tiny synthetic data sets in the original file formats, and helpers shared by the tests."""
import dataclasses
import functools
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from jexp import data

# the commands' persistent compilation cache stays off in tests (the user's ~/.cache is not theirs to
# fill); tests/test_cli.py turns it on where it is the subject
os.environ.setdefault("JEXP_NO_COMPILE_CACHE", "1")

REAL_DATA = Path(os.environ.get(data.DATA_ENV, Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def synthetic_images(n: int, seed: int):
    """Learnable fake digits: class k lights up a 4-pixel-wide vertical band at column 2 + 2k."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 10).astype(np.uint8)
    x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 4:24, 2 + 2 * k: 6 + 2 * k] = 200 + rng.integers(0, 55)
    return x, y


def write_idx_dataset(root: Path, name: str = "mnist", n_train: int = 320, n_test: int = 80) -> dict:
    """Write synthetic IDX .gz files for ``name`` under root/<folder>; returns {file name: bytes}."""
    folder = root / data.DATASETS[name].folder
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for part, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        x, y = synthetic_images(n, seed)
        data.write_idx(folder / f"{part}-images-idx3-ubyte.gz", x)
        data.write_idx(folder / f"{part}-labels-idx1-ubyte.gz", y)
    for f in folder.iterdir():
        out[f.name] = f.read_bytes()
    return out


def register_synthetic(monkeypatch, name: str, files: dict[str, bytes]) -> None:
    """Point the registry's sizes and checksums for ``name`` at the synthetic files."""
    spec = data.DATASETS[name]
    new = {role: dataclasses.replace(f, size=len(files[f.name]), sha256=data.sha256(files[f.name]))
           for role, f in spec.files.items()}
    monkeypatch.setitem(data.DATASETS, name, dataclasses.replace(spec, files=new))


@pytest.fixture
def fake_data_dir(tmp_path, monkeypatch):
    """A data directory with synthetic MNIST and Fashion-MNIST whose checksums are registered."""
    root = tmp_path / "data"
    for name in ("mnist", "fashion_mnist"):
        register_synthetic(monkeypatch, name, write_idx_dataset(root, name))
    monkeypatch.setenv(data.DATA_ENV, str(root))
    return root


def real_data_or_skip(name: str = "mnist") -> Path:
    folder = REAL_DATA / data.DATASETS[name].folder
    if not all((folder / f.name).exists() for f in data.DATASETS[name].files.values()):
        pytest.skip(f"real {name} not found in {REAL_DATA}")
    return REAL_DATA


@pytest.fixture
def http_server(tmp_path):
    """(folder, base URL) of a local web server over that folder, for the download path."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
