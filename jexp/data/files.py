"""Data files: where they are, their published size and sha256, and fetching what is missing.

The data directory comes from ``--data-dir`` or the ``JEXP_DATA_DIR`` environment variable (default
``./data``) and holds one folder per data set, e.g. ``mnist/train-images-idx3-ubyte.gz``. Every
known file is checked against its published size and sha256. A missing file is fetched through
tensorflow-datasets' download manager when its host can be reached; offline, the error names the
file and the folder to put it in. The readers of each format (``mnist``, ``cifar10``, ``svhn_mat``,
``fer2013``, ``sequences``) build on ``read_verified``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

DATA_ENV = "JEXP_DATA_DIR"


NO_VERIFY_ENV = "JEXP_NO_VERIFY"  # "1": skip sha256 checks (e.g. synthetic test files)


class DataError(RuntimeError):
    """A data file is missing, corrupt or malformed. The message is one line for the user."""


class MissingData(DataError):
    """A data file is not there and could not be fetched (as opposed to present but corrupt)."""


@dataclass(frozen=True)
class FileSpec:
    name: str
    size: int | None = None
    sha256: str | None = None
    urls: tuple[str, ...] = ()


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory: ``explicit``, else ``$JEXP_DATA_DIR``, else ``./data``."""
    return Path(explicit or os.environ.get(DATA_ENV) or "data").expanduser()


def _reachable(url: str, timeout: float = 3.0) -> str | None:
    """None if ``url``'s host accepts a TCP connection, else a short reason (fast offline check:
    tfds itself retries a dead host for minutes)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return None
    except OSError as e:
        return f"cannot reach {parts.hostname}: {e.strerror or e.__class__.__name__}"


def fetch(spec: FileSpec, dest: Path) -> None:
    """Download ``spec`` to ``dest`` with tfds' download manager, checking size and sha256."""
    from tensorflow_datasets.core.download import checksums, download_manager
    reasons = []
    for url in spec.urls:
        if (why := _reachable(url)) is not None:
            reasons.append(why)
            continue
        infos = None
        if spec.sha256 and spec.size:
            infos = {url: checksums.UrlInfo(size=spec.size, checksum=spec.sha256, filename=spec.name)}
        tmp_dir = dest.parent / ".downloads"
        try:
            dm = download_manager.DownloadManager(download_dir=tmp_dir, url_infos=infos)
            got = Path(os.fspath(dm.download(url)))
        except Exception as e:  # HTTP errors, checksum mismatch, ...
            reasons.append(f"{url}: {str(e).splitlines()[0][:160]}")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(got, dest)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        return
    raise MissingData(f"missing data file {dest}: put {spec.name} in {dest.parent}/ "
                      f"(or pass --data-dir / set {DATA_ENV}); download failed: {'; '.join(reasons) or 'no URL known'}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified(spec: FileSpec, path: Path, download: bool = True) -> bytes:
    """The bytes of ``path``, fetched first if missing, checked against ``spec``'s size and sha256."""
    if not path.exists():
        if not download:
            raise MissingData(f"missing data file {path}: put {spec.name} in {path.parent}/ "
                              f"(or pass --data-dir / set {DATA_ENV})")
        fetch(spec, path)
    data = path.read_bytes()
    if os.environ.get(NO_VERIFY_ENV) == "1":
        print(f"jexp: note: {NO_VERIFY_ENV}=1: {path} is read without its size and sha256 checks",
              file=sys.stderr)
    else:
        if spec.size is not None and len(data) != spec.size:
            raise DataError(f"corrupt data file {path}: {len(data)} bytes, expected {spec.size} "
                            f"(truncated download? delete it and run again)")
        if spec.sha256 is not None and sha256(data) != spec.sha256:
            raise DataError(f"corrupt data file {path}: sha256 mismatch (delete it and run again)")
    return data
