"""Human vs machine random binary sequences (EE599): the file, a duplicate-safe split, features.

The file ``human_machine/binary_random_20fa.hdf5`` holds ``human`` (5100 × 20, typed by people)
and ``machine`` (5100 × 20, from a generator), values ±1. Label 1 = human. Many human rows repeat,
so ``grouped_split`` splits *distinct sequences*, never rows: every copy of a sequence (in either
class) lands on the same side. The classifier is ``jexp.nn.sequence_mlp``.
"""
from __future__ import annotations

import io

import numpy as np

from jexp.data import files

FOLDER = "human_machine"


FILE = files.FileSpec(
    "binary_random_20fa.hdf5", 1226048, "dc9aa9de8250f38859b6f55387a70753e89c7f38ad0001a6deec8eb89c666d34",
    urls=("https://github.com/AdityanJo/EE599_Fall2020/raw/2c5a49d1f91281981a1bd434930d8a8d66b54049/HW3/"
          "binary_random_20fa.hdf5",))


def load(root=None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, 20) float32 in {−1, +1}, y (N,) int32 with 1 = human), human rows first."""
    import h5py
    path = files.data_dir(root) / FOLDER / FILE.name
    raw = files.read_verified(FILE, path, download)
    try:
        with h5py.File(io.BytesIO(raw), "r") as f:
            human, machine = np.asarray(f["human"], np.float32), np.asarray(f["machine"], np.float32)
    except (OSError, KeyError) as e:
        raise files.DataError(f"{path}: not the expected HDF5 file with 'human' and 'machine' ({e})") from None
    for name, a in (("human", human), ("machine", machine)):
        if a.ndim != 2 or a.shape[1] != 20 or not np.all(np.abs(a) == 1):
            raise files.DataError(f"{path}: '{name}' must be (N, 20) with values ±1, got {a.shape}")
    x = np.concatenate([human, machine])
    y = np.concatenate([np.ones(len(human), np.int32), np.zeros(len(machine), np.int32)])
    return x, y


def grouped_split(x: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, val) such that no sequence occurs on both sides: distinct sequences are
    shuffled and assigned whole to validation until it holds ``val_fraction`` of the rows."""
    _, group, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    order = np.random.default_rng(seed).permutation(len(counts))
    in_val = np.zeros(len(counts), bool)
    in_val[order[np.cumsum(counts[order]) <= val_fraction * len(x)]] = True
    return np.nonzero(~in_val[group])[0], np.nonzero(in_val[group])[0]


def duplicate_stats(x, y) -> dict:
    """How many rows, distinct sequences and repeated rows each class has, and the overlap."""
    out = {}
    for name, cls in (("human", 1), ("machine", 0)):
        rows = x[y == cls]
        distinct = np.unique(rows, axis=0)
        out[name] = {"rows": len(rows), "distinct": len(distinct), "repeated_rows": len(rows) - len(distinct)}
    h, m = (set(map(bytes, np.unique(x[y == c], axis=0).astype(np.int8))) for c in (1, 0))
    out["in_both_classes"] = len(h & m)
    return out


def summary_features(x) -> dict[str, np.ndarray]:
    """Per sequence: number of sign changes (alternations), longest run, |Σ bits| (balance)."""
    change = x[:, 1:] != x[:, :-1]
    run = np.ones(len(x), int)
    longest = np.ones(len(x), int)
    for t in range(change.shape[1]):
        run = np.where(change[:, t], 1, run + 1)
        longest = np.maximum(longest, run)
    return {"alternations": change.sum(1), "longest_run": longest, "balance": np.abs(x.sum(1))}


RUN_LENGTHS = 5  # run-length counts: runs of length 1, 2, 3, 4, and 5 or more


def sequence_features(x) -> tuple[np.ndarray, list[str]]:
    """Position-independent statistics of each ±1 sequence, (N, 18) float32, and their names:
    the number of sign changes, the longest run, the signed and absolute sum, the number of runs
    of each length (1 … ≥ 5), and how often each of the 8 length-3 windows occurs."""
    f = summary_features(x)
    bits = (x > 0).astype(int)
    change = bits[:, 1:] != bits[:, :-1]
    # run lengths: a run ends where the sign changes, or at the end of the sequence
    ends = np.concatenate([change, np.ones((len(x), 1), bool)], 1)
    runs = np.zeros((len(x), RUN_LENGTHS))
    length = np.zeros(len(x), int)
    for t in range(x.shape[1]):
        length += 1
        done = ends[:, t]
        np.add.at(runs, (np.nonzero(done)[0], np.minimum(length[done], RUN_LENGTHS) - 1), 1)
        length[done] = 0
    code = 4 * bits[:, :-2] + 2 * bits[:, 1:-1] + bits[:, 2:]
    windows = np.stack([(code == c).sum(1) for c in range(8)], 1)
    cols = [f["alternations"], f["longest_run"], x.sum(1), f["balance"]]
    out = np.column_stack(cols + [runs, windows]).astype(np.float32)
    names = (["alternations", "longest_run", "sum", "balance"] + [f"runs_of_{k}" for k in range(1, RUN_LENGTHS)]
             + [f"runs_of_{RUN_LENGTHS}+"] + [f"window_{c:03b}" for c in range(8)])
    return out, names
