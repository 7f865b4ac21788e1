"""Tiny synthetic data sets in the original file formats, and helpers shared by the tests."""
import ast
import dataclasses
import functools
import http.server
import inspect
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from jexp.data import cifar10, files, mnist

# the commands' persistent compilation cache stays off in tests (the user's ~/.cache is not theirs to
# fill); tests/test_cli.py turns it on where it is the subject
os.environ.setdefault("JEXP_NO_COMPILE_CACHE", "1")

REAL_DATA = Path(os.environ.get(files.DATA_ENV, Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


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
    folder = root / mnist.DATASETS[name].folder
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for part, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        x, y = synthetic_images(n, seed)
        mnist.write_idx(folder / f"{part}-images-idx3-ubyte.gz", x)
        mnist.write_idx(folder / f"{part}-labels-idx1-ubyte.gz", y)
    for f in folder.iterdir():
        out[f.name] = f.read_bytes()
    return out


def register_synthetic(monkeypatch, name: str, written: dict[str, bytes]) -> None:
    """Point the registry's sizes and checksums for ``name`` at the synthetic files."""
    spec = mnist.DATASETS[name]
    new = {role: dataclasses.replace(f, size=len(written[f.name]), sha256=files.sha256(written[f.name]))
           for role, f in spec.files.items()}
    monkeypatch.setitem(mnist.DATASETS, name, dataclasses.replace(spec, files=new))


@pytest.fixture
def fake_data_dir(tmp_path, monkeypatch):
    """A data directory with synthetic MNIST and Fashion-MNIST whose checksums are registered."""
    root = tmp_path / "data"
    for name in ("mnist", "fashion_mnist"):
        register_synthetic(monkeypatch, name, write_idx_dataset(root, name))
    monkeypatch.setenv(files.DATA_ENV, str(root))
    return root


def synthetic_cifar(n, seed):
    """Learnable fake CIFAR-10 images: class k is a bright k-th horizontal band in channel k % 3."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 10).astype(np.uint8)
    x = rng.integers(0, 60, (n, 32, 32, 3)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 3 * k:3 * k + 3, :, k % 3] = 230
    return x, y


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    """A data directory holding synthetic CIFAR-10 batches: two training files and a partial test file."""
    folder = tmp_path / "data" / cifar10.FOLDER / cifar10.BATCHES
    folder.mkdir(parents=True)
    for name, n, seed in (("data_batch_1.bin", 200, 0), ("data_batch_2.bin", 100, 1), ("test_batch_first1000.bin", 60, 2)):
        cifar10.write_batch(folder / name, *synthetic_cifar(n, seed))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))
    return folder


def real_data_or_skip(name: str = "mnist") -> Path:
    folder = REAL_DATA / mnist.DATASETS[name].folder
    if not all((folder / f.name).exists() for f in mnist.DATASETS[name].files.values()):
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


def imported_packages(module) -> set[str]:
    """The top-level packages a module's source imports."""
    tree = ast.parse(inspect.getsource(module))
    found = {n.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for n in node.names}
    return found | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
