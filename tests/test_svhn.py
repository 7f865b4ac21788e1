import dataclasses
import json
import socket

import numpy as np
import pytest
from scipy import io as sio

from jexp import data, svhn


def _images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8), (np.arange(n) % 10).astype(np.int64)


@pytest.fixture
def svhn_dir(tmp_path, monkeypatch):
    """Tiny train/test/extra files in the original layout, their sizes and sha256 registered."""
    folder = tmp_path / "svhn"
    folder.mkdir()
    made = {}
    for role, n in (("train", 30), ("test", 20), ("extra", 10)):
        x, y = _images(n, len(made))
        svhn.write_mat(folder / svhn.FILES[role].name, x, y)
        raw = (folder / svhn.FILES[role].name).read_bytes()
        monkeypatch.setitem(svhn.FILES, role, dataclasses.replace(svhn.FILES[role], size=len(raw), sha256=data.sha256(raw)))
        made[role] = (x, y)
    return tmp_path, made


def test_the_original_layout_reads_back_with_10_meaning_0(svhn_dir):
    root, made = svhn_dir
    raw = sio.loadmat(root / "svhn" / "train_32x32.mat")
    assert raw["X"].shape == (32, 32, 3, 30) and raw["y"].shape == (30, 1)
    assert set(raw["y"].ravel()) == set(range(1, 11))  # 0 is stored as 10, as in the real files
    ds = svhn.load(root)
    assert ds.train.x.shape == (30, 32, 32, 3) and ds.train.x.dtype == np.float32 and ds.test.x.shape[0] == 20
    np.testing.assert_array_equal(ds.train.y, made["train"][1])
    np.testing.assert_array_equal(ds.train.x, made["train"][0] / np.float32(255))
    assert ds.classes == tuple("0123456789")
    with_extra = svhn.load(root, extra=True)
    assert len(with_extra.train.y) == 40
    np.testing.assert_array_equal(with_extra.train.y[30:], made["extra"][1])


@pytest.mark.parametrize("content, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:300]), "scipy cannot read it as a MATLAB file"),
    (lambda p: sio.savemat(p, {"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1))}), "expected uint8 32×32×3×N"),
    (lambda p: sio.savemat(p, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [3]])}), "expected 1–10"),
    (lambda p: sio.savemat(p, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1))}), "3 labels for 2 images"),
    (lambda p: sio.savemat(p, {"images": np.zeros(3)}), "no X and y arrays (found images)"),
])
def test_a_wrong_file_is_one_clear_error(svhn_dir, monkeypatch, content, message):
    root, _ = svhn_dir
    path = root / "svhn" / "test_32x32.mat"
    content(path)
    monkeypatch.setenv(data.NO_VERIFY_ENV, "1")  # past the checksum, to the parser
    with pytest.raises(data.DataError, match="corrupt data file") as err:
        svhn.load(root)
    assert message in str(err.value) and "\n" not in str(err.value) and str(path) in str(err.value)


def test_a_changed_file_fails_its_checksum(svhn_dir):
    root, _ = svhn_dir
    path = root / "svhn" / "test_32x32.mat"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="sha256 mismatch"):
        svhn.load(root)


def test_missing_files_offline_are_one_line_naming_them_and_the_folder(tmp_path, monkeypatch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    for role, spec in list(svhn.FILES.items()):
        monkeypatch.setitem(svhn.FILES, role, dataclasses.replace(spec, urls=(f"http://127.0.0.1:{port}/{spec.name}",)))
    with pytest.raises(data.DataError) as err:
        svhn.load(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"missing SVHN files in {tmp_path / 'svhn'}/: put train_32x32.mat, test_32x32.mat there")
    assert "cannot reach 127.0.0.1" in msg and "\n" not in msg
    with pytest.raises(data.DataError, match="from http://ufldl.stanford.edu/housenumbers/"):
        svhn.load(tmp_path, download=False)


def test_the_registered_checksums_are_tfds_own():
    import importlib.resources
    tsv = importlib.resources.files("tensorflow_datasets") / "datasets" / "svhn_cropped" / "checksums.tsv"
    lines = {ln.split("\t")[0]: ln.split("\t") for ln in tsv.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
    for spec in svhn.FILES.values():
        url, size, sha, name = lines[spec.urls[0]]
        assert (int(size), sha, name) == (spec.size, spec.sha256, spec.name)


def test_a_missing_file_is_fetched_with_tfds_and_verified(svhn_dir, http_server, monkeypatch):
    root, made = svhn_dir
    www, url = http_server
    local = root / "svhn" / "test_32x32.mat"
    (www / local.name).write_bytes(local.read_bytes())
    local.unlink()
    monkeypatch.setitem(svhn.FILES, "test", dataclasses.replace(svhn.FILES["test"], urls=(url + local.name,)))
    ds = svhn.load(root)
    assert local.exists() and not (root / "svhn" / ".downloads").exists()
    np.testing.assert_array_equal(ds.test.y, made["test"][1])


def _learnable(n, seed):
    """Digit k lights a vertical band at column 3k of one colour channel: a pattern a tiny CNN can learn."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.integers(0, 60, (n, 32, 32, 3)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 4:28, 3 * k:3 * k + 3, k % 3] = 230
    return x, y


def test_the_experiment_runs_on_synthetic_files_and_writes_every_figure(tmp_path, monkeypatch, capsys):
    from jexp import cli, experiment
    folder = tmp_path / "data" / "svhn"
    folder.mkdir(parents=True)
    for role, (n, seed) in (("train", (420, 0)), ("test", (150, 1))):
        svhn.write_mat(folder / svhn.FILES[role].name, *_learnable(n, seed))
        raw = (folder / svhn.FILES[role].name).read_bytes()
        monkeypatch.setitem(svhn.FILES, role, dataclasses.replace(svhn.FILES[role], size=len(raw), sha256=data.sha256(raw)))
    out = tmp_path / "artifacts"
    code = cli.main(["run", "svhn", "--quick", f"--data-dir={tmp_path / 'data'}", f"--out={out}", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    run = out / "svhn" / "quick"
    m = json.loads((run / "metrics.json").read_text())
    assert m["sizes"] == {"train": 256, "val": 64, "test": 128}
    for name in ("sheet", "wide"):
        r = m["models"][name]
        assert np.asarray(r["confusion"]).sum() == 128 and 1 <= r["selected_epoch"] <= r["epochs_trained"] <= 3
        assert (run / f"{name}.h5").exists() and (run / f"confusion_{name}.png").exists()
    assert m["models"]["sheet"]["params"] == 19629
    fm = m["feature_maps"]
    assert sorted(fm["labels"]) == list(range(10)) and [l["filters"] for l in fm["layers"]] == [9, 36, 49]
    assert [l["size"] for l in fm["layers"]] == [32, 10, 3]
    assert sorted(p.name for p in run.glob("feature_maps_digit*.png")) == [f"feature_maps_digit{k}.png" for k in range(10)]
    assert experiment.results_from("svhn", run) == (run / "results.md").read_text()


def test_run_all_skips_svhn_without_its_files_but_fails_others(capsys, tmp_path, monkeypatch):
    from jexp import cli, experiment

    def fake_run(name, overrides, **kw):
        if name in ("svhn", "ex1b"):
            raise data.MissingData(f"missing data file for {name}")
        return tmp_path / name
    monkeypatch.setattr(experiment, "names", lambda: ("ex1b", "ex1c", "svhn"))
    monkeypatch.setattr(experiment, "run", fake_run)
    code = cli.main(["run", "all", "--quick", f"--out={tmp_path}"])
    out, err = capsys.readouterr()
    assert code == 1 and "jexp: error: ex1b: missing data file for ex1b" in err
    assert "jexp: note: svhn skipped for missing data" in err
    assert "1 of 3 experiments done; skipped for missing data: svhn; failed: ex1b" in out
    monkeypatch.setattr(experiment, "names", lambda: ("ex1c", "svhn"))
    assert cli.main(["run", "all", "--quick", f"--out={tmp_path}"]) == 0


@pytest.mark.parametrize("net_name", ["SVHN_SHEET", "SVHN_WIDE"])
def test_the_svhn_networks_load_in_keras_with_the_same_outputs(tmp_path, net_name):
    import os
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    import jax

    from jexp import keras_h5, nets
    net = getattr(nets, net_name)
    params, state = nets.init(net, jax.random.key(1))
    keras_h5.save(tmp_path / "m.h5", net, params, state)
    x = np.random.default_rng(0).random((4, 32, 32, 3), np.float32)
    theirs = keras.models.load_model(tmp_path / "m.h5", compile=False).predict(x, verbose=0)
    np.testing.assert_allclose(theirs, np.asarray(jax.nn.softmax(nets.apply(net, params, state, x))), atol=1e-6)
