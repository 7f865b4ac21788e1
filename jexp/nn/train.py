"""Training core: a pure step, a whole epoch in one ``jit``, many runs at once with ``vmap``.

A *run* is one model trained from one seed with one set of hyper-parameters. Runs of the same
model shape are stacked on a leading axis and trained together by ``jit(vmap(epoch))``; with
several devices that axis is sharded over them. One epoch shuffles on device with the run's own
PRNG key, scans over the minibatches, then evaluates on the test set and records per-layer
gradient statistics on a fixed probe minibatch. History index 0 is the untrained model.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jexp.nn import checkpoint, gradients, nets
from jexp.runtime import distributed, rng


class RunState(struct.PyTreeNode):
    params: Any
    opt_state: Any
    key: jax.Array       # this run's training key: shuffles, augmentation, dropout (see jexp.runtime.rng)
    variant: jax.Array   # int32 handed to apply_fn, e.g. which activation
    diverged: jax.Array  # bool: a loss or parameter became NaN/inf
    model_state: Any = struct.field(default_factory=dict)  # e.g. BatchNorm's moving statistics
    step: jax.Array = 0  # int32: optimiser steps taken so far (e.g. for an adversary's ε warm-up)


class Data(struct.PyTreeNode):
    """A run's device arrays: the training split, the split every epoch is evaluated on and the
    fixed probe minibatch. ``eval_split`` names the evaluated split ("test" or "val"): the epoch
    metrics are called after it (``test_acc`` or ``val_acc``), and ``fit_net`` refuses to select an
    epoch on a test split."""
    train_x: jax.Array
    train_y: jax.Array
    eval_x: jax.Array
    eval_y: jax.Array
    probe_x: jax.Array  # the fixed minibatch for gradient statistics
    probe_y: jax.Array
    eval_split: str = struct.field(pytree_node=False, kw_only=True)


def make_data(train, evaluation, probe_key, probe_size: int = 256, *, split: str) -> Data:
    """Device arrays for training and evaluating on ``evaluation``, the split named ``split`` ("test"
    or "val"); the probe minibatch is drawn from ``train`` with ``probe_key``."""
    idx = np.asarray(jax.random.choice(probe_key, len(train.y), (min(probe_size, len(train.y)),), replace=False))
    arrays = (jnp.asarray(a) for a in (train.x, train.y, evaluation.x, evaluation.y, train.x[idx], train.y[idx]))
    return Data(*arrays, eval_split=split)


def cross_entropy(logits, labels):
    """Per-example softmax cross-entropy with integer labels."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def smoothed_cross_entropy(smoothing: float = 0.0, class_weights=None) -> Callable:
    """A ``loss_fn(logits, x, labels)`` for ``fit_net``: per-example cross-entropy against the
    label smoothed by ``smoothing`` ((1 − ε)·one-hot + ε / classes; Szegedy et al. 2016), times
    ``class_weights[label]`` when given (e.g. more weight on rare classes)."""
    w = None if class_weights is None else jnp.asarray(class_weights, jnp.float32)

    def loss(logits, x, labels):
        n = logits.shape[-1]
        target = jax.nn.one_hot(labels, n) * (1 - smoothing) + smoothing / n
        out = optax.softmax_cross_entropy(logits, target)
        return out if w is None else out * w[labels]
    return loss


def balancing_weights(labels, classes: int, power: float) -> np.ndarray:
    """Per-class loss weights ∝ (1 / the class's share of ``labels``)^``power`` (0: all 1; 1: every
    class weighs as much in total), scaled so that their mean over ``labels`` is 1."""
    counts = np.bincount(np.asarray(labels), minlength=classes).astype(np.float64)
    w = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    return w / (w[np.asarray(labels)].mean())


def optimizer(name: str = "sgd", **hparams) -> optax.GradientTransformation:
    """An optax optimiser whose hyper-parameters live in its state, so they can differ per run."""
    return optax.inject_hyperparams(getattr(optax, name))(**hparams)


@dataclass(frozen=True)
class Trainer:
    """The pure functions of training one run; ``fit`` vmaps and jits them.

    A stateless model gives ``apply_fn(params, x, variant) -> logits``. A model with state
    (BatchNorm statistics) or randomness (dropout) gives instead ``forward_fn(params, model_state,
    x, variant, key) -> (logits, model_state)``, in training mode when ``key`` is not None (see
    ``nets.forward_fn``). ``augment(key, x) -> x`` transforms each training minibatch on device.
    The objective is softmax cross-entropy and the metric ("acc") accuracy, unless ``loss_fn`` /
    ``metric_fn`` (outputs, x, y) -> per-example values say otherwise (e.g. an autoencoder's MSE).
    ``adversary(input_grad, key, x, step) -> x`` replaces each (augmented) minibatch by adversarial
    examples before the step (adversarial training); ``input_grad(x)`` is the gradient of the
    minibatch's summed loss with respect to x, under the step's own params, mode and dropout, and
    ``step`` the number of optimiser steps already taken (for a warm-up of the budget).
    """
    apply_fn: Callable | None = None
    tx: optax.GradientTransformation | None = None
    batch_size: int = 32
    eval_batch_size: int = 1000
    grad_stats: bool = True
    forward_fn: Callable | None = None
    augment: Callable | None = None
    loss_fn: Callable | None = None
    metric_fn: Callable | None = None
    adversary: Callable | None = None

    def example_loss(self, outputs, x, y):
        return cross_entropy(outputs, y) if self.loss_fn is None else self.loss_fn(outputs, x, y)

    def example_metric(self, outputs, x, y):
        if self.metric_fn is None:
            return (jnp.argmax(outputs, -1) == y).astype(jnp.float32)
        return self.metric_fn(outputs, x, y)

    def forward(self, params, model_state, x, variant, key=None):
        if self.forward_fn is None:
            return self.apply_fn(params, x, variant), model_state
        return self.forward_fn(params, model_state, x, variant, key)

    def loss(self, params, x, y, variant, model_state=None, key=None):
        """Mean loss and (logits, new model_state); training mode when ``key`` is given."""
        logits, model_state = self.forward(params, model_state, x, variant, key)
        return self.example_loss(logits, x, y).mean(), (logits, model_state)

    def init(self, init_fn, seed, variant=0, hparams=None) -> RunState:
        """One run: ``init_fn(key)`` gives params (or (params, model_state)); the optimiser state
        gets this run's ``hparams``."""
        k_init, k_train = rng.key(seed, "init"), rng.key(seed, "train")
        params, model_state = init_fn(k_init), {}
        if isinstance(params, tuple):
            params, model_state = params
        opt_state = self.tx.init(params)
        if hparams:
            opt_state = opt_state._replace(hyperparams={**opt_state.hyperparams, **hparams})
        return RunState(params, opt_state, k_train, jnp.asarray(variant, jnp.int32), jnp.asarray(False),
                        model_state, jnp.zeros((), jnp.int32))

    def step(self, params, opt_state, x, y, variant, model_state=None, key=None):
        grad_fn = jax.value_and_grad(self.loss, has_aux=True)
        (loss, (logits, model_state)), grads = grad_fn(params, x, y, variant, model_state, key)
        updates, opt_state = self.tx.update(grads, opt_state, params)
        acc = jnp.mean(self.example_metric(logits, x, y))
        return optax.apply_updates(params, updates), opt_state, model_state, loss, acc

    def epoch(self, state: RunState, data: Data, steps):
        """Train on ``steps`` minibatches of a fresh on-device shuffle, then ``probe``.

        ``steps`` is traced, so one compiled program also serves ``steps=0``: the state is
        returned untouched and only probed (train metrics are 0/0 = NaN then). The last partial
        batch of each shuffle is dropped.
        """
        n, bs = data.train_x.shape[0], self.batch_size
        key, k_perm, k_steps = rng.epoch_keys(state.key)
        perm = jax.random.permutation(k_perm, n)

        def body(i, carry):
            params, opt_state, model_state, loss_sum, acc_sum = carry
            idx = jax.lax.dynamic_slice(perm, (i * bs,), (bs,))
            x, y = data.train_x[idx], data.train_y[idx]
            k_aug, k_step, k_adv = rng.step_keys(k_steps, i)
            if self.forward_fn is None:
                k_step = None
            if self.augment is not None:
                x = self.augment(k_aug, x)
            if self.adversary is not None:
                input_grad = jax.grad(lambda xa: self.example_loss(
                    self.forward(params, model_state, xa, state.variant, k_step)[0], xa, y).sum())
                x = jax.lax.stop_gradient(self.adversary(input_grad, k_adv, x, state.step + i))
            params, opt_state, model_state, loss, acc = self.step(
                params, opt_state, x, y, state.variant, model_state, k_step)
            return params, opt_state, model_state, loss_sum + loss, acc_sum + acc

        zero = jnp.zeros((), jnp.float32)
        params, opt_state, model_state, loss_sum, acc_sum = jax.lax.fori_loop(
            0, steps, body, (state.params, state.opt_state, state.model_state, zero, zero))
        finite = jnp.isfinite(loss_sum)
        for leaf in jax.tree.leaves(params):
            finite &= jnp.all(jnp.isfinite(leaf))
        state = state.replace(params=params, opt_state=opt_state, model_state=model_state,
                              diverged=state.diverged | ~finite, key=jnp.where(steps > 0, key, state.key),
                              step=state.step + steps)
        return state, {"train_loss": loss_sum / steps, "train_acc": acc_sum / steps, **self.probe(state, data)}

    def steps_per_epoch(self, data: Data) -> int:
        return data.train_x.shape[0] // self.batch_size

    def evaluate(self, params, variant, x, y, model_state=None):
        """Mean loss and accuracy over (x, y), in chunks of ``eval_batch_size``."""
        n = x.shape[0]
        b = min(self.eval_batch_size, n)
        chunks = -(-n // b)
        pad = chunks * b - n
        xs = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(chunks, b, *x.shape[1:])
        ys = jnp.pad(y, (0, pad)).reshape(chunks, b)
        ws = (jnp.arange(chunks * b) < n).reshape(chunks, b)

        def chunk(args):
            xc, yc, wc = args
            logits, _ = self.forward(params, model_state, xc, variant)
            return jnp.sum(self.example_loss(logits, xc, yc) * wc), jnp.sum(self.example_metric(logits, xc, yc) * wc)

        losses, correct = jax.lax.map(chunk, (xs, ys, ws))
        return losses.sum() / n, correct.sum() / n

    def probe(self, state: RunState, data: Data) -> dict:
        """Loss/accuracy on the evaluated split and (if ``grad_stats``) per-layer max |∂L/∂W|, |∂L/∂b| on
        the probe batch."""
        loss, acc = self.evaluate(state.params, state.variant, data.eval_x, data.eval_y, state.model_state)
        out = {f"{data.eval_split}_loss": loss, f"{data.eval_split}_acc": acc, "diverged": state.diverged}
        if self.grad_stats:
            g = gradients.layer_grad_max(lambda p: self.loss(p, data.probe_x, data.probe_y, state.variant,
                                                             state.model_state)[0],
                                         state.params)
            out.update(grad_kernel=g["kernel"], grad_bias=g["bias"])
        return out


def init_runs(trainer: Trainer, init_fn, seeds, variants=None, hparams: dict | None = None) -> RunState:
    """Stacked initial states of len(seeds) runs (``variants`` and each ``hparams`` value per run)."""
    seeds = jnp.asarray(seeds, jnp.uint32)
    variants = jnp.zeros_like(seeds, jnp.int32) if variants is None else jnp.asarray(variants, jnp.int32)
    hparams = {k: jnp.asarray(v, jnp.float32) for k, v in (hparams or {}).items()}
    lowered = jax.jit(jax.vmap(lambda s, v, h: trainer.init(init_fn, s, v, h))).lower(seeds, variants, hparams)
    return _compile_cheaply(lowered)(seeds, variants, hparams)


def _compile_cheaply(lowered):
    """Compile a program that runs once and briefly (e.g. initialisation) without LLVM's costly
    optimisations: on CPU this halves its compile time. Integer PRNG work gives the same bits."""
    try:
        return lowered.compile(compiler_options={"xla_backend_optimization_level": 0})
    except Exception:  # a backend without that option
        return lowered.compile()


# --- many devices -----------------------------------------------------------------------------

def shard_runs(tree, n_runs: int):
    """Pad the runs axis to a multiple of the device count and shard it over all devices (of every
    process of a distributed job: each holds its own devices' runs). Returns (tree, pad). With one
    device the tree is returned unchanged."""
    n_dev = jax.device_count()
    if n_dev == 1:
        return tree, 0
    pad = (-n_runs) % n_dev
    if pad:
        tree = jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[:1], pad, axis=0)]), tree)
    mesh = Mesh(np.array(jax.devices()), ("runs",))
    return distributed.place(tree, NamedSharding(mesh, P("runs"))), pad


def replicate(tree):
    """``tree`` on every device (of every process), e.g. the training data all runs share."""
    if jax.device_count() == 1:
        return tree
    mesh = Mesh(np.array(jax.devices()), ("runs",))
    return distributed.place(tree, NamedSharding(mesh, P()))


# --- the loop ---------------------------------------------------------------------------------

def fit(trainer: Trainer, state: RunState, data: Data, epochs: int, *, ckpt_dir=None,
        progress=None, on_epoch: Callable[[int, dict], None] | None = None,
        after_epoch: Callable[[int, RunState, dict], None] | None = None,
        stop: Callable[[int], bool] | None = None):
    """Train the stacked runs in ``state`` for ``epochs`` epochs, one jitted call per epoch; fewer
    when ``stop(epochs done)`` says so after an epoch (or at a resumed checkpoint: early stopping).

    Returns (state, history): history[name] is a numpy array [runs, epochs + 1, ...], index 0
    being the untrained model (train metrics are NaN there). With ``ckpt_dir`` a checkpoint is
    written after every epoch and an interrupted fit resumes from the last one, bitwise.
    """
    n_runs = jax.tree.leaves(state)[0].shape[0]
    state, pad = shard_runs(state, n_runs)
    data = replicate(data)
    epoch_fn = jax.jit(jax.vmap(trainer.epoch, in_axes=(0, None, None)))
    steps = jnp.int32(trainer.steps_per_epoch(data))
    history, start = None, 0
    if ckpt_dir is not None and (restored := checkpoint.restore_latest(ckpt_dir, distributed.gather(state))):
        start, state, history = restored
        print(f"resuming from checkpoint {ckpt_dir} (epoch {start} of {epochs})", file=sys.stderr, flush=True)
        state, _ = shard_runs(jax.tree.map(jnp.asarray, state), n_runs + pad)
        if progress is not None:
            progress.update(start)
    if history is None:  # epoch 0: the untrained models, probed by the same program (steps=0)
        probed = distributed.gather(epoch_fn(state, data, jnp.int32(0))[1])
        history = {k: np.asarray(v)[:, None] for k, v in jax.device_get(probed).items()}
    for e in range(start, epochs):
        if stop is not None and e > 0 and stop(e):
            break
        state, metrics = epoch_fn(state, data, steps)
        metrics = jax.device_get(distributed.gather(metrics))
        history = {k: np.concatenate([history[k], np.asarray(metrics[k])[:, None]], axis=1) for k in history}
        if after_epoch is not None:  # sees the stacked (and possibly padded) runs; before the checkpoint,
            after_epoch(e + 1, state, metrics)  # so that an epoch it did not see is trained again on resume
        if ckpt_dir is not None:
            host = distributed.gather(state)  # every process takes part; process 0 writes
            if distributed.writes():
                checkpoint.save(ckpt_dir, e + 1, host, history)
        if on_epoch is not None:
            on_epoch(e + 1, metrics)
        if progress is not None:
            progress.update(1)
    state = distributed.gather(state)  # with several processes: whole, on every host
    if pad:
        state = jax.tree.map(lambda a: a[:n_runs], state)
        history = {k: v[:n_runs] for k, v in history.items()}
    return state, history


def run_concurrently(tasks: list[Callable[[], Any]], workers: int | None = None) -> list:
    """Call each task (e.g. one ``fit`` per model shape) on a thread pool. On CPU, XLA runs a
    small program on one core, so programs of different shapes overlap on the others. With several
    processes the tasks run one after another: every process must launch the same programs in
    the same order."""
    if distributed.count() > 1:
        workers = 1
    if workers is None:
        workers = min(len(tasks), os.cpu_count() or 1) if jax.default_backend() == "cpu" else 1
    if workers <= 1:
        return [t() for t in tasks]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda t: t(), tasks))


# --- one network, e.g. a CNN with BatchNorm, dropout and augmentation ----------------------------

def fit_net(net, data: Data, epochs: int, *, seed: int = 0, batch_size: int = 128, lr: float = 1e-3,
            weight_decay: float = 0.0, augment: Callable | None = None, ckpt_dir=None, progress=None,
            loss_fn: Callable | None = None, metric_fn: Callable | None = None, l2: float = 0.0,
            adversary: Callable | None = None, keep_best: Callable[[Any, Any], float] | str | None = None,
            patience: int = 0, init: tuple | None = None, train_key=None):
    """Train one ``nets.Sequential`` classifier with AdamW, a one-cycle (warm-up then cosine)
    learning rate, on-device ``augment`` and an optional L2 penalty ``l2``·Σ kernel² (as Keras'
    kernel_regularizer; not included in the reported loss) and an optional ``adversary`` (adversarial
    training, see ``Trainer``; the reported train metrics are then on adversarial examples); returns (params, model_state, history) with
    history[name] an array over epochs 0..epochs.

    ``keep_best(params, model_state) -> score`` is called after every epoch and the params of the
    best-scoring epoch (the later one on ties) are returned instead of the last; a metric name instead
    of the evaluated split instead (e.g. "val_loss", on ``data.eval_x``, which every epoch computes anyway)
    scores minus that metric; a metric of a test split is refused (an epoch is never chosen on test data).
    Early stopping,
    e.g. on a PGD check against catastrophic overfitting in FGSM training (Wong et al. 2020).
    history["select_score"] holds the scores (NaN for epoch 0) and history["selected_epoch"] the
    epoch returned. With ``ckpt_dir`` the best epoch so far is checkpointed too (``ckpt_dir``-best),
    so a resumed fit still returns the best of all its epochs. ``patience`` > 0 (with ``keep_best``)
    stops training once that many epochs have passed without a better score (Keras' EarlyStopping
    with restore_best_weights); the history then ends at the last epoch trained. ``init`` = (params,
    model_state) starts from a trained model instead of ``seed``'s initialisation, with a fresh
    optimiser and schedule: a warm restart (Loshchilov & Hutter 2017); epoch 0 is then that model.
    ``train_key`` replaces ``seed``'s training key (e.g. a restart's own, ``rng.key(seed, "restart")``)."""
    if isinstance(keep_best, str) and keep_best.split("_")[0] != data.eval_split:
        raise ValueError(f"keep_best={keep_best!r} is not a metric of the evaluated split ({data.eval_split!r})")
    if isinstance(keep_best, str) and data.eval_split == "test":
        raise ValueError(f"keep_best={keep_best!r} would choose the epoch on the test split; evaluate a validation "
                         "split instead (make_data(..., split='val'))")
    steps = epochs * (data.train_x.shape[0] // batch_size)
    schedule = optax.warmup_cosine_decay_schedule(lr / 20, lr, max(1, steps // 20), max(2, steps), lr / 1000)
    tx = optax.inject_hyperparams(optax.adamw)(learning_rate=schedule, weight_decay=weight_decay)
    if l2:  # Keras' kernel_regularizer l2(c): c·Σw² in the loss, i.e. 2c·w added to each kernel's gradient
        kernels = lambda params: jax.tree_util.tree_map_with_path(lambda p, _: p[-1].key == "kernel", params)
        tx = optax.chain(optax.add_decayed_weights(2 * l2, mask=kernels), tx)
    trainer = Trainer(tx=tx, batch_size=batch_size, eval_batch_size=500, grad_stats=False,
                      forward_fn=nets.forward_fn(net), augment=augment, loss_fn=loss_fn, metric_fn=metric_fn,
                      adversary=adversary)
    start = (lambda k: nets.init(net, k)) if init is None else (lambda k: jax.tree.map(jnp.asarray, init))
    state = init_runs(trainer, start, [seed])
    if train_key is not None:
        state = state.replace(key=train_key[None])
    scores, best = np.full(epochs + 1, np.nan), {}
    best_dir = None if ckpt_dir is None or keep_best is None else f"{ckpt_dir}-best"
    if best_dir is not None:  # the best epoch so far of an interrupted fit, and every score
        template = jax.device_get(jax.tree.map(lambda a: a[0], (state.params, state.model_state)))
        if restored := checkpoint.restore_latest(best_dir, template):
            _, params, extra = restored
            scores[:len(extra["scores"])] = extra["scores"][:epochs + 1]
            best.update(score=float(extra["best_score"]), epoch=int(extra["best_epoch"]), params=params)

    def score(epoch, st, metrics):
        p, s = jax.device_get(jax.tree.map(lambda a: a[0], distributed.gather((st.params, st.model_state))))
        scores[epoch] = -float(metrics[keep_best][0]) if isinstance(keep_best, str) else keep_best(p, s)
        if not best or scores[epoch] >= best["score"]:
            best.update(score=scores[epoch], epoch=epoch, params=(p, s))
        if best_dir is not None and distributed.writes():
            checkpoint.save(best_dir, epoch, best["params"], {"scores": scores, "best_score": best["score"],
                                                              "best_epoch": best["epoch"]})
    stop = None
    if keep_best is not None and patience > 0:
        stop = lambda done: bool(best) and done - best["epoch"] >= patience
    state, history = fit(trainer, state, data, epochs, ckpt_dir=ckpt_dir, progress=progress,
                         after_epoch=None if keep_best is None else score, stop=stop)
    params, model_state = jax.tree.map(lambda a: a[0], (state.params, state.model_state))
    history = {k: v[0] for k, v in history.items()}
    if keep_best is not None and best:
        params, model_state = jax.tree.map(jnp.asarray, best["params"])
        history.update(select_score=scores[:len(history["train_loss"])], selected_epoch=np.asarray(best["epoch"]))
    return params, model_state, history
