"""The sheet's generator attack: many small generator networks optimised at once.

A generator ``f(w) = x`` is a network whose one input neuron is always 1: a Dense layer from that
constant to every pixel, then a sigmoid, so pixels stay in [0, 1]. For a sample ``x_i`` and a target
class ``j``, ``f_ij`` is trained in rounds of two phases, each with its own Adam: (a) ``recon_steps``
steps on MSE(f(w), x_i); (b) ``attack_steps`` steps on MSE(C(f(w)), onehot(j)), C's softmax outputs,
C frozen (gradients are taken with respect to the generator's params only). After each round the
generator stops if C gives class j a probability ≥ ``threshold``; after ``max_rounds`` rounds it has
failed.

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
