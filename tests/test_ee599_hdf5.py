"""The EE599 course's HDF5 files (jexp.data.ee599_hdf5)."""

import numpy as np
import pytest

from jexp.data import ee599_hdf5


def test_hdf5_format_round_trip_and_errors(tmp_path):
    x = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    ee599_hdf5.save_hdf5(tmp_path / "d.hdf5", x, [3, 1, 4, 1, 5])
    xd, yd = ee599_hdf5.load_hdf5(tmp_path / "d.hdf5")
    assert xd.shape == (5, 784) and xd.dtype == np.float32 and np.array_equal(xd, x.reshape(5, -1))
    assert yd.shape == (5, 10) and np.array_equal(yd.argmax(1), [3, 1, 4, 1, 5]) and np.all(yd.sum(1) == 1)
    (tmp_path / "bad.hdf5").write_text("nope")
    with pytest.raises(ee599_hdf5.HDF5FormatError, match="not a readable HDF5"):
        ee599_hdf5.load_hdf5(tmp_path / "bad.hdf5")
    import h5py
    with h5py.File(tmp_path / "other.hdf5", "w") as f:
        f["xdata"] = np.zeros((2, 5))
        f["ydata"] = np.zeros((2, 10))
    with pytest.raises(ee599_hdf5.HDF5FormatError, match=r"expected xdata \(N, 784\)"):
        ee599_hdf5.load_hdf5(tmp_path / "other.hdf5")
