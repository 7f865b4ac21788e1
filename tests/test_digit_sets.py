"""The out-of-MNIST digit sets (jexp.data.digit_sets)."""
import numpy as np
import pytest

from jexp.data import digit_pictures, digit_sets
from test_digit_pictures import centre_of_mass, seven


def test_optdigits_reader(tmp_path):
    assert digit_sets.load_optdigits(tmp_path) is None
    path = tmp_path / digit_sets.OPTDIGITS
    path.parent.mkdir()
    path.write_text("\n".join(",".join(map(str, [i % 17] * 64 + [i % 10])) for i in range(5)) + "\n")
    images, labels = digit_sets.load_optdigits(tmp_path)
    assert images.shape == (5, 8, 8) and images.dtype == np.uint8 and images[3, 0, 0] == 48
    np.testing.assert_array_equal(labels, [0, 1, 2, 3, 4])
    path.write_text("1,2,3\n")
    with pytest.raises(digit_pictures.DigitError, match="65 comma-separated"):
        digit_sets.load_optdigits(tmp_path)


def test_frame_filling_set_touches_the_border_and_is_binary():
    rng = np.random.default_rng(0)
    images = np.stack([seven(28, 28, 3)] * 4).astype(np.uint8)
    images = 255 - images  # ink high, as MNIST
    out = digit_sets.frame_filling(images, rng)
    for im in out:
        assert im.shape == (16, 16) and set(np.unique(im)) <= {0, 255}
        ink = im > 0
        rows, cols = np.nonzero(ink.any(1))[0], np.nonzero(ink.any(0))[0]
        assert (rows[0], rows[-1]) == (0, 15) or (cols[0], cols[-1]) == (0, 15)  # no margin on the long side
        x = digit_pictures.preprocess(im, "high")
        np.testing.assert_allclose(centre_of_mass(x), (14.0, 14.0), atol=0.15)


def _upright_one(width: int = 3) -> np.ndarray:
    im = np.zeros((28, 28), np.uint8)
    im[4:24, 13:13 + width] = 255
    im[4:7, 10:13] = 255  # the flag, so that the stroke is not a plain bar
    return im


def test_scanned_stretches_to_fill_the_box_and_binarises():
    rng = np.random.default_rng(0)
    ones = np.stack([_upright_one()] * 3)
    for im in digit_sets.scanned(ones, rng, pens=(1,)):  # aspect ignored: the ink spans both sides
        assert im.shape == (16, 16) and set(np.unique(im)) <= {0, 255}
        ink = im > 0
        assert ink[:, 0].any() and ink[:, -1].any() and ink[0].any() and ink[-1].any()
    for im in digit_sets.scanned(ones, rng, stretch=False, binarise=False, pens=(1,)):  # aspect kept: narrow
        cols = np.nonzero((im > 127).any(0))[0]
        assert cols[-1] - cols[0] + 1 <= 6 and (im > 127).any(1).sum() == 16
    assert {base for base, _ in digit_sets.PROPERTIES.values()} == {"mnist", "fonts"}


def test_build_leaves_out_pictures_it_cannot_read_and_says_how_many():
    from jexp.data import datasets
    x = np.zeros((12, 28, 28, 1), np.float32)
    for i in range(12):
        x[i, ..., 0] = (255 - seven(28, 28, 3)) / 255.0
    x[::3] = 0.0
    x[::3, 4:24, 12:16] = 1.0  # a plain bar: stretched to its box, one solid block of ink, no digit
    sets, unreadable = digit_sets.build(datasets.Split(x, np.arange(12) % 10), 0, (16,), 12, 1)
    assert "optdigits" not in sets and unreadable["mnist_boxfill"] == 4
    assert len(sets["mnist_boxfill"][1]) == 8 and unreadable["mnist_16px"] == 0
    props, none = digit_sets.properties(datasets.Split(x, np.arange(12) % 10), 0, 12, 1)
    assert set(props) == set(digit_sets.PROPERTIES) and none["16 px, aspect kept"] == 0


def test_typeset_digits_are_in_mnist_convention_balanced_and_reproducible():
    x, y = digit_sets.typeset(2, np.random.default_rng(5))
    n = 2 * 10 * len(digit_sets.TYPESET_FONTS)
    assert x.shape == (n, 28, 28, 1) and x.dtype == np.float32 and np.array_equal(np.bincount(y), [n // 10] * 10)
    assert np.allclose(x.max(axis=(1, 2, 3)), 1.0) and x.min() == 0.0
    for im in x[:: 7]:  # centred as preprocess centres every picture
        np.testing.assert_allclose(centre_of_mass(im[..., 0]), (14.0, 14.0), atol=0.6)
    again, _ = digit_sets.typeset(2, np.random.default_rng(5))
    assert np.array_equal(x, again)
    # a digit's pictures are not one another's copies: in one font they differ, and across fonts more
    ones = x[y == 1].reshape(len(digit_sets.TYPESET_FONTS), 2, -1)
    within = np.abs(ones[:, 0] - ones[:, 1]).mean()
    across = np.abs(ones[:, None, 0] - ones[None, :, 0]).mean()
    assert 0 < within < across


def test_scan_copies_are_low_resolution_scans_in_mnist_convention():
    digits = np.stack([_upright_one()] * 40)
    x, y = digit_sets.scan_copies(digits, np.full(40, 1), np.random.default_rng(0))
    assert x.shape[1:] == (28, 28, 1) and 30 <= len(y) <= 40 and set(y) == {1}
    def aspect(im):  # width / height of the ink
        rows, cols = np.nonzero((im[..., 0] > 0.5).any(1))[0], np.nonzero((im[..., 0] > 0.5).any(0))[0]
        return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)
    aspects = np.array([aspect(im) for im in x])
    # some stretched to fill the box (square ink), some in the digit's own aspect; all different
    assert (np.abs(aspects - 1) < 0.15).any() and (aspects < 0.5).any()
    assert len({im.tobytes() for im in x}) > len(x) // 2
