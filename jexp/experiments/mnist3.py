"""MNIST: softmax regression vs an MLP vs a small CNN, learning curves and a comparison table.

Command:  jexp run mnist3       (about 2.5 min on a 2-core CPU)
Setting:  full MNIST, AdamW (lr 1e-3, one-cycle, no weight decay), batch 128, 10 epochs, one seed;
          train metrics are averages over each epoch, test metrics at its end.
Result:   artifacts/mnist3/: learning_curves.png, results.md, metrics.json.
"""
from dataclasses import dataclass

from jexp.experiments import base
from jexp.io import artifacts
from jexp.nn import nets, train
from jexp.plots import classifiers
from jexp.nn.nets import Conv2D, Dense, Flatten, MaxPool2D

FIGURES = ("learning_curves.png",)
MODELS = {
    "softmax": nets.Sequential((28, 28, 1), (Flatten(), Dense(10))),
    "mlp": nets.Sequential((28, 28, 1), (Flatten(), Dense(256, "relu"), Dense(256, "relu"), Dense(10))),
    "cnn": nets.Sequential((28, 28, 1), (Conv2D(16, 5, activation="relu"), MaxPool2D(),
                                         Conv2D(32, 5, activation="relu"), MaxPool2D(), Flatten(), Dense(10))),
}


@dataclass(frozen=True)
class Config:
    seed: int = 0  # the seed every PRNG key of the run is derived from
    models: tuple[str, ...] = ("softmax", "mlp", "cnn")  # which of MODELS to train (softmax, mlp, cnn)
    epochs: int = 10  # training epochs
    batch_size: int = 128  # minibatch size
    lr: float = 1e-3  # peak learning rate (AdamW, one-cycle)
    train_size: int = 0  # 0: every training image; n: the first n
    test_size: int = 0  # 0: every test image; n: the first n


QUICK = dict(epochs=2, train_size=1024, test_size=256)


def run(cfg: Config, ctx) -> None:
    if not set(cfg.models) <= set(MODELS):
        raise base.UsageError(f"--models must be among {', '.join(MODELS)}")
    _, data = base.image_data("mnist", ctx, cfg.seed, cfg.train_size, cfg.test_size)
    histories, metrics = {}, {}
    for name in cfg.models:
        params, _, h = train.fit_net(MODELS[name], data, cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size,
                                     lr=cfg.lr, ckpt_dir=ctx.checkpoints(name),
                                     progress=ctx.progress(cfg.epochs, f"mnist3/{name}"))
        histories[name] = h
        metrics[name] = {"params": nets.count_params(params), **{k: v.tolist() for k, v in h.items()}}
    ctx.out.json("metrics.json", metrics)
    ctx.out.figure("learning_curves.png", classifiers.net_curves(histories, "softmax regression vs MLP vs CNN on MNIST"))
    ctx.out.text("results.md", results_md(cfg, metrics))


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only. Test figures are those of
    the last epoch: no epoch is chosen by its test accuracy."""
    rows = [[name, f"{m['params']:,}", f"{m['train_loss'][-1]:.4f}", f"{m['test_loss'][-1]:.4f}",
             artifacts.pct(m["train_acc"][-1], digits=2), artifacts.pct(m["test_acc"][-1], digits=2)]
            for name, m in metrics.items()]
    return (f"# mnist3: after {cfg.epochs} epochs (seed {cfg.seed})\n\n" + artifacts.md_table(
        ["model", "params", "train loss", "test loss", "train acc %", "test acc %"], rows)
        + "\nTest figures are those after the last epoch (no epoch is selected on the test set); train "
        "figures are averages over the last epoch.\n")
