"""Autoencoder 784→512→128→2→128→512→784 vs 2-component PCA: reconstruction MSE, kNN accuracy, 2-D maps.

Command:  jexp run autoencoder  (about 2 min on a 2-core CPU)
Setting:  full MNIST; the autoencoder (ReLU, linear 2-D code, sigmoid output) minimises the mean
          squared error per pixel with AdamW (lr 1e-3, one-cycle), batch 128, 30 epochs. PCA is
          computed with jnp.linalg.svd on the 60,000 training images. Both are scored on the
          10,000 test images: reconstruction MSE per pixel, and the accuracy of a 10-nearest-
          neighbour classifier that votes with the training images' 2-D codes.
Result:   artifacts/autoencoder/: embeddings.png (5000 random test digits), learning_curves.png,
          reconstructions.png, results.md. Known figures: PCA ≈ 0.056, a 2-D autoencoder ≈ 0.040.
"""
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jexp.experiments import base
from jexp.io import artifacts
from jexp.nn import embedding, evaluate, nets, train
from jexp.plots import classifiers
from jexp.runtime import rng
from jexp.nn.nets import Dense, Flatten

FIGURES = ("embeddings.png", "reconstructions.png")
ENCODER = (Flatten(), Dense(512, "relu"), Dense(128, "relu"), Dense(2))
DECODER = (Dense(128, "relu"), Dense(512, "relu"), Dense(784, "sigmoid"))
AUTOENCODER = nets.Sequential((28, 28, 1), ENCODER + DECODER)


def squared_error(out, x, y):
    return jnp.mean((out - x.reshape(x.shape[0], -1)) ** 2, -1)


@dataclass(frozen=True)
class Config:
    seed: int = 0          # the seed every PRNG key of the run is derived from
    epochs: int = 30       # training epochs
    batch_size: int = 128  # minibatch size
    lr: float = 1e-3       # peak learning rate (AdamW, one-cycle)
    k: int = 10            # neighbours of the kNN classifier
    shown: int = 5000      # random test digits in the scatter plots
    train_size: int = 0    # 0: every training image; n: the first n
    test_size: int = 0     # 0: every test image; n: the first n


QUICK = dict(epochs=2, train_size=2048, test_size=512, shown=300)


def run(cfg: Config, ctx) -> None:
    ds, data = base.image_data("mnist", ctx, cfg.seed, cfg.train_size, cfg.test_size)
    params, state, hist = train.fit_net(AUTOENCODER, data, cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size,
                                        lr=cfg.lr, loss_fn=squared_error, metric_fn=squared_error,
                                        ckpt_dir=ctx.checkpoints("autoencoder"), progress=ctx.progress(cfg.epochs))
    encode = jax.jit(lambda x: nets.apply(*nets.head(AUTOENCODER, params, state, len(ENCODER)), x))
    reconstruct = jax.jit(lambda x: nets.apply(AUTOENCODER, params, state, x))
    pca = embedding.pca_fit(ds.train.x, 2)
    codes = {"autoencoder": (evaluate.batched(encode, ds.train.x, 2000), evaluate.batched(encode, ds.test.x, 2000)),
             "PCA": (np.asarray(embedding.pca_encode(pca, ds.train.x)), np.asarray(embedding.pca_encode(pca, ds.test.x)))}
    recon = {"autoencoder": evaluate.batched(reconstruct, ds.test.x, 2000),
             "PCA": np.asarray(embedding.pca_decode(pca, codes["PCA"][1]))}
    scores = {name: {"mse_per_pixel": embedding.mse_per_pixel(ds.test.x, recon[name]),
                     "knn_accuracy": embedding.knn_accuracy(z_train, ds.train.y, z_test, ds.test.y, cfg.k)}
              for name, (z_train, z_test) in codes.items()}
    shown = np.asarray(jax.random.choice(rng.key(cfg.seed, "samples"), len(ds.test.y), (min(cfg.shown, len(ds.test.y)),),
                                         replace=False))
    ctx.out.json("metrics.json", {"scores": scores, "history": {k: v.tolist() for k, v in hist.items()},
                                  "pca_variance": pca.variance})
    ctx.out.figure("embeddings.png", classifiers.embeddings(
        {f"{n} (kNN acc {100 * scores[n]['knn_accuracy']:.1f} %)": codes[n][1][shown] for n in codes}, ds.test.y[shown]))
    ctx.out.figure("learning_curves.png", classifiers.net_curves({"autoencoder": hist}, "autoencoder: MSE per pixel",
                                                                 error=False))
    ctx.out.figure("reconstructions.png", classifiers.image_grid(
        {"original": ds.test.x[shown[:12]], "autoencoder": recon["autoencoder"][shown[:12]].reshape(-1, 28, 28),
         "PCA (2)": np.clip(recon["PCA"][shown[:12]], 0, 1).reshape(-1, 28, 28)}))
    ctx.out.text("results.md", results_md(cfg, artifacts.as_saved({"scores": scores})))


REFERENCE = {"PCA": 0.056, "autoencoder": 0.040}  # known reconstruction MSE per pixel of 2-D codes


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    scores = metrics["scores"]
    rows = [[n, f"{s['mse_per_pixel']:.4f}", artifacts.pct(s["knn_accuracy"])] for n, s in scores.items()]
    return (f"# autoencoder: 2-D codes of MNIST, {cfg.epochs} epochs (test set)\n\n" + artifacts.md_table(
        ["embedding (2-D)", "reconstruction MSE per pixel", f"{cfg.k}-NN accuracy %"], rows)
        + f"\nKnown figures to beat: PCA ≈ {REFERENCE['PCA']:.3f}, a 2-D autoencoder ≈ {REFERENCE['autoencoder']:.3f}.\n")
