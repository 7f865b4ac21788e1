"""PCA by SVD and the kNN classifier, against direct computations on small data."""
import numpy as np
import pytest

from jexp.nn import embedding


def test_pca_matches_the_covariance_eigenvectors_and_reconstructs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)) @ np.diag([5, 3, 1, 0.5, 0.2, 0.1]) @ np.linalg.qr(rng.normal(size=(6, 6)))[0] + 2.0
    pca = embedding.pca_fit(x, 2)
    evals, evecs = np.linalg.eigh(np.cov(x.T))
    top = evecs[:, ::-1][:, :2].T
    np.testing.assert_allclose(np.abs(np.sum(np.asarray(pca.components) * top, 1)), 1.0, atol=1e-4)  # same axes up to sign
    np.testing.assert_allclose(pca.variance, evals[::-1][:2], rtol=1e-4)
    z = embedding.pca_encode(pca, x)
    x_hat = embedding.pca_decode(pca, z)
    # the error of a rank-2 PCA reconstruction is the variance left in the other components
    expected = evals[::-1][2:].sum() * (len(x) - 1) / len(x) / x.shape[1]
    assert embedding.mse_per_pixel(x, x_hat) == pytest.approx(expected, rel=1e-3)
    full = embedding.pca_fit(x, 6)
    assert embedding.mse_per_pixel(x, embedding.pca_decode(full, embedding.pca_encode(full, x))) < 1e-9


def test_knn_votes_exactly():
    train_z = np.array([[0.0, 0], [0.1, 0], [0, 0.1], [5, 5], [5.1, 5], [9, 9]])
    train_y = np.array([1, 1, 2, 3, 3, 0])
    test_z = np.array([[0.02, 0.01], [5.05, 5.0], [8.0, 8.0]])
    np.testing.assert_array_equal(embedding.knn_predict(train_z, train_y, test_z, k=3), [1, 3, 3])
    np.testing.assert_array_equal(embedding.knn_predict(train_z, train_y, test_z, k=1), [1, 3, 0])
    assert embedding.knn_accuracy(train_z, train_y, test_z, [1, 3, 0], k=1) == 1.0
    assert embedding.knn_predict(train_z, train_y, np.zeros((2500, 2)), k=3, chunk=1000).shape == (2500,)
