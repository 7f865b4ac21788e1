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
