"""Splits and subsets of a data set (jexp.data.datasets)."""

import jax
import numpy as np
import pytest

from conftest import synthetic_images
from jexp.data import datasets


def test_split_is_deterministic_disjoint_and_complete():
    x, y = synthetic_images(50, 0)
    s = datasets.Split(x, y.astype(np.int32))
    (tr1, va1), (tr2, va2) = datasets.split(jax.random.key(3), s, 10), datasets.split(jax.random.key(3), s, 10)
    np.testing.assert_array_equal(va1.x, va2.x)
    np.testing.assert_array_equal(tr1.x, tr2.x)
    _, va3 = datasets.split(jax.random.key(4), s, 10)
    assert not np.array_equal(va1.x, va3.x)
    assert len(tr1.y) == 40 and len(va1.y) == 10
    both = np.concatenate([tr1.x, va1.x]).reshape(50, -1)
    assert len(np.unique(both, axis=0)) == len(np.unique(x.reshape(50, -1), axis=0))
    with pytest.raises(ValueError):
        datasets.split(jax.random.key(0), s, 50)
