"""FER2013 in its three forms, on tiny synthetic files: exact pixels, labels and splits; one-line errors."""
import dataclasses
import io

import jax
import numpy as np
import pytest

from jexp.data import fer2013, files

N = 12


def faces(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (N, 48, 48), dtype=np.uint8)
    labels = np.arange(N) % 7
    usage = np.array([0] * 6 + [1] * 3 + [2] * 3)
    return images, labels, usage


def check_splits(f, images, labels, usage):
    for part, u in zip((f.train, f.val, f.test), range(3)):
        np.testing.assert_array_equal(part.x[..., 0], images[usage == u] / np.float32(255))
        np.testing.assert_array_equal(part.y, labels[usage == u])
        assert part.x.dtype == np.float32 and part.y.dtype == np.int32 and part.x.shape[1:] == (48, 48, 1)


def test_the_original_csv_reads_back_exactly(tmp_path):
    images, labels, usage = faces()
    (tmp_path / "fer2013").mkdir()
    fer2013.write_csv(tmp_path / "fer2013" / "fer2013.csv", images, labels, usage)
    f = fer2013.load(tmp_path)
    check_splits(f, images, labels, usage)
    assert f.source == "fer2013.csv" and f.classes[3] == "happy"


def write_npz(path, images, labels, usage, source):
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels.astype(np.int32),
                        usage=np.array(fer2013.USAGES)[usage], pixel_source=source.astype(np.uint8))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def test_the_npz_is_verified_and_its_altered_training_images_left_out(tmp_path, monkeypatch):
    images, labels, usage = faces()
    source = np.zeros(N, np.uint8)
    source[[1, 4]] = 2   # altered training images
    source[7] = 1        # a JPEG-sourced validation image: kept
    (tmp_path / "fer2013").mkdir()
    raw = write_npz(tmp_path / "fer2013" / "fer2013.npz", images, labels, usage, source)
    monkeypatch.setattr(fer2013, "NPZ", dataclasses.replace(fer2013.NPZ, size=len(raw), sha256=files.sha256(raw)))
    f = fer2013.load(tmp_path)
    keep = source != 2
    check_splits(f, images[keep], labels[keep], usage[keep])
    assert "2 altered training images left out" in f.note
    check_splits(fer2013.load(tmp_path, keep_altered=True), images, labels, usage)
    # a file that is not the one recorded: refused
    monkeypatch.setattr(fer2013, "NPZ", dataclasses.replace(fer2013.NPZ, size=len(raw), sha256="0" * 64))
    with pytest.raises(files.DataError, match="sha256 mismatch"):
        fer2013.load(tmp_path)


def test_the_image_folder_copy_reads_back_with_a_drawn_validation_split(tmp_path):
    import cv2
    images, labels, _ = faces()
    for i, (img, y) in enumerate(zip(images, labels)):
        part = "test" if i >= 9 else "train"
        folder = tmp_path / "fer2013" / part / fer2013.CLASSES[y]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"im{i:03d}.png"), img)  # PNG: lossless
    f = fer2013.load(tmp_path, val_key=jax.random.key(1), val_size=3)
    assert len(f.train.y) == 6 and len(f.val.y) == 3 and "test folder" in f.note
    seen = np.concatenate([f.train.x, f.val.x])[..., 0]
    want = images[:9] / np.float32(255)
    # every training image is there once, with its label
    order = [int(np.flatnonzero((want == s).all(axis=(1, 2)))[0]) for s in seen]
    assert sorted(order) == list(range(9))
    np.testing.assert_array_equal(np.concatenate([f.train.y, f.val.y]), labels[:9][order])
    again = fer2013.load(tmp_path, val_key=jax.random.key(1), val_size=3)
    np.testing.assert_array_equal(again.val.x, f.val.x)  # the same key: the same split
    np.testing.assert_array_equal(f.test.x[..., 0], images[9:] / np.float32(255))


def test_the_csv_wins_over_the_npz_when_both_are_there(tmp_path):
    images, labels, usage = faces()
    (tmp_path / "fer2013").mkdir()
    fer2013.write_csv(tmp_path / "fer2013" / "fer2013.csv", images, labels, usage)
    write_npz(tmp_path / "fer2013" / "fer2013.npz", images[::-1], labels, usage, np.zeros(N))
    assert fer2013.load(tmp_path).source == "fer2013.csv"


def one_line_error(root, **kw) -> str:
    with pytest.raises(files.DataError) as e:
        fer2013.load(root, **kw)
    assert len(str(e.value).splitlines()) == 1
    return str(e.value)


def test_missing_and_broken_files_give_one_line_naming_the_file(tmp_path):
    err = one_line_error(tmp_path)
    assert "fer2013.csv" in err and str(tmp_path / "fer2013") in err and "Kaggle" in err
    images, labels, usage = faces()
    (tmp_path / "fer2013").mkdir()
    path = tmp_path / "fer2013" / "fer2013.csv"
    fer2013.write_csv(path, images, labels, usage)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3] + [lines[3].rsplit(" ", 1)[0] + "," + "Training"] + lines[4:]) + "\n")
    assert "line 4" in one_line_error(tmp_path) and "2304" in one_line_error(tmp_path)
    path.write_text("label,pixels,Usage\n")
    assert "header" in one_line_error(tmp_path)
    fer2013.write_csv(path, images, labels + 7 * (labels == 0), usage)  # a label 7
    assert "out of range" in one_line_error(tmp_path)
    fer2013.write_csv(path, images, labels, ["Training"] * 6 + ["Validation"] * 6)
    assert "Validation" in one_line_error(tmp_path)


def test_broken_image_folders_give_one_line_naming_the_file(tmp_path):
    import cv2
    for part in ("train", "test"):
        (tmp_path / "fer2013" / part / "happy").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "fer2013" / part / "happy" / "a.png"), np.zeros((48, 48), np.uint8))
    big = tmp_path / "fer2013" / "train" / "happy" / "b.png"
    cv2.imwrite(str(big), np.zeros((64, 48), np.uint8))
    assert "b.png is 48×64, expected 48×48" in one_line_error(tmp_path, val_size=0)
    big.write_bytes(b"not a png")
    assert "corrupt image file" in one_line_error(tmp_path, val_size=0)
    big.unlink()
    (tmp_path / "fer2013" / "train" / "bored").mkdir()
    assert "unknown emotion folder" in one_line_error(tmp_path, val_size=0)


