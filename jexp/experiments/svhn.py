"""SVHN: the sheet's small CNN with early stopping, its confusion matrix and every filter's feature maps, next to the same network 4× wider (Athens ML assignment 2 (2020), exercise 2).

Command:  jexp run svhn      (needs train_32x32.mat and test_32x32.mat in <data dir>/svhn/, fetched
          through tfds when online; without them `jexp run all` skips it)
Setting:  architectures.SVHN_SHEET: three 3×3 convolutions (9, 36, 49 filters, ReLU), each followed by 3×3
          max-pooling, then a softmax layer. The convolutions use "same" padding: the pools then take
          32 → 10 → 3 → 1 pixels and the softmax layer sees 1×1×49 (with "valid" convolutions the
          third pooling would get a 1×1 input and nothing to pool). architectures.SVHN_WIDE: the same with 36,
          144, 196 filters. 7,326 training images drawn at random (the config's seed, "split" key)
          form the validation set; AdamW one-cycle, batch 128, at most 30 epochs, early stopping on
          validation loss (patience 3) restoring the best epoch's weights; then the test set, once.
Result:   artifacts/svhn/: sheet.h5, wide.h5, confusion_{sheet,wide}.png, learning_curves.png,
          feature_maps_digit{0-9}.png (sheet model), metrics.json, results.md. No real run exists
          yet: SVHN is not on the machines this suite was built on. Expected from the sheet's
          figures for networks of this size: roughly 88-92 % test accuracy.
"""
from dataclasses import dataclass

import jax
import numpy as np

from jexp.data import datasets, svhn_mat
from jexp.experiments import base
from jexp.io import artifacts, keras_h5
from jexp.nn import architectures, checkpoint, evaluate, nets, train
from jexp.plots import classifiers
from jexp.runtime import rng

FIGURES = ("confusion_sheet.png", "feature_maps_digit3.png")
MODELS = {"sheet": architectures.SVHN_SHEET, "wide": architectures.SVHN_WIDE}
SKIP_WITHOUT_DATA = True  # `jexp run all` reports a missing data set as skipped, not failed
NOT_RUN = ("No real SVHN results exist yet: the data set is not on the machines this suite was built on. "
           "Put `train_32x32.mat` and `test_32x32.mat` (http://ufldl.stanford.edu/housenumbers/, format 2) in "
           "`<data dir>/svhn/`, or run online and they are fetched and checked, then `jexp run svhn` "
           "(`jexp run svhn --quick` runs the whole pipeline on a small subset).")


@dataclass(frozen=True)
class Config:
    seed: int = 0           # the seed every PRNG key of the run is derived from
    models: tuple[str, ...] = ("sheet", "wide")  # which of MODELS to train (sheet, wide)
    epochs: int = 30        # at most; early stopping ends sooner
    patience: int = 3       # epochs without a lower validation loss before stopping
    batch_size: int = 128   # minibatch size
    lr: float = 1e-3        # peak learning rate (AdamW, one-cycle)
    weight_decay: float = 1e-4  # AdamW's weight decay
    val_size: int = 7326    # validation images drawn from the training set
    train_size: int = 0     # 0: all (after the validation draw)
    test_size: int = 0      # 0: every test image; n: the first n
    extra: bool = False     # also train on extra_32x32.mat (531,131 more digits)


QUICK = dict(epochs=3, patience=1, val_size=64, train_size=256, test_size=128)


def run(cfg: Config, ctx) -> None:
    if not set(cfg.models) <= set(MODELS) or cfg.patience < 1:
        raise base.UsageError(f"--models must be among {', '.join(MODELS)} and --patience ≥ 1")
    ds = svhn_mat.load(ctx.data_dir, extra=cfg.extra)
    tr, val = datasets.split(rng.key(cfg.seed, "split"), ds.train, cfg.val_size)
    tr, test = datasets.subset(tr, cfg.train_size or None), datasets.subset(ds.test, cfg.test_size or None)
    arrays = train.make_data(tr, val, rng.key(cfg.seed, "probe"), split="val")  # every epoch scored on validation
    metrics = {"sizes": {"train": len(tr.y), "val": len(val.y), "test": len(test.y)}, "models": {}}
    histories, nets_done = {}, {}
    for name in cfg.models:
        net = MODELS[name]
        params, state, hist = train.fit_net(net, arrays, cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size,
                                            lr=cfg.lr, weight_decay=cfg.weight_decay, keep_best="val_loss",
                                            patience=cfg.patience, ckpt_dir=ctx.checkpoints(name),
                                            progress=ctx.progress(cfg.epochs, f"{ctx.name}/{name}"))
        keras_h5.save(ctx.out.path(f"{name}.h5"), net, params, state)
        checkpoint.save(ctx.out.path(f"{name}.orbax"), int(hist["selected_epoch"]), (params, state))
        predict = jax.jit(lambda x, n=net, p=params, s=state: nets.apply(n, p, s, x))
        pred = evaluate.batched(predict, test.x, 1000).argmax(-1)
        counts = evaluate.confusion(test.y, pred)
        ctx.out.figure(f"confusion_{name}.png", classifiers.confusion(counts, list(ds.classes), f"SVHN test set, {name} model"))
        histories[name], nets_done[name] = hist, (net, params, state)
        metrics["models"][name] = {
            "params": nets.count_params(params), "test_acc": float(np.mean(pred == test.y)), "confusion": counts,
            "epochs_trained": len(hist["val_acc"]) - 1, "selected_epoch": int(hist["selected_epoch"]),
            "history": {k: hist[k].tolist() for k in ("train_loss", "train_acc", "val_loss", "val_acc")}}
    ctx.out.figure("learning_curves.png", classifiers.net_curves(
        histories, "SVHN: training and validation (which early stopping watches)"))
    if "sheet" in nets_done:
        metrics["feature_maps"] = _feature_maps(cfg, ctx, test, *nets_done["sheet"])
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, artifacts.as_saved(metrics)))


def _feature_maps(cfg, ctx, test, net, params, state) -> dict:
    """One random test image per class through every convolution: the figures, and per layer how
    many filters stay silent on all of them and how much of a map is lit."""
    order = np.asarray(jax.random.permutation(rng.key(cfg.seed, "samples"), len(test.y)))
    ids = [int(order[np.flatnonzero(test.y[order] == k)[0]]) for k in range(10) if np.any(test.y == k)]
    layers = [np.asarray(m) for m in nets.conv_outputs(net, params, state, test.x[ids])]
    for j, i in enumerate(ids):
        ctx.out.figure(f"feature_maps_digit{test.y[i]}.png", classifiers.feature_maps(
            test.x[i], [m[j] for m in layers], f"test image {i} (digit {test.y[i]}): every filter of the sheet's CNN"))
    stats = []
    for m in layers:
        peak = m.max(axis=(1, 2))                       # (images, filters)
        lit = (m >= 0.5 * peak[:, None, None, :]) & (peak[:, None, None, :] > 0)
        stats.append({"filters": int(m.shape[-1]), "size": int(m.shape[1]),
                      "silent": int(np.sum(peak.max(0) <= 1e-6 * max(float(peak.max()), 1e-12))),
                      "lit_fraction": float(lit.mean(axis=(1, 2))[peak > 0].mean()) if np.any(peak > 0) else 0.0,
                      "zero_fraction": float(np.mean(m <= 0))})
    return {"images": ids, "labels": [int(test.y[i]) for i in ids], "layers": stats}


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    s = metrics["sizes"]
    rows = [[n, f"{m['params']:,}", f"{m['epochs_trained']} (best {m['selected_epoch']})", artifacts.pct(m["test_acc"], digits=2)]
            for n, m in metrics["models"].items()]
    lines = [f"# svhn: test accuracy ({s['train']:,} training, {s['val']:,} validation, {s['test']:,} test images)", "",
             artifacts.md_table(["model", "parameters", "epochs trained (early stopping, patience "
                                 f"{cfg.patience} of at most {cfg.epochs})", "test acc %"], rows)]
    accs = {n: m["test_acc"] for n, m in metrics["models"].items()}
    if {"sheet", "wide"} <= set(accs):
        gain = 100 * (accs["wide"] - accs["sheet"])
        lines.append(f"The 4× wider network scores {abs(gain):.2f} points {'above' if gain >= 0 else 'below'} the sheet's.")
    for n, m in metrics["models"].items():
        counts = np.asarray(m["confusion"])
        rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        off = rates - np.diag(np.diag(rates))
        top = np.dstack(np.unravel_index(np.argsort(off, axis=None)[::-1][:3], off.shape))[0]
        lines.append(f"\nMost confused ({n}): " + "; ".join(
            f"{i} decided {j} {artifacts.pct(rates[i, j])} %" for i, j in top if off[i, j] > 0) + ".")
    if "feature_maps" in metrics:
        fm = metrics["feature_maps"]["layers"]
        lines += ["", "Feature maps of the sheet's network on one test image per digit "
                  "(`feature_maps_digit*.png`):", "",
                  artifacts.md_table(["layer", "filters", "map size", "silent on all 10 images",
                                      "map area ≥ half its peak %", "zero activations %"],
                                     [[i + 1, l["filters"], f"{l['size']}×{l['size']}", l["silent"],
                                       artifacts.pct(l["lit_fraction"]), artifacts.pct(l["zero_fraction"])]
                                      for i, l in enumerate(fm)])]
        silent = [f"{l['silent']} of {l['filters']} in layer {i + 1}" for i, l in enumerate(fm) if l["silent"]]
        lines.append("Silent (dead) filters: " + ("; ".join(silent) if silent else "none: every filter fires on "
                                                  "at least one of the images") + ".")
        frac = [l["lit_fraction"] for l in fm]
        lines.append(f"Activations are most localised in layer {int(np.argmin(frac)) + 1} (a filter lights "
                     f"{artifacts.pct(min(frac))} % of its map at half its peak or more) and most spread in layer "
                     f"{int(np.argmax(frac)) + 1} ({artifacts.pct(max(frac))} %).")
    return "\n".join(lines) + "\n"
