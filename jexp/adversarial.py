"""Adversarial examples: many small generator networks optimised at once, and L∞ PGD / FGSM.

**The sheet's generator attack.** A generator ``f(w) = x`` is a network whose one input neuron is
always 1: a Dense layer from that constant to every pixel, then a sigmoid, so pixels stay in
[0, 1]. For a sample ``x_i`` and a target class ``j``, ``f_ij`` is trained in rounds of two
phases, each with its own Adam: (a) ``recon_steps`` steps on MSE(f(w), x_i); (b)
``attack_steps`` steps on MSE(C(f(w)), onehot(j)), C's softmax outputs, C frozen (gradients are
taken with respect to the generator's params only). After each round the generator stops if C
gives class j a probability ≥ ``threshold``; after ``max_rounds`` rounds it has failed.

``generator_attack`` runs G generators as one program: the per-generator round is ``vmap``ped, and
a ``lax.while_loop`` over rounds carries a per-generator ``done`` mask, so finished generators
freeze (their params, optimiser states and round count no longer change) while the others go
on; the loop ends when all are done or after ``max_rounds``.

**Reference attacks.** ``linf_pgd`` is projected gradient descent under an L∞ budget (Madry et
al. 2018) from a uniform random start, untargeted or targeted, with restarts; one step of it with
step 1.25·ε is the "FGSM with random start" of Wong et al. (2020), used for fast adversarial
training through ``fgsm_rs``; several steps are PGD training (``linf_training``, an adversary
for ``train.Trainer``).

A classifier here is ``logits_fn(params, x) -> logits`` with x a batch (N, H, W, C); ``classifier``
makes one from a ``nets.Sequential`` (a final softmax layer, as in Keras files, is dropped, so
PGD's cross-entropy gradients do not vanish through a saturated softmax).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jexp import nets

ONE = jnp.ones((1,), jnp.float32)  # the generator's only input


# --- classifiers ------------------------------------------------------------------------------

def without_softmax(net: nets.Sequential) -> nets.Sequential:
    """``net`` giving logits: a final softmax Activation is dropped, a final Dense(…, softmax) made linear."""
    layers = net.layers
    if layers and isinstance(layers[-1], nets.Activation) and layers[-1].name == "softmax":
        layers = layers[:-1]
    elif layers and isinstance(layers[-1], nets.Dense) and layers[-1].activation == "softmax":
        layers = layers[:-1] + (nets.Dense(layers[-1].units, None, layers[-1].use_bias),)
    return nets.Sequential(net.input_shape, layers)


def classifier(net: nets.Sequential, params, model_state=None) -> tuple[Callable, Any]:
    """(logits_fn, variables) for a trained ``net`` in inference mode; inputs of any shape with
    ``prod(net.input_shape)`` values per example are reshaped to it."""
    logits_net = without_softmax(net)

    def logits_fn(variables, x):
        return nets.apply(logits_net, variables[0], variables[1], x.reshape(x.shape[0], *net.input_shape))
    return logits_fn, (params, model_state or {})


# --- the generator ----------------------------------------------------------------------------

class Generator(nn.Module):
    """f(w) = sigmoid(Dense(1 → prod(shape))(1)), reshaped to ``shape`` (H, W, C)."""
    shape: tuple

    @nn.compact
    def __call__(self, one):
        units = int(np.prod(self.shape))
        return nn.sigmoid(nn.Dense(units, kernel_init=nn.initializers.glorot_uniform())(one)).reshape(self.shape)


def init_generator(key, shape) -> dict:
    return Generator(tuple(shape)).init(key, ONE)["params"]


def generate(params, shape) -> jax.Array:
    """The generator's image, (H, W, C) in [0, 1]."""
    return Generator(tuple(shape)).apply({"params": params}, ONE)


@dataclass(frozen=True)
class AttackConfig:
    recon_steps: int = 10      # phase (a): Adam steps towards the sample per round
    recon_lr: float = 0.05
    attack_steps: int = 1      # phase (b): Adam steps towards the target class per round
    attack_lr: float = 0.01
    threshold: float = 0.9     # success: C gives the target at least this probability
    max_rounds: int = 300

    @classmethod
    def of(cls, config) -> "AttackConfig":
        """The attack settings held by an experiment's config (fields of the same names)."""
        return cls(**{f: getattr(config, f) for f in cls.__dataclass_fields__})


class AttackResult(NamedTuple):
    images: jax.Array       # [G, H, W, C] the generators' final images
    params: Any             # the generators' final params (stacked)
    success: jax.Array      # [G] bool
    rounds: jax.Array       # [G] rounds run (max_rounds for a failure)
    probs: jax.Array        # [G, K] C's final probabilities
    trace: jax.Array        # [max_rounds, G] target probability after each round; NaN once stopped


def _adam_steps(loss, tx, n, params, opt_state):
    def body(_, carry):
        p, o = carry
        updates, o = tx.update(jax.grad(loss)(p), o, p)
        return optax.apply_updates(p, updates), o
    return jax.lax.fori_loop(0, n, body, (params, opt_state))


def _target_prob(logits_fn, variables, image, target):
    return jax.nn.softmax(logits_fn(variables, image[None]))[0, target]


def generator_round(logits_fn, variables, cfg: AttackConfig, gen, x, target):
    """One round for one generator: ``gen`` = (params, Adam state of (a), Adam state of (b))."""
    params, opt_a, opt_b = gen
    shape, tx_a, tx_b = x.shape, optax.adam(cfg.recon_lr), optax.adam(cfg.attack_lr)

    def recon_loss(p):
        return jnp.mean((generate(p, shape) - x) ** 2)

    def attack_loss(p):
        probs = jax.nn.softmax(logits_fn(variables, generate(p, shape)[None]))[0]
        return jnp.mean((probs - jax.nn.one_hot(target, probs.shape[-1])) ** 2)

    params, opt_a = _adam_steps(recon_loss, tx_a, cfg.recon_steps, params, opt_a)
    params, opt_b = _adam_steps(attack_loss, tx_b, cfg.attack_steps, params, opt_b)
    return params, opt_a, opt_b


@partial(jax.jit, static_argnames=("logits_fn", "cfg"))
def generator_attack(logits_fn, variables, x, targets, keys, cfg: AttackConfig = AttackConfig()) -> AttackResult:
    """Train G generators at once: ``x`` [G, H, W, C] samples, ``targets`` [G] classes, ``keys`` [G]
    PRNG keys for their initial params. C (``logits_fn``, ``variables``) stays frozen."""
    shape = x.shape[1:]
    params = jax.vmap(lambda k: init_generator(k, shape))(keys)
    gens = (params, jax.vmap(optax.adam(cfg.recon_lr).init)(params), jax.vmap(optax.adam(cfg.attack_lr).init)(params))
    round_all = jax.vmap(partial(generator_round, logits_fn, variables, cfg))
    target_prob = jax.vmap(lambda p, t: _target_prob(logits_fn, variables, generate(p, shape), t))
    g = x.shape[0]

    def cond(carry):
        r, _, done, _, _ = carry
        return (r < cfg.max_rounds) & ~jnp.all(done)

    def body(carry):
        r, gens, done, rounds, trace = carry
        new = round_all(gens, x, targets)
        gens = jax.tree.map(lambda n, o: jnp.where(done.reshape((-1,) + (1,) * (n.ndim - 1)), o, n), new, gens)
        p = target_prob(gens[0], targets)
        trace = trace.at[r].set(jnp.where(done, jnp.nan, p))
        rounds = jnp.where(done, rounds, r + 1)
        return r + 1, gens, done | (p >= cfg.threshold), rounds, trace

    init = (jnp.int32(0), gens, jnp.zeros(g, bool), jnp.zeros(g, jnp.int32), jnp.full((cfg.max_rounds, g), jnp.nan))
    _, gens, done, rounds, trace = jax.lax.while_loop(cond, body, init)
    images = jax.vmap(lambda p: generate(p, shape))(gens[0])
    probs = jax.nn.softmax(logits_fn(variables, images))
    return AttackResult(images, gens[0], done, rounds, probs, trace)


def distances(adv, x) -> dict[str, np.ndarray]:
    """Per-example L2 and L∞ distances between batches ``adv`` and ``x``."""
    d = np.asarray(adv, np.float64).reshape(len(adv), -1) - np.asarray(x, np.float64).reshape(len(x), -1)
    return {"l2": np.sqrt((d ** 2).sum(1)), "linf": np.abs(d).max(1)}


# --- PGD and FGSM -----------------------------------------------------------------------------

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


# --- the sheet's grid: every sample against every target class ---------------------------------

def pick_samples(key, probs, labels, n: int, min_confidence: float) -> np.ndarray:
    """Indices of ``n`` examples of ``n`` different classes, each classified correctly with
    probability ≥ ``min_confidence`` by every classifier in ``probs`` ([models, N, K]), taken in
    the order of a permutation drawn with ``key``."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    ok = np.all((probs.argmax(-1) == labels) & (np.take_along_axis(probs, labels[None, :, None], -1)[..., 0]
                                                >= min_confidence), axis=0)
    chosen, classes = [], set()
    for i in np.asarray(jax.random.permutation(key, len(labels))):
        if ok[i] and labels[i] not in classes:
            chosen.append(int(i))
            classes.add(int(labels[i]))
            if len(chosen) == n:
                return np.asarray(chosen)
    raise ValueError(f"only {len(chosen)} classes have an example classified with confidence ≥ {min_confidence}")


def attack_pairs(logits_fn, variables, samples, key, cfg: AttackConfig, n_classes: int = 10) -> dict:
    """``generator_attack`` on every (sample, target class) pair; generator (i, j) starts from
    ``fold_in(key, i·n_classes + j)``, so every classifier is attacked from the same generators.
    Returns numpy arrays shaped [n, n_classes, ...] (trace: [rounds, n, n_classes])."""
    n = len(samples)
    x = jnp.repeat(jnp.asarray(samples), n_classes, 0)
    targets = jnp.tile(jnp.arange(n_classes), n)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n * n_classes))
    r = generator_attack(logits_fn, variables, x, targets, keys, cfg)
    d = distances(r.images, x)
    grid = lambda a: np.asarray(a).reshape(n, n_classes, *np.shape(a)[1:])
    return {"images": grid(r.images), "probs": grid(r.probs), "success": grid(r.success),
            "rounds": grid(r.rounds), "l2": grid(d["l2"]), "linf": grid(d["linf"]),
            "targets": grid(targets), "trace": np.asarray(r.trace).reshape(-1, n, n_classes)}


def pgd_min_eps(logits_fn, variables, samples, key, eps_grid, threshold: float, *, steps: int = 100,
                n_classes: int = 10) -> dict:
    """Targeted L∞ PGD on every (sample, target) pair at each budget in ``eps_grid``: per pair the
    smallest budget at which the target gets probability ≥ ``threshold`` (NaN: none) and the L2
    and L∞ distances of that adversarial image; [n, n_classes] arrays."""
    n = len(samples)
    x = jnp.repeat(jnp.asarray(samples), n_classes, 0)
    targets = jnp.tile(jnp.arange(n_classes), n)
    best_eps = np.full(n * n_classes, np.nan)
    l2, linf = np.full_like(best_eps, np.nan), np.full_like(best_eps, np.nan)
    for e, eps in enumerate(sorted(eps_grid)):
        adv, _ = linf_pgd(logits_fn, variables, x, targets, jax.random.fold_in(key, e), float(eps), steps=steps,
                          targeted=True)
        p = np.asarray(jax.nn.softmax(logits_fn(variables, adv)))[np.arange(len(targets)), np.asarray(targets)]
        new = (p >= threshold) & np.isnan(best_eps)
        d = distances(adv, x)
        best_eps[new], l2[new], linf[new] = eps, d["l2"][new], d["linf"][new]
    grid = lambda a: a.reshape(n, n_classes)
    return {"min_eps": grid(best_eps), "l2": grid(l2), "linf": grid(linf)}


def _median(a) -> float | None:
    a = np.asarray(a, np.float64)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else None


def summarize(att: dict, labels, pgd: dict | None = None) -> dict:
    """Per-model figures of ``attack_pairs`` (and ``pgd_min_eps``): success rate over the pairs
    whose target is not the sample's class, medians over the successful ones, per target class,
    and the own-class pairs (their distance is the generator's reconstruction error)."""
    labels = np.asarray(labels)
    own = att["targets"] == labels[:, None]
    other, ok = ~own, att["success"] & ~own
    out = {"attacks": int(other.sum()), "success_rate": float(att["success"][other].mean()),
           "median_l2": _median(att["l2"][ok]), "median_linf": _median(att["linf"][ok]),
           "median_rounds": _median(att["rounds"][ok]),
           "own_class": {"success_rate": float(att["success"][own].mean()), "median_rounds": _median(att["rounds"][own]),
                         "median_l2": _median(att["l2"][own]), "median_linf": _median(att["linf"][own])},
           "per_target": {}}
    for j in range(att["targets"].shape[1]):
        col, okj = other[:, j], ok[:, j]
        if col.any():
            out["per_target"][str(j)] = {"attacks": int(col.sum()), "success_rate": float(att["success"][:, j][col].mean()),
                                         "median_l2": _median(att["l2"][:, j][okj]),
                                         "median_rounds": _median(att["rounds"][:, j][okj])}
    if pgd is not None:
        found = np.isfinite(pgd["min_eps"]) & other
        out["pgd"] = {"success_rate": float(found[other].mean()), "median_min_eps": _median(pgd["min_eps"][found]),
                      "median_l2": _median(pgd["l2"][found])}
    return out


def pair_records(att: dict, labels, sample_ids, pgd: dict | None = None) -> list[dict]:
    """One record per generator: sample, classes, success, rounds, probabilities, distances."""
    rows = []
    for i, label in enumerate(np.asarray(labels)):
        for j, t in enumerate(att["targets"][i]):
            probs = att["probs"][i, j]
            row = {"sample": int(sample_ids[i]), "label": int(label), "target": int(t),
                   "success": bool(att["success"][i, j]), "rounds": int(att["rounds"][i, j]),
                   "target_prob": float(probs[t]), "predicted": int(probs.argmax()),
                   "l2": float(att["l2"][i, j]), "linf": float(att["linf"][i, j])}
            if pgd is not None:
                row.update(pgd_min_eps=float(pgd["min_eps"][i, j]), pgd_l2=float(pgd["l2"][i, j]))
            rows.append(row)
    return rows
