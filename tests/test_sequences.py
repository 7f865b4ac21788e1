"""Human/machine sequences: loading, the duplicate-safe split, the sequence statistics (jexp.data.sequences)."""
import h5py
import numpy as np
import pytest

from jexp.data import files, sequences


def write_human_machine(root, n=60, seed=0):
    """A synthetic file in the original layout: human rows with many duplicates, machine random."""
    rng = np.random.default_rng(seed)
    base = rng.choice([-1.0, 1.0], (n // 3, 20))
    human = base[rng.integers(0, len(base), n)]                      # about a third distinct
    machine = rng.choice([-1, 1], (n, 20)).astype(np.int32)
    machine[0] = human[0]                                            # one sequence in both classes
    folder = root / sequences.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / sequences.FILE.name, "w") as f:
        f["human"], f["machine"] = human, machine
    return folder / sequences.FILE.name


@pytest.fixture
def hm_file(tmp_path, monkeypatch):
    path = write_human_machine(tmp_path)
    raw = path.read_bytes()
    monkeypatch.setattr(sequences, "FILE", files.FileSpec(sequences.FILE.name, len(raw), files.sha256(raw)))
    return tmp_path


def test_load_labels_human_1(hm_file):
    x, y = sequences.load(hm_file)
    assert x.shape == (120, 20) and x.dtype == np.float32 and set(np.unique(x)) == {-1.0, 1.0}
    assert y.tolist() == [1] * 60 + [0] * 60


def test_grouped_split_never_shares_a_sequence(hm_file):
    x, y = sequences.load(hm_file)
    for seed in range(5):
        tr, va = sequences.grouped_split(x, 0.2, seed)
        assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(x)
        assert 0.1 * len(x) <= len(va) <= 0.2 * len(x)
        assert not {bytes(r) for r in x[tr].astype(np.int8)} & {bytes(r) for r in x[va].astype(np.int8)}
    stats = sequences.duplicate_stats(x, y)
    assert stats["human"]["rows"] == 60 and stats["human"]["distinct"] <= 20 and stats["in_both_classes"] >= 1


def test_missing_or_corrupt_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_reachable", lambda url, timeout=3.0: "offline (test)")
    with pytest.raises(files.DataError, match=f"missing data file {tmp_path}/human_machine/binary_random_20fa.hdf5"):
        sequences.load(tmp_path)
    path = write_human_machine(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(files.DataError, match="corrupt data file"):
        sequences.load(tmp_path)


def test_sequence_features_count_runs_alternations_and_windows_exactly():
    # runs: 2, 1, 3, 2, 6, 1, 1, 3, 1 (13 plus, 7 minus)
    x = np.array([[1, 1, -1, 1, 1, 1, -1, -1, 1, 1, 1, 1, 1, 1, -1, 1, -1, -1, -1, 1]], np.float32)
    f, names = sequences.sequence_features(x)
    got = dict(zip(names, f[0].tolist()))
    assert got == {"alternations": 8, "longest_run": 6, "sum": 6, "balance": 6, "runs_of_1": 4, "runs_of_2": 2,
                   "runs_of_3": 2, "runs_of_4": 0, "runs_of_5+": 1, "window_000": 1, "window_001": 2,
                   "window_010": 1, "window_011": 2, "window_100": 2, "window_101": 2, "window_110": 3,
                   "window_111": 5}
    flipped = sequences.sequence_features(-x)[0][0]
    assert flipped[names.index("sum")] == -6 and flipped[names.index("window_000")] == 5  # 111 ↔ 000
