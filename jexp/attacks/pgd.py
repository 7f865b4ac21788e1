"""L∞ projected gradient descent and FGSM, for attacks, evaluation and adversarial training.

``linf_pgd`` is projected gradient descent under an L∞ budget (Madry et al. 2018) from a uniform
random start, untargeted or targeted, with restarts; ``steps=1`` with a step of ε and no random
start is FGSM (Goodfellow et al. 2015). One step of 1.25·ε from a random start is the "FGSM with
random start" of Wong et al. (2020), used for fast adversarial training through ``fgsm_rs``; several
steps are PGD training (``linf_training``, an adversary for ``jexp.nn.train.Trainer``).
``pgd_survivors`` and ``transfer_survivors`` measure which examples a model still classifies right
under these attacks (the figures of ``jexp.attacks.robustness``).

A classifier here is ``logits_fn(params, x) -> logits``, as ``jexp.nn.nets.classifier`` makes.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jexp.nn.evaluate import batched


def linf_steps(input_grad, key, x, eps, step_size, steps: int, lo: float = 0.0, hi: float = 1.0,
               random_start: bool = True):
    """``steps`` signed-gradient ascent steps on the loss whose input gradient is ``input_grad``,
    from a uniform random start in the L∞ ball of radius ``eps`` (a scalar or one per example,
    broadcastable to x; or from x itself), projected back into the ball and into [lo, hi] after
    every step."""
    eps = jnp.asarray(eps, x.dtype)
    xa = x
    if random_start:
        xa = jnp.clip(x + jax.random.uniform(key, x.shape, x.dtype, -1.0, 1.0) * eps, lo, hi)

    def body(_, xa):
        xa = xa + step_size * jnp.sign(input_grad(xa))
        return jnp.clip(jnp.clip(xa, x - eps, x + eps), lo, hi)
    return jax.lax.fori_loop(0, steps, body, xa)


def linf_training(eps: float, steps: int = 1, step_size: float | None = None, warmup: int = 0):
    """An ``adversary`` for ``train.Trainer`` (adversarial training): ``steps`` signed-gradient
    steps of ``step_size`` (default 2.5·eps/steps; 1.25·eps for one step) from a uniform random
    start in the L∞ ball. One step is "FGSM with random start" (Wong et al. 2020), several are PGD
    training (Madry et al. 2018). With ``warmup`` > 0 the budget (and the step with it) grows
    linearly from eps/warmup at the first optimiser step to eps at step ``warmup`` − 1, then stays:
    a small network trained at the full budget from the start can collapse to a constant output."""
    if step_size is None:
        step_size = (1.25 if steps == 1 else 2.5 / steps) * eps

    def adversary(input_grad, key, x, step):
        scale = jnp.minimum(1.0, (step + 1) / warmup) if warmup else 1.0
        return linf_steps(input_grad, key, x, eps * scale, step_size * scale, steps)
    return adversary


def fgsm_rs(eps: float, alpha: float | None = None, warmup: int = 0):
    """FGSM with a random start (Wong et al. 2020), step ``alpha`` (default 1.25·eps)."""
    return linf_training(eps, 1, alpha, warmup)


@partial(jax.jit, static_argnames=("logits_fn", "steps", "restarts", "targeted", "random_start"))
def linf_pgd(logits_fn, variables, x, labels, key, eps, *, steps: int = 40, restarts: int = 1,
             step_size=None, targeted: bool = False, random_start: bool = True):
    """L∞ PGD on the cross-entropy of ``logits_fn``. Untargeted (``labels`` = true classes):
    ascend it; targeted (``labels`` = targets): descend it. Each of ``restarts`` random starts runs
    ``steps`` steps of ``step_size`` (default 2.5·eps/steps); per example the first start that
    succeeds (wrong class / the target class) is kept, else the last. ``steps=1``, a step of eps
    and no random start is FGSM (Goodfellow et al. 2015). Returns (x_adv, success)."""
    step_size = 2.5 * jnp.asarray(eps) / steps if step_size is None else step_size
    sign = -1.0 if targeted else 1.0
    grad = jax.grad(lambda xa: sign * optax.softmax_cross_entropy_with_integer_labels(
        logits_fn(variables, xa), labels).sum())

    def won(xa):
        pred = logits_fn(variables, xa).argmax(-1)
        return pred == labels if targeted else pred != labels

    def restart(carry, k):
        best, ok = carry
        xa = linf_steps(grad, k, x, eps, step_size, steps, random_start=random_start)
        now = won(xa)
        take = now & ~ok
        return (jnp.where(take.reshape((-1,) + (1,) * (x.ndim - 1)), xa, best), ok | now), None

    first = linf_steps(grad, jax.random.fold_in(key, 0), x, eps, step_size, steps, random_start=random_start)
    (best, ok), _ = jax.lax.scan(restart, (first, won(first)), jax.random.split(key, restarts)[1:])
    return best, ok


def _correct(logits_fn, variables, x, y, batch: int) -> np.ndarray:
    pred = batched(jax.jit(lambda xb: logits_fn(variables, xb).argmax(-1)), x, batch)
    return pred == np.asarray(y)


def pgd_survivors(logits_fn, variables, x, y, key, eps: float, *, steps: int, restarts: int = 1,
                  batch: int = 250) -> np.ndarray:
    """Which examples stay correctly classified: row 0 clean, row r after r restarts of untargeted
    L∞ PGD (``steps`` steps of 2.5·eps/steps from a uniform random start); [restarts + 1, N] bools.
    Each restart attacks only the examples still standing, in fixed-size batches (one compiled
    program). ``steps`` = 1 is FGSM (one step of eps from x; restarts are then pointless)."""
    x, y = np.asarray(x), np.asarray(y)
    alive = _correct(logits_fn, variables, x, y, batch)
    rows = [alive.copy()]
    for r in range(restarts):
        idx = np.flatnonzero(alive)
        for i in range(0, len(idx), batch):
            b = idx[i:i + batch]
            padded = np.resize(b, min(batch, len(x)))  # one shape for every call: one compiled program
            _, ok = linf_pgd(
                logits_fn, variables, jnp.asarray(x[padded]), jnp.asarray(y[padded]),
                jax.random.fold_in(jax.random.fold_in(key, r), i), eps, steps=steps,
                step_size=eps if steps == 1 else None, random_start=steps > 1)
            alive[b] &= ~np.asarray(ok)[:len(b)]
        rows.append(alive.copy())
    return np.stack(rows)


def transfer_survivors(source: tuple[Callable, dict], target: tuple[Callable, dict], x, y, key, eps: float, *,
                       steps: int, batch: int = 250) -> np.ndarray:
    """Black-box check: PGD adversarial examples made on the ``source`` model, classified by the
    ``target`` model; which examples the target still gets right."""
    (fs, vs), (ft, vt) = source, target
    x, y = np.asarray(x), np.asarray(y)
    out = []
    for i in range(0, len(x), batch):
        xa, _ = linf_pgd(fs, vs, jnp.asarray(x[i:i + batch]), jnp.asarray(y[i:i + batch]),
                         jax.random.fold_in(key, i), eps, steps=steps)
        out.append(np.asarray(ft(vt, xa).argmax(-1)) == y[i:i + batch])
    return np.concatenate(out)
