"""The sheet's generator attack: many small generator networks optimised at once.

A generator ``f(w) = x`` is a network whose one input neuron is always 1: a Dense layer from that
constant to every pixel, then a sigmoid, so pixels stay in [0, 1]. For a sample ``x_i`` and a target
class ``j``, ``f_ij`` is trained in rounds of two phases, each with its own Adam: (a) ``recon_steps``
steps on MSE(f(w), x_i); (b) ``attack_steps`` steps on MSE(C(f(w)), onehot(j)), C's softmax outputs,
C frozen (gradients are taken with respect to the generator's params only). After each round the
generator stops if C gives class j a probability ≥ ``threshold``; after ``max_rounds`` rounds it has
failed.

The sheet's reading of (b), MSE on C's softmax, has almost no gradient where C gives j a probability
near 0, so (a) pulls the image back faster than (b) pushes it. ``AttackConfig`` also offers (b) on
the target's cross-entropy or on Carlini & Wagner's margin (zero once j has the threshold
probability), a warm start (``warm_steps`` of (a) first) and an attack step that grows after each
round without success (``growth``), so that a generator stops close to the boundary; the defaults
are the sheet's reading.

``generator_attack`` runs G generators as one program: the per-generator round is ``vmap``ped, and
a ``lax.while_loop`` over rounds carries a per-generator ``done`` mask, so finished generators
freeze (their params, optimiser states and round count no longer change) while the others go
on; the loop ends when all are done or after ``max_rounds``.

A classifier here is ``logits_fn(params, x) -> logits`` with x a batch (N, H, W, C), as
``jexp.nn.nets.classifier`` makes from a trained network. ``jexp.attacks.pairs`` runs the attack on
every (sample, target class) pair of the sheet's grid.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

ONE = jnp.ones((1,), jnp.float32)  # the generator's only input


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


LOSSES = {
    # the sheet's literal reading: MSE between C's softmax and the one-hot target; its gradient
    # vanishes where C gives the target a probability near 0 (∂/∂logit ∝ p(1 − p))
    "mse": "MSE(softmax(C(f)), onehot(j))",
    # what a Keras composite model compiled with categorical cross-entropy minimises
    "xent": "−log softmax(C(f))_j",
    # Carlini & Wagner's margin, zero once C gives j the threshold probability: (b) stops pushing there
    "margin": "max(0, logsumexp_{k≠j} C(f)_k − C(f)_j + log(threshold / (1 − threshold)))",
}


@dataclass(frozen=True)
class AttackConfig:
    """The generator attack's settings, with the suite's defaults; the configs of the experiments
    that attack derive from it, so ``AttackConfig.of(cfg)`` takes these fields from theirs."""
    recon_steps: int = 20      # phase (a): Adam steps towards the sample per round
    recon_lr: float = 0.1      # phase (a): Adam's learning rate
    attack_steps: int = 10     # phase (b): Adam steps towards the target class per round
    attack_lr: float = 0.1     # phase (b): Adam's learning rate
    threshold: float = 0.9     # success: C gives the target at least this probability
    max_rounds: int = 300      # rounds of (a) then (b) before a generator has failed
    loss: str = "mse"          # phase (b)'s loss of C(f) towards the target: mse (the sheet's), xent or margin
    warm_steps: int = 0        # phase (a) steps before the first round, so that f starts near its sample
    growth: float = 1.0        # phase (b)'s step is multiplied by this after every round without success

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unknown attack loss {self.loss!r}; known: {', '.join(LOSSES)}")
        if min(self.recon_steps, self.attack_steps, self.warm_steps) < 0 or self.max_rounds < 1:
            raise ValueError("recon_steps, attack_steps and warm_steps must be ≥ 0 and max_rounds ≥ 1")
        if not 0 < self.threshold < 1 or self.growth < 1 or min(self.recon_lr, self.attack_lr) <= 0:
            raise ValueError("threshold must be in (0, 1), growth ≥ 1 and the learning rates > 0")

    @classmethod
    def of(cls, config) -> "AttackConfig":
        """The attack settings held by an experiment's config (fields of the same names)."""
        return cls(**{f: getattr(config, f) for f in cls.__dataclass_fields__})


def choices(cfg: AttackConfig) -> str:
    """What a config changes from the sheet's reading of phase (b) (MSE on the softmax, no warm start,
    a fixed step), for a results page: "" when nothing."""
    names = {"xent": "the target's cross-entropy", "margin": "Carlini & Wagner's margin"}
    out = ([f"phase (b) minimises {names[cfg.loss]}"] if cfg.loss != "mse" else []) + (
        [f"{cfg.warm_steps} reconstruction steps before the first round"] if cfg.warm_steps else []) + (
        [f"the attack step grows {cfg.growth:g}× after each round without success"] if cfg.growth != 1.0 else [])
    return "; ".join(out)


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


def attack_loss(logits_fn, variables, cfg: AttackConfig, image, target):
    """Phase (b)'s loss of C on one image towards ``target`` (``cfg.loss``, see ``LOSSES``)."""
    if cfg.loss == "mse":
        probs = jax.nn.softmax(logits_fn(variables, image[None]))[0]
        return jnp.mean((probs - jax.nn.one_hot(target, probs.shape[-1])) ** 2)
    logits = logits_fn(variables, image[None])[0]
    if cfg.loss == "xent":
        return -jax.nn.log_softmax(logits)[target]
    others = jnp.where(jax.nn.one_hot(target, logits.shape[-1], dtype=bool), -jnp.inf, logits)
    return jax.nn.relu(jax.nn.logsumexp(others) - logits[target] + jnp.log(cfg.threshold / (1 - cfg.threshold)))


def _recon_loss(p, x):
    return jnp.mean((generate(p, x.shape) - x) ** 2)


def _attack_optimizer(cfg: AttackConfig, scale=1.0) -> optax.GradientTransformation:
    """Phase (b)'s Adam; with ``cfg.growth`` its step is multiplied by the generator's ``scale``."""
    tx = optax.adam(cfg.attack_lr)
    return tx if cfg.growth == 1.0 else optax.chain(tx, optax.scale_by_schedule(lambda _: scale))


def generator_round(logits_fn, variables, cfg: AttackConfig, gen, x, target):
    """One round for one generator: ``gen`` = (params, Adam state of (a), Adam state of (b), the
    scale of (b)'s step, which ``cfg.growth`` raises after each round without success)."""
    params, opt_a, opt_b, scale = gen
    shape, tx_a, tx_b = x.shape, optax.adam(cfg.recon_lr), _attack_optimizer(cfg, scale)
    params, opt_a = _adam_steps(lambda p: _recon_loss(p, x), tx_a, cfg.recon_steps, params, opt_a)
    params, opt_b = _adam_steps(lambda p: attack_loss(logits_fn, variables, cfg, generate(p, shape), target), tx_b,
                                cfg.attack_steps, params, opt_b)
    return params, opt_a, opt_b, scale


@partial(jax.jit, static_argnames=("logits_fn", "cfg"))
def generator_attack(logits_fn, variables, x, targets, keys, cfg: AttackConfig = AttackConfig()) -> AttackResult:
    """Train G generators at once: ``x`` [G, H, W, C] samples, ``targets`` [G] classes, ``keys`` [G]
    PRNG keys for their initial params. C (``logits_fn``, ``variables``) stays frozen."""
    shape = x.shape[1:]
    params = jax.vmap(lambda k: init_generator(k, shape))(keys)
    opt_a = jax.vmap(optax.adam(cfg.recon_lr).init)(params)
    if cfg.warm_steps:  # phase (a) alone first: the generator starts from (nearly) its sample
        params, opt_a = jax.vmap(lambda p, o, xi: _adam_steps(lambda q: _recon_loss(q, xi), optax.adam(cfg.recon_lr),
                                                              cfg.warm_steps, p, o))(params, opt_a, x)
    gens = (params, opt_a, jax.vmap(_attack_optimizer(cfg).init)(params), jnp.ones(x.shape[0], jnp.float32))
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
        won = p >= cfg.threshold
        gens = gens[:3] + (jnp.where(done | won, gens[3], gens[3] * cfg.growth),)
        return r + 1, gens, done | won, rounds, trace

    init = (jnp.int32(0), gens, jnp.zeros(g, bool), jnp.zeros(g, jnp.int32), jnp.full((cfg.max_rounds, g), jnp.nan))
    _, gens, done, rounds, trace = jax.lax.while_loop(cond, body, init)
    images = jax.vmap(lambda p: generate(p, shape))(gens[0])
    probs = jax.nn.softmax(logits_fn(variables, images))
    return AttackResult(images, gens[0], done, rounds, probs, trace)
