"""Low-dimensional embeddings and how to compare them: PCA by SVD, k-nearest-neighbour accuracy,
reconstruction error. All jax.numpy; no scikit-learn."""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class PCA(NamedTuple):
    mean: jax.Array        # (d,)
    components: jax.Array  # (k, d), orthonormal rows, by decreasing variance
    variance: jax.Array    # (k,) variance along each component


def pca_fit(x, k: int) -> PCA:
    """The top-``k`` principal components of the rows of ``x`` (n, d), from ``jnp.linalg.svd``
    of the centred data."""
    x = jnp.asarray(x, jnp.float32).reshape(len(x), -1)
    mean = x.mean(0)
    _, s, vt = jnp.linalg.svd(x - mean, full_matrices=False)
    return PCA(mean, vt[:k], s[:k] ** 2 / (len(x) - 1))


def pca_encode(pca: PCA, x):
    return (jnp.asarray(x, jnp.float32).reshape(len(x), -1) - pca.mean) @ pca.components.T


def pca_decode(pca: PCA, z):
    return z @ pca.components + pca.mean


def mse_per_pixel(x, x_hat) -> float:
    """Mean over images and pixels of the squared error."""
    x = jnp.asarray(x).reshape(len(x), -1)
    return float(jnp.mean((x - jnp.asarray(x_hat).reshape(len(x), -1)) ** 2))


def knn_predict(train_z, train_y, test_z, k: int = 10, chunk: int = 1000, num_classes: int = 10) -> np.ndarray:
    """Majority vote of the ``k`` nearest training points (Euclidean); ties go to the smaller label."""
    train_z, train_y = jnp.asarray(train_z), jnp.asarray(train_y)

    @jax.jit
    def vote(q):
        d = jnp.sum(q ** 2, 1)[:, None] - 2 * q @ train_z.T + jnp.sum(train_z ** 2, 1)[None, :]
        _, idx = jax.lax.top_k(-d, k)
        counts = jax.nn.one_hot(train_y[idx], num_classes).sum(1)
        return jnp.argmax(counts, -1)

    test_z = np.asarray(test_z)
    return np.concatenate([np.asarray(vote(jnp.asarray(test_z[i:i + chunk]))) for i in range(0, len(test_z), chunk)])


def knn_accuracy(train_z, train_y, test_z, test_y, k: int = 10) -> float:
    return float(np.mean(knn_predict(train_z, train_y, test_z, k) == np.asarray(test_y)))
