"""Faces as other cameras would deliver them (jexp.data.face_sets)."""
import numpy as np

from test_fer2013 import N, faces


def test_the_other_camera_conditions_keep_labels_and_change_pixels_as_named():
    from jexp.data import face_sets
    images, labels, _ = faces()
    sets = face_sets.build(images, labels)
    assert list(sets)[0] == "as is" and len(sets) == 11
    np.testing.assert_array_equal(sets["as is"][0][..., 0], images / np.float32(255))
    np.testing.assert_array_equal(sets["mirrored"][0][..., 0], images[:, :, ::-1] / np.float32(255))
    for name, (x, y) in sets.items():
        assert x.shape == (N, 48, 48, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1, name
        np.testing.assert_array_equal(y, labels)
        if name != "as is":
            assert not np.array_equal(x, sets["as is"][0]), name
    assert sets["dark"][0].mean() < sets["as is"][0].mean() < sets["bright"][0].mean()
    assert sets["low contrast"][0].std() < sets["as is"][0].std()
    again = face_sets.build(images, labels)
    assert all(np.array_equal(again[k][0], v[0]) for k, v in sets.items())  # noise and tilts from the seed
