"""Pictures of digits brought to MNIST's convention (jexp.data.digit_pictures)."""
import cv2
import numpy as np
import pytest

from jexp.data import digit_pictures


def seven(h=300, w=200, thickness=18):
    """A '7' in black ink on white paper, h × w uint8."""
    im = np.full((h, w), 255, np.uint8)
    p = lambda x, y: (round(x * w / 200), round(y * h / 300))
    cv2.line(im, p(40, 50), p(160, 50), 0, thickness)
    cv2.line(im, p(160, 50), p(80, 260), 0, thickness)
    return im


def centre_of_mass(x):
    m = x.sum()
    return (x.sum(1) * np.arange(28)).sum() / m, (x.sum(0) * np.arange(28)).sum() / m


def test_preprocess_follows_mnist_convention():
    x = digit_pictures.preprocess(seven())
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.max() == pytest.approx(1.0, abs=1e-3) and x.min() == 0.0
    np.testing.assert_allclose(centre_of_mass(x), (14.0, 14.0), atol=0.05)
    rows = np.nonzero((x > 0.25).any(1))[0]
    assert 19 <= rows[-1] - rows[0] + 1 <= 21  # the long side fills the 20-pixel box
    cols = np.nonzero((x > 0.25).any(0))[0]
    assert cols[-1] - cols[0] + 1 < 17          # aspect ratio kept (the 7 is narrower than tall)


def test_polarity_colour_alpha_and_depth_do_not_matter():
    ref = digit_pictures.preprocess(seven())
    im = seven()
    variants = {
        "light on dark": 255 - im,
        "colour": np.stack([im, im // 2 + 100, im], -1),
        "uint16": im.astype(np.uint16) * 257,
        "float": im / 255.0,
        "alpha": np.dstack([np.zeros((300, 200, 3), np.uint8), 255 - im]),  # black ink on a transparent sheet
        "grey paper": (im * 0.4 + 120).astype(np.uint8),
    }
    for name, v in variants.items():
        assert np.abs(digit_pictures.preprocess(v) - ref).max() < 0.08, name


def test_tiny_and_huge_inputs_land_in_the_same_frame():
    big = digit_pictures.preprocess(seven(1200, 800, 72))
    small = digit_pictures.preprocess(cv2.resize(seven(), (8, 12), interpolation=cv2.INTER_AREA))
    for x in (big, small):
        np.testing.assert_allclose(centre_of_mass(x), (14.0, 14.0), atol=0.1)
    assert np.abs(big - digit_pictures.preprocess(seven())).mean() < 0.02


@pytest.mark.parametrize("image, message", [
    (np.full((30, 30), 200, np.uint8), "no ink"),
    (np.zeros((5,), np.uint8), "expected an image"),
    (np.zeros((10, 10, 2), np.uint8), "expected an image"),
    (np.pad(np.array([[np.nan, 1], [0, 1]]), 3), "NaN"),
    (np.full((2, 2), 200, np.uint8), "too small to hold a digit"),
    (np.zeros((28, 28), np.int8), "not a picture format"),
    (np.zeros((28, 28), bool), "not a picture format"),
    (np.full((28, 28), -0.5), "negative values"),
])
def test_bad_images_raise_one_line(image, message):
    with pytest.raises(digit_pictures.DigitError, match=message):
        digit_pictures.preprocess(image)


def test_specks_of_dust_do_not_move_the_digit():
    im = seven()
    ref = digit_pictures.preprocess(im)
    dusty = im.copy()
    dusty[5:8, 190:193] = 0      # a dark speck in the corner
    dusty[290:292, 3:5] = 30
    np.testing.assert_allclose(digit_pictures.preprocess(dusty), ref, atol=1e-6)
    broken = np.full((100, 100), 255, np.uint8)  # a '4' whose pen lifted: three separate strokes, all kept
    cv2.line(broken, (30, 10), (20, 60), 0, 6)
    cv2.line(broken, (20, 60), (70, 60), 0, 6)
    cv2.line(broken, (60, 15), (60, 50), 0, 6)
    cv2.line(broken, (60, 70), (60, 95), 0, 6)
    assert cv2.connectedComponents((broken < 128).astype(np.uint8))[0] == 4
    ink = 1 - broken / 255.0
    assert digit_pictures.drop_specks(ink).sum() == pytest.approx(ink.sum())


def frame_filling_zero(size=16, pen=4):
    """A thick '0' drawn to touch all four sides of a size × size frame, ink high, binary: most of
    its border is ink, so the border's median is the ink level."""
    im = np.zeros((size, size), np.uint8)
    cv2.ellipse(im, (size // 2, size // 2), (size // 2 - 1, size // 2 - 1), 0, 0, 360, 255, pen)
    return np.where(im > 127, 255, 0).astype(np.uint8)


def test_a_digit_filling_its_frame_is_preprocessed_with_known_or_detected_polarity():
    im = frame_filling_zero()
    border = np.concatenate([im[0], im[-1], im[:, 0], im[:, -1]])
    assert np.median(border) == 255  # the case the border rule got wrong
    ref = digit_pictures.preprocess(im, "high")
    assert ref.max() == pytest.approx(1.0, abs=1e-3) and ref[14, 14] < 0.1  # the hole is paper
    np.testing.assert_allclose(centre_of_mass(ref), (14.0, 14.0), atol=0.1)
    rows = np.nonzero((ref > 0.25).any(1))[0]
    assert 19 <= rows[-1] - rows[0] + 1 <= 21
    for ink, picture in (("auto", im), ("low", 255 - im), ("auto", 255 - im)):
        np.testing.assert_array_equal(digit_pictures.preprocess(picture, ink), ref)
    big = cv2.resize(im, (64, 64), interpolation=cv2.INTER_NEAREST)  # the same picture, scanned larger
    assert np.abs(digit_pictures.preprocess(big, "high") - ref).mean() < 0.05
    thick = frame_filling_zero(16, 8)  # 88 % of the border is ink: auto cannot tell, a known polarity can
    np.testing.assert_allclose(centre_of_mass(digit_pictures.preprocess(thick, "high")), (14.0, 14.0), atol=0.1)
    assert digit_pictures.ink_polarity(digit_pictures.to_grey(im)) == "high"
    assert digit_pictures.ink_polarity(digit_pictures.to_grey(255 - im)) == "low"


def test_polarity_rule_on_ordinary_pictures():
    im = seven()
    for picture, want in ((im, "low"), (255 - im, "high"), ((im * 0.4 + 120).astype(np.uint8), "low")):
        assert digit_pictures.ink_polarity(digit_pictures.to_grey(picture)) == want
    # a thin stroke on unevenly lit paper: Otsu splits the paper, the border rule still decides
    yy, xx = np.mgrid[0:48, 0:48] / 47.0
    paper = 0.55 + 0.3 * xx
    stroke = np.zeros((48, 48))
    stroke[8:40, 22:24] = 1
    grey = paper * (1 - stroke) + 0.2 * stroke
    assert digit_pictures.ink_polarity(grey) == "low"


def test_a_huge_picture_is_refused_from_its_header_and_the_other_files_still_print(tmp_path, capsys):
    import struct
    import zlib
    from jexp.cli import commands

    def png(w, h):  # a valid PNG header claiming w × h, with one tiny (wrong-sized) data chunk
        chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    big = tmp_path / "big.png"
    big.write_bytes(png(100_000, 100_000))
    huge = tmp_path / "huge.png"
    huge.write_bytes(png(12_000, 12_000))
    good = tmp_path / "seven.png"
    cv2.imwrite(str(good), seven())
    with pytest.raises(digit_pictures.DigitError, match="more than a digit picture needs"):
        digit_pictures.read_image(huge)
    with pytest.raises(digit_pictures.DigitError, match="directory"):
        digit_pictures.read_image(tmp_path)
    import jax
    from jexp.io import keras_h5
    from jexp.nn import nets
    net = nets.Sequential((28, 28, 1), (nets.Flatten(), nets.Dense(10)))
    model = keras_h5.save(tmp_path / "m.h5", net, *nets.init(net, jax.random.key(0)))
    code = commands.main(["predict-digit", str(big), str(huge), str(good), f"--model={model}"])
    out, err = capsys.readouterr()
    assert code == 1 and err.count("jexp: error:") == 2 and "big.png" in err and "huge.png" in err
    assert out.startswith(f"{good}: ")
