"""Fashion-MNIST MLP (100 ReLU, dropout 0.3, L2 1e-4): confusion matrix and which classes it mixes up.

Command:  jexp run fashion_confusion   (about 15 s on a 2-core CPU)
Setting:  784-100-10, ReLU, dropout 0.3 on the hidden layer's output, L2 1e-4 on the kernels
          (as Keras' kernel_regularizer), Adam (lr 1e-3, one-cycle), batch 128, 30 epochs.
Result:   artifacts/fashion_confusion/: confusion.png (rates conditioned on the true class),
          learning_curves.png, results.md (most-confused class per class, the most-confused pair);
          the target is 88 % test accuracy.
Measured: (the committed run, seed 0; every figure here is in its results.md, a test checks)
          88.45 % test accuracy.
"""
from dataclasses import dataclass

import jax
import numpy as np

from jexp.experiments import base
from jexp.io import artifacts
from jexp.nn import evaluate, nets, train
from jexp.plots import classifiers
from jexp.nn.nets import Dense, Dropout, Flatten

FIGURES = ("confusion.png",)
NET = nets.Sequential((28, 28, 1), (Flatten(), Dense(100, "relu"), Dropout(0.3), Dense(10)))


@dataclass(frozen=True)
class Config:
    seed: int = 0  # the seed every PRNG key of the run is derived from
    epochs: int = 30  # training epochs
    batch_size: int = 128  # minibatch size
    lr: float = 1e-3  # peak learning rate (AdamW, one-cycle)
    l2: float = 1e-4  # L2 penalty on the kernels (Keras' kernel_regularizer)
    train_size: int = 0  # 0: every training image; n: the first n
    test_size: int = 0  # 0: every test image; n: the first n


QUICK = dict(epochs=2, train_size=2048, test_size=512)


def run(cfg: Config, ctx) -> None:
    ds, data = base.image_data("fashion_mnist", ctx, cfg.seed, cfg.train_size, cfg.test_size)
    params, state, hist = train.fit_net(NET, data, cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size, lr=cfg.lr,
                                        l2=cfg.l2, ckpt_dir=ctx.checkpoints("mlp"), progress=ctx.progress(cfg.epochs))
    predict = jax.jit(lambda x: nets.apply(NET, params, state, x))
    pred = evaluate.batched(predict, ds.test.x).argmax(-1)
    counts = evaluate.confusion(ds.test.y, pred)
    names = list(ds.classes)
    ctx.out.figure("confusion.png", classifiers.confusion(counts, names, "Fashion-MNIST test set: P(decided j | true i)"))
    ctx.out.figure("learning_curves.png", classifiers.net_curves({"mlp": hist}, "Fashion-MNIST MLP 100 ReLU"))
    metrics = {"test_acc": float(np.mean(pred == ds.test.y)), "classes": names, "confusion": counts,
               "history": {k: v.tolist() for k, v in hist.items()}}
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, metrics))


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    counts, names = np.asarray(metrics["confusion"]), metrics["classes"]
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    off = rates - np.diag(np.diag(rates))
    pair = np.unravel_index(np.argmax(off + off.T), off.shape)
    rows = [[names[i], artifacts.pct(rates[i, i]), names[int(np.argmax(off[i]))], artifacts.pct(off[i].max())]
            for i in range(len(names))]
    acc = metrics["test_acc"]
    return (f"# fashion_confusion: test accuracy {100 * acc:.2f} % on {int(counts.sum()):,} test images after "
            f"{cfg.epochs} epochs (target ≥ 88 %: {'reached' if acc >= 0.88 else 'not reached'})\n\n"
            + artifacts.md_table(["true class", "recall %", "most often decided instead", "rate %"], rows)
            + f"\nMost confused pair overall: **{names[pair[0]]} ↔ {names[pair[1]]}** "
            f"({artifacts.pct(rates[pair])} % of {names[pair[0]]} decided {names[pair[1]]}, "
            f"{artifacts.pct(rates[pair[::-1]])} % the other way).\n")
