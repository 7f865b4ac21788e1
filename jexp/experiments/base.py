"""What the experiment scripts share: the error for a bad config value, and the helpers that load
MNIST for a study, pick the test images to attack and find an earlier run to re-evaluate.

A script's ``run(cfg, ctx)`` gets a ``ctx`` (``jexp.cli.runner.Context``) with: ``name``; ``out``,
the run's ``jexp.io.artifacts.Artifacts`` (``out.json``, ``out.text``, ``out.figure``, ``out.path``);
``data_dir``; ``quick``; ``progress(total, desc)``, a progress bar that ``timing.json`` records;
``checkpoints(sub)``, a checkpoint folder (None with ``--fresh``); ``ckpt_dir``; and
``earlier(name)``, the folder of another experiment's run that this code would reproduce.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jexp.attacks import pairs
from jexp.data import datasets, mnist
from jexp.io import artifacts
from jexp.nn import train
from jexp.runtime import rng


class UsageError(ValueError):
    """Bad command-line input or an impossible config value; the message is one line for the user."""


def image_data(dataset: str, ctx, seed: int, train_size: int = 0, test_size: int = 0,
               probe_size: int = 256) -> tuple[datasets.Dataset, train.Data]:
    """Load ``dataset`` (first ``train_size``/``test_size`` examples when set) and its device arrays;
    the gradient-probe minibatch is drawn with ``seed``'s "probe" key (``jexp.runtime.rng``)."""
    ds = mnist.load(dataset, ctx.data_dir)
    ds = ds._replace(train=datasets.subset(ds.train, train_size), test=datasets.subset(ds.test, test_size))
    return ds, train.make_data(ds.train, ds.test, rng.key(seed, "probe"), probe_size, split="test")


def attack_samples(fixed, key, probs, labels, n: int, min_confidence: float, flag: str = "samples"):
    """The test indices to attack: ``fixed`` when given, else ``pairs.pick_samples``; too few
    confident examples is a usage error naming the two flags that fix it."""
    if len(fixed):
        return np.asarray(fixed)
    try:
        return pairs.pick_samples(key, probs, labels, n, min_confidence)
    except ValueError as e:
        raise UsageError(f"{e}; lower --min_confidence or name test images with --{flag}=I,J,…") from None


def earlier_run(name: str, cfg, flag: str, keys: tuple[str, ...], absent: dict | None = None) -> tuple[Path, dict, dict]:
    """(folder, saved config, metrics) of the earlier run of ``name`` in the folder ``getattr(cfg,
    flag)``, whose models a run re-evaluates instead of training them; its config must agree with
    ``cfg`` on every training setting in ``keys``, else a one-line usage error names the others.
    ``absent`` gives the value a setting added later had in runs from before it (its effect off)."""
    folder = Path(getattr(cfg, flag))
    try:
        saved = json.loads((folder / "config.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"--{flag}={folder}: no readable config.json and metrics.json ({e})") from None
    old = {**(absent or {}), **saved["config"]}
    differ = [k for k in keys if artifacts.to_jsonable(getattr(cfg, k)) != old.get(k)]
    if saved.get("experiment") != name or differ:
        raise UsageError(f"--{flag}={folder}: its models were trained with other settings "
                         f"({', '.join(differ) or f'not a {name} run'}); train afresh instead")
    return folder, saved, metrics
