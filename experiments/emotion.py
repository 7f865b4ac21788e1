"""Facial-emotion recogniser on FER2013 (7 emotions), exported as Keras .h5 for `jexp camera` (Athens HW2 ex. 3).

Command:  jexp run emotion      (~85 min on a 2-core CPU: 40 epochs of ~2 min)
          jexp run emotion --model_from=artifacts/emotion   (~1 min: re-evaluate the committed model)
Setting:  nets.EMOTION_CNN (1.2M parameters, BatchNorm, dropout 0.5) trained on the Training split
          (the 149 altered images of the shared npz left out) on random 40×40 crops with rotations
          ±10°, zoom 0.9-1.1, shifts ±4 px, flips, brightness and contrast (augment.FaceAugment);
          AdamW, one-cycle learning rate (peak 2e-3), weight decay 1e-2, batch 64. The epoch is
          chosen on PublicTest (whole 48×48 images); PrivateTest is evaluated once, at the end,
          as is and with a horizontal-flip average (reported separately).
Result:   artifacts/emotion/: emotion.h5 (+ emotion.orbax), metrics.json, results.md,
          learning_curves.png, confusion.png, class_scores.png, mistakes.png.
"""
import json
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jexp import artifacts, augment, checkpoint, evalplots, evaluate, experiment, fer2013, keras_h5, machine, nets, train

FIGURES = ("confusion.png", "mistakes.png", "learning_curves.png")
NET = nets.EMOTION_CNN
TARGETS = (("mini-Xception (Arriaga et al. 2017)", 0.66), ("a tuned VGG-style net (Khaireddin & Chen 2021)", 0.733))
HUMAN = (0.60, 0.70)  # human agreement on FER2013, about 65 ± 5 % (Goodfellow et al. 2013)


@dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-2
    crop: int = 40               # training crops (pixels); the model classifies whole 48×48 faces
    train_size: int = 0          # 0: every Training image
    keep_altered: bool = False   # train on the 149 altered images of the shared npz too
    model_from: str = ""         # a folder of an earlier emotion run: evaluate its model, do not train


QUICK = dict(epochs=2, train_size=512, batch_size=32)
TRAINING_KEYS = ("seed", "epochs", "batch_size", "lr", "weight_decay", "crop", "train_size", "keep_altered")


def run(cfg: Config, ctx) -> None:
    faces = fer2013.load(ctx.data_dir, keep_altered=cfg.keep_altered)
    tr = faces.train if not cfg.train_size else faces.train._replace(x=faces.train.x[:cfg.train_size],
                                                                       y=faces.train.y[:cfg.train_size])
    data = train.make_data(tr, faces.val, jax.random.fold_in(jax.random.key(cfg.seed), 0x9B0BE))
    scores = lambda p, s: float(np.mean(_probs(p, s, faces.val.x).argmax(-1) == faces.val.y))
    t0 = time.perf_counter()
    if cfg.model_from:
        earlier = _earlier_run(cfg)
        params, state, history = _reuse(earlier)
        trained = earlier["trained"]
    else:
        params, state, history = train.fit_net(
            NET, data, cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size, lr=cfg.lr,
            weight_decay=cfg.weight_decay, augment=augment.FaceAugment(size=cfg.crop),
            ckpt_dir=ctx.checkpoints("emotion"), progress=ctx.progress(cfg.epochs), keep_best=scores)
        trained = {"on": machine.describe(), "seconds": round(time.perf_counter() - t0, 1),
                   "jax": jax.__version__}
    keras_h5.save(ctx.out.path("emotion.h5"), NET, params, state)
    checkpoint.save(ctx.out.path("emotion.orbax"), cfg.epochs, (params, state))
    names = list(faces.classes)
    val, test = _evaluate(params, state, faces.val), _evaluate(params, state, faces.test)  # the one look at test
    counts = evaluate.confusion(faces.test.y, test["probs"].argmax(-1), len(names))
    metrics = {"data": {"source": faces.source, "note": faces.note, "train": len(tr.y), "val": len(faces.val.y),
                        "test": len(faces.test.y)},
               "classes": names, "params": nets.count_params(params), "trained": trained,
               "selected_epoch": int(history["selected_epoch"]),
               "val_acc": val["acc"], "val_acc_flip": val["acc_flip"],
               "test_acc": test["acc"], "test_acc_flip": test["acc_flip"],
               "test_confusion": counts, "per_class": evaluate.per_class(counts),
               "history": {k: np.asarray(history[k]).tolist() for k in ("train_loss", "train_acc", "test_loss",
                                                                        "test_acc", "select_score")}}
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, metrics))
    ctx.out.figure("learning_curves.png", evalplots.net_curves(
        {"emotion": history}, "FER2013: train (augmented 40×40 crops) and PublicTest (whole faces)"))
    ctx.out.figure("confusion.png", evalplots.confusion(counts, names, "FER2013 PrivateTest: P(decided j | true i)"))
    ctx.out.figure("class_scores.png", evalplots.class_scores(
        {k: metrics["per_class"][k] for k in ("precision", "recall", "f1")}, names, "PrivateTest, per emotion"))
    ctx.out.figure("mistakes.png", evalplots.mistakes(faces.test.x, faces.test.y, test["probs"], names,
                                                      title="PrivateTest: the most confident mistakes per true emotion"))


def _probs(params, state, x, flip: bool = False):
    f = jax.jit(lambda xb: jax.nn.softmax(nets.apply(NET, params, state, xb[:, :, ::-1] if flip else xb)))
    return evaluate.batched(f, x, 500)


def _evaluate(params, state, split) -> dict:
    """Accuracy as is and with the average over the face and its mirror image (test-time flip)."""
    probs = _probs(params, state, split.x)
    flipped = (probs + _probs(params, state, split.x, flip=True)) / 2
    return {"probs": probs, "acc": float(np.mean(probs.argmax(-1) == split.y)),
            "acc_flip": float(np.mean(flipped.argmax(-1) == split.y))}


def _earlier_run(cfg: Config) -> dict:
    """config and metrics of the earlier run in ``cfg.model_from``; its training settings must be these."""
    folder = Path(cfg.model_from)
    try:
        saved = json.loads((folder / "config.json").read_text())
        old = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError) as e:
        raise experiment.UsageError(f"--model_from={folder}: no readable config.json and metrics.json ({e})") from None
    differ = [k for k in TRAINING_KEYS if artifacts.to_jsonable(getattr(cfg, k)) != saved["config"].get(k)]
    if saved.get("experiment") != "emotion" or differ:
        raise experiment.UsageError(f"--model_from={folder}: its model was trained with other settings "
                                    f"({', '.join(differ) or 'not an emotion run'}); train it afresh instead")
    return {"folder": folder, "metrics": old, "trained": old["trained"]}


def _reuse(earlier: dict):
    params, state = nets.init(NET, jax.random.key(0))
    restored = checkpoint.restore_latest(earlier["folder"] / "emotion.orbax", (params, state))
    if restored is None:
        raise experiment.UsageError(f"--model_from={earlier['folder']}: no emotion.orbax there")
    _, (params, state), _ = restored
    history = {k: np.array([np.nan if v is None else v for v in vals], np.float32)
               for k, vals in earlier["metrics"]["history"].items()}
    history["selected_epoch"] = np.asarray(earlier["metrics"]["selected_epoch"])
    return jax.tree.map(jnp.asarray, params), jax.tree.map(jnp.asarray, state), history


def results_md(cfg: Config, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    names, pc = metrics["classes"], metrics["per_class"]
    acc, d = metrics["test_acc"], metrics["data"]
    lines = [f"# emotion: FER2013 PrivateTest accuracy {100 * acc:.1f} % "
             f"({100 * metrics['test_acc_flip']:.1f} % with a test-time flip)\n",
             f"Trained on {d['train']:,} Training faces ({d['source']}; {d['note']}) on {metrics['trained']['on']} "
             f"in {metrics['trained']['seconds'] / 60:.0f} min; the epoch ({metrics['selected_epoch']} of {cfg.epochs}) "
             f"chosen on PublicTest ({d['val']:,} faces: {100 * metrics['val_acc']:.1f} %); PrivateTest "
             f"({d['test']:,} faces) evaluated once, after training.\n"]
    for ref, target in TARGETS:
        lines.append(f"- {ref}: {100 * target:.1f} % — {'reached' if acc >= target else 'not reached'} "
                     f"({100 * (acc - target):+.1f} points).")
    rows = [[n, pc["support"][i], artifacts.pct(pc["precision"][i]), artifacts.pct(pc["recall"][i]),
             artifacts.pct(pc["f1"][i])] for i, n in enumerate(names)]
    worst = names[int(np.argmin(pc["f1"]))]
    counts = np.asarray(metrics["test_confusion"])
    off = counts - np.diag(np.diag(counts))
    i, j = np.unravel_index(np.argmax(off), off.shape)
    return ("\n".join(lines) + "\n\n" + artifacts.md_table(["emotion", "faces", "precision %", "recall %", "F1 %"], rows)
            + f"\nLowest F1: **{worst}**. The most frequent confusion: {names[i]} decided {names[j]} "
            f"({int(off[i, j])} of {int(counts[i].sum())} {names[i]} faces).\n")
