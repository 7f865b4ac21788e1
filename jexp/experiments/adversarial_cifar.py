"""CIFAR-10: a CNN trained on the images at hand, exported to .h5, then one test image turned into every class by 10 generators at once (HW2 ex. 2C).

Command:  jexp run adversarial_cifar     (about 5 min on a 2-core CPU)
Setting:  reads every CIFAR-10 binary batch present (here: data_batch_1, 10,000 training images,
          and the first 1,000 test records); architectures.CIFAR_CNN (0.29 M parameters) with random crops
          and flips, AdamW one-cycle; the generator f(w) = sigmoid(Dense(1 → 32·32·3)(1)) with the
          same two-phase rounds as `adversarial`, and targeted PGD as reference.
Result:   artifacts/adversarial_cifar/: cifar.h5, grid.png, perturbations.png, rounds.png,
          learning_curves.png, confusion.png, metrics.json, results.md (8 epochs; see results.md for the measured figures).
"""
from dataclasses import dataclass

import numpy as np

from jexp.attacks import generator, pairs
from jexp.data import cifar10
from jexp.experiments import base
from jexp.io import artifacts, keras_h5
from jexp.nn import architectures, augment, checkpoint, evaluate, nets, train
from jexp.plots import attack_figures, classifiers
from jexp.runtime import rng

FIGURES = ("grid.png", "perturbations.png", "confusion.png")


@dataclass(frozen=True)
class Config(generator.AttackConfig):
    seed: int = 0             # the seed every PRNG key of the run is derived from
    epochs: int = 8           # training epochs
    batch_size: int = 128     # minibatch size
    lr: float = 3e-3          # peak learning rate (AdamW, one-cycle)
    weight_decay: float = 5e-4  # AdamW's weight decay
    train_size: int = 0       # 0: every training image present
    sample: int = -1          # test index to attack; -1: drawn with the seed among confident ones
    min_confidence: float = 0.9  # the attacked image's required confidence
    pgd_eps: tuple[float, ...] = (0.5 / 255, 1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255)  # budgets of the targeted-PGD reference
    pgd_steps: int = 100      # its PGD steps


QUICK = dict(epochs=1, train_size=512, max_rounds=10, pgd_eps=(8 / 255,), pgd_steps=5, min_confidence=0.0)


def run(cfg: Config, ctx) -> None:
    ds, used = cifar10.load(ctx.data_dir)
    tr = ds.train if not cfg.train_size else ds.train._replace(x=ds.train.x[:cfg.train_size], y=ds.train.y[:cfg.train_size])
    d = train.make_data(tr, ds.test, rng.key(cfg.seed, "probe"), split="test")
    params, state, history = train.fit_net(
        architectures.CIFAR_CNN, d, cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size, lr=cfg.lr,
        weight_decay=cfg.weight_decay, augment=augment.CropFlip(), ckpt_dir=ctx.checkpoints("cnn"),
        progress=ctx.progress(cfg.epochs, f"{ctx.name}/train"))
    keras_h5.save(ctx.out.path("cifar.h5"), architectures.CIFAR_CNN, params, state)
    checkpoint.save(ctx.out.path("cifar.orbax"), cfg.epochs, (params, state))
    f, v = nets.classifier(architectures.CIFAR_CNN, params, state)
    probs = evaluate.batched(nets.probabilities(f, v), ds.test.x, 500)
    pred = probs.argmax(-1)
    conf = evaluate.confusion(ds.test.y, pred)
    ids = base.attack_samples([cfg.sample] if cfg.sample >= 0 else [], rng.key(cfg.seed, "samples"), probs[None],
                              ds.test.y, 1, cfg.min_confidence, flag="sample")
    x, labels = ds.test.x[ids], ds.test.y[ids]
    acfg = generator.AttackConfig.of(cfg)
    with ctx.progress(2, f"{ctx.name}/attack") as bar:
        att = pairs.attack_pairs(f, v, x, rng.key(cfg.seed, "attack"), acfg)
        bar.update(1, "generators")
        pgd = pairs.pgd_min_eps(f, v, x, rng.key(cfg.seed, "pgd"), cfg.pgd_eps, cfg.threshold, steps=cfg.pgd_steps)
        bar.update(1, "PGD")
    metrics = {"data": {"train_files": used["train"], "test_files": used["test"], "train_size": len(tr.y),
                        "test_size": len(ds.test.y)},
               "classes": ds.classes, "test_acc": float(np.mean(pred == ds.test.y)),
               "per_class_recall": (np.diag(conf) / np.maximum(conf.sum(1), 1)).tolist(), "confusion": conf,
               "history": {k: history[k].tolist() for k in ("train_loss", "train_acc", "test_loss", "test_acc")},
               "params": nets.count_params(params), "sample": ids, "label": labels,
               **pairs.summarize(att, labels, pgd), "generators": pairs.pair_records(att, labels, ids, pgd)}
    ctx.out.json("metrics.json", metrics)
    ctx.out.text("results.md", results_md(cfg, metrics))
    ctx.out.figure("grid.png", attack_figures.attack_grid(x, probs[ids], att["images"], att["probs"], att["targets"],
                                                          att["success"], ds.classes, "CIFAR-10 CNN: one test image, every target"))
    ctx.out.figure("perturbations.png", attack_figures.perturbations(x, att["images"], att["targets"], ds.classes,
                                                                     "generator image − original"))
    ctx.out.figure("rounds.png", attack_figures.target_curves(att["trace"], labels, att["targets"], cfg.threshold, ds.classes,
                                                              "p(target) after each round"))
    ctx.out.figure("learning_curves.png", classifiers.net_curves({"cnn": history}, "CIFAR-10 CNN (train metrics on augmented images)"))
    ctx.out.figure("confusion.png", classifiers.confusion(conf, list(ds.classes), "CIFAR-10 CNN on the test images"))


def results_md(cfg, metrics: dict) -> str:
    """The results page: a function of the config and metrics.json only."""
    m = metrics
    f = lambda v, fmt=".2f": "–" if v is None else format(v, fmt)
    classes, recall = m["classes"], m["per_class_recall"]
    worst, best = int(np.argmin(recall)), int(np.argmax(recall))
    rows = [[classes[r["target"]], "yes" if r["success"] else "no", r["rounds"], f"{r['target_prob']:.2f}",
             f"{r['l2']:.2f}", f"{r['linf']:.3f}", "–" if not np.isfinite(r["pgd_min_eps"]) else f"{255 * r['pgd_min_eps']:.1f}/255",
             "–" if not np.isfinite(r["pgd_l2"]) else f"{r['pgd_l2']:.2f}"] for r in m["generators"]]
    data = m["data"]
    return (f"# adversarial_cifar: CNN on the CIFAR-10 images at hand, then a generator attack (seed {cfg.seed})\n\n"
            f"Data: {data['train_size']:,} training images ({', '.join(data['train_files'])}), "
            f"{data['test_size']:,} test images ({', '.join(data['test_files'])}). "
            f"That is {100 * data['train_size'] / 50000:.0f} % of CIFAR-10's 50,000 training and "
            f"{100 * data['test_size'] / 10000:.0f} % of its 10,000 test images.\n\n"
            f"Test accuracy after {cfg.epochs} epochs: **{artifacts.pct(m['test_acc'], digits=1)} %** "
            f"({m['params']:,} parameters). Best class: {classes[best]} ({artifacts.pct(recall[best])} % recall); "
            f"worst: {classes[worst]} ({artifacts.pct(recall[worst])} %).\n\n"
            f"Generator attack on test image {int(m['sample'][0])} (a {classes[int(m['label'][0])]}): "
            f"{artifacts.pct(m['success_rate'])} % of the {m['attacks']} other targets reached p ≥ {cfg.threshold}; "
            f"median L2 {f(m['median_l2'])}, median L∞ {f(m['median_linf'], '.3f')} over the successes. "
            f"Targeted PGD reaches {artifacts.pct(m['pgd']['success_rate'])} % of them within ε ≤ "
            f"{255 * max(cfg.pgd_eps):.0f}/255.\n\n"
            + artifacts.md_table(["target", "success", "rounds", "p(target)", "L2", "L∞", "PGD min ε", "PGD L2"], rows))
