"""The EE599 course's HDF5 files of MNIST: ``xdata`` (N, 784) float32 in [0, 1] and ``ydata``
one-hot (N, 10). numpy and h5py only, as the numpy MLP that reads them (``jexp.nn.numpy_mlp``)."""
from __future__ import annotations

import h5py
import numpy as np


class HDF5FormatError(ValueError):
    """A file that is not in the course's HDF5 format; the message is one line."""


def load_hdf5(path) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, 784) float32, y one-hot (N, 10) float32) from a course-format HDF5 file."""
    try:
        with h5py.File(path, "r") as f:
            if "xdata" not in f or "ydata" not in f:
                raise HDF5FormatError(f"{path}: expected datasets 'xdata' and 'ydata', found {sorted(f)}")
            x, y = np.asarray(f["xdata"], np.float32), np.asarray(f["ydata"], np.float32)
    except OSError as e:
        raise HDF5FormatError(f"{path}: not a readable HDF5 file ({e.__class__.__name__})") from None
    if x.ndim != 2 or x.shape[1] != 784 or y.shape != (len(x), 10):
        raise HDF5FormatError(f"{path}: expected xdata (N, 784) and ydata (N, 10), got {x.shape} and {y.shape}")
    return x, y


def save_hdf5(path, x, labels) -> None:
    """Write the course format: xdata (N, 784) float32 in [0, 1], ydata one-hot (N, 10)."""
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    with h5py.File(path, "w") as f:
        f.create_dataset("xdata", data=x)
        f.create_dataset("ydata", data=np.eye(10, dtype=np.float32)[np.asarray(labels)])
