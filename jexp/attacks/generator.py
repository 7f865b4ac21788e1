"""The sheet's generator attack: many small generator networks optimised at once.

A generator ``f(w) = x`` is a network whose one input neuron is always 1: a Dense layer from that
constant to every pixel, then a sigmoid, so pixels stay in [0, 1]. For a sample ``x_i`` and a target
class ``j``, ``f_ij`` is trained in rounds of two phases, each with its own Adam: (a) ``recon_steps``
steps on MSE(f(w), x_i); (b) ``attack_steps`` steps on a loss of C(f(w)) towards j, C frozen
(gradients are taken with respect to the generator's params only). After each round the generator
stops if C gives class j a probability ≥ ``threshold``; after ``max_rounds`` rounds it has failed.

Phase (b)'s loss is ``AttackConfig.loss`` (see ``LOSSES``). The sheet's literal reading, MSE between
C's softmax and the one-hot target (``SHEET``), has almost no gradient where C gives j a probability
near 0, so (a) pulls the image back faster than (b) pushes it: it fools the suite's MNIST models on
13-16 % of the pairs. The default is Carlini & Wagner's L2 attack written as phase (b): the distance
to the sample plus c times a margin that is zero once j has the threshold probability. The
generator first reconstructs its sample (``warm_steps``), c starts small (``attack_weight``) and
grows by ``growth`` after every round without success, so the image crosses the boundary near the
point of it closest to the sample (the minimum of the penalised loss once c passes the boundary's
Lagrange multiplier), and the generator stops there. Phase (a) stays, one step per round: its Adam
moves every pixel of the change back by about the same step, a pull towards sparse, larger changes,
so more of it costs distance.

``generator_attack`` runs G generators as one program: the per-generator round is ``vmap``ped, and
a ``lax.while_loop`` over rounds carries a per-generator ``done`` mask, so finished generators
freeze (their params, optimiser states and round count no longer change) while the others go
on. The loop runs ``CHUNK`` rounds per compiled call; between calls the finished generators leave
the batch, so a few hard pairs do not keep all G computing until ``max_rounds``. With several
devices the generators are split over them (the classifier is copied to each).

A classifier here is ``logits_fn(params, x) -> logits`` with x a batch (N, H, W, C), as
``jexp.nn.nets.classifier`` makes from a trained network. ``jexp.attacks.pairs`` runs the attack on
every (sample, target class) pair of the sheet's grid.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jexp.nn.train import replicate, shard_runs
from jexp.runtime import distributed

ONE = np.ones((1,), np.float32)  # the generator's only input (numpy: importing starts no JAX backend)


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
    # Carlini & Wagner's L2 attack: the distance to the sample plus c times the margin; once c passes
    # the boundary's Lagrange multiplier, its minimum is the nearest image where j has the threshold
    "cw": "MSE(f, x_i) + c · margin, c = attack_weight, multiplied by growth after each round without success",
}


@dataclass(frozen=True)
class AttackConfig:
    """The generator attack's settings, with the suite's defaults; the configs of the experiments
    that attack derive from it, so ``AttackConfig.of(cfg)`` takes these fields from theirs."""
    recon_steps: int = 1       # phase (a): Adam steps towards the sample per round
    recon_lr: float = 0.1      # phase (a): Adam's learning rate
    attack_steps: int = 20     # phase (b): Adam steps towards the target class per round
    attack_lr: float = 0.02    # phase (b): Adam's learning rate
    threshold: float = 0.9     # success: C gives the target at least this probability
    max_rounds: int = 300      # rounds of (a) then (b) before a generator has failed
    loss: str = "cw"           # phase (b)'s loss towards the target: cw, margin, xent or mse (the sheet's)
    warm_steps: int = 200      # phase (a) steps before the first round, so that f starts near its sample
    growth: float = 1.1        # phase (b)'s step (cw: its c) is multiplied by this after every round without success
    attack_weight: float = 1e-4  # cw: the margin's initial weight c against MSE(f, x_i)

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unknown attack loss {self.loss!r}; known: {', '.join(LOSSES)}")
        if min(self.recon_steps, self.attack_steps, self.warm_steps) < 0 or self.max_rounds < 1:
            raise ValueError("recon_steps, attack_steps and warm_steps must be ≥ 0 and max_rounds ≥ 1")
        if not 0 < self.threshold < 1 or self.growth < 1 or min(self.recon_lr, self.attack_lr, self.attack_weight) <= 0:
            raise ValueError("threshold must be in (0, 1), growth ≥ 1, the learning rates and attack_weight > 0")

    @classmethod
    def of(cls, config) -> "AttackConfig":
        """The attack settings held by an experiment's config (fields of the same names)."""
        return cls(**{f: getattr(config, f) for f in cls.__dataclass_fields__})


# the sheet's literal reading: MSE on the softmax in phase (b), 20 + 10 steps at lr 0.1, no warm start
SHEET = AttackConfig(recon_steps=20, recon_lr=0.1, attack_steps=10, attack_lr=0.1, loss="mse", warm_steps=0,
                     growth=1.0, attack_weight=1.0)


def choices(cfg: AttackConfig) -> str:
    """What a config changes from the sheet's reading of phase (b) (MSE on the softmax, no warm start,
    a fixed step), for a results page: "" when nothing."""
    names = {"xent": "the target's cross-entropy", "margin": "Carlini & Wagner's margin",
             "cw": f"MSE(f, x_i) + c · Carlini & Wagner's margin, c from {cfg.attack_weight:g}"}
    grows = "c" if cfg.loss == "cw" else "the attack step"
    out = ([f"phase (b) minimises {names[cfg.loss]}"] if cfg.loss != "mse" else []) + (
        [f"{cfg.warm_steps} reconstruction steps before the first round"] if cfg.warm_steps else []) + (
        [f"{grows} grows {cfg.growth:g}× after each round without success"] if cfg.growth != 1.0 else [])
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


def attack_loss(logits_fn, variables, cfg: AttackConfig, image, target, x=None, c=1.0):
    """Phase (b)'s loss of C on one image towards ``target`` (``cfg.loss``, see ``LOSSES``; cw also
    needs the reconstruction target ``x`` and the weight ``c``)."""
    if cfg.loss == "cw":
        return jnp.mean((image - x) ** 2) + c * attack_loss(logits_fn, variables, replace(cfg, loss="margin"), image, target)
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
    return tx if cfg.growth == 1.0 or cfg.loss == "cw" else optax.chain(tx, optax.scale_by_schedule(lambda _: scale))


def generator_round(logits_fn, variables, cfg: AttackConfig, gen, x, target):
    """One round for one generator: ``gen`` = (params, Adam state of (a), Adam state of (b), the
    scale of (b)'s step, which ``cfg.growth`` raises after each round without success)."""
    params, opt_a, opt_b, scale = gen
    shape, tx_a, tx_b = x.shape, optax.adam(cfg.recon_lr), _attack_optimizer(cfg, scale)
    params, opt_a = _adam_steps(lambda p: _recon_loss(p, x), tx_a, cfg.recon_steps, params, opt_a)
    params, opt_b = _adam_steps(lambda p: attack_loss(logits_fn, variables, cfg, generate(p, shape), target, x,
                                                      cfg.attack_weight * scale), tx_b, cfg.attack_steps, params, opt_b)
    return params, opt_a, opt_b, scale


@partial(jax.jit, static_argnames=("cfg",))
def _start(x, keys, cfg: AttackConfig):
    """Every generator's initial state (params, Adam states, step scale), after the warm start."""
    shape = x.shape[1:]
    params = jax.vmap(lambda k: init_generator(k, shape))(keys)
    opt_a = jax.vmap(optax.adam(cfg.recon_lr).init)(params)
    if cfg.warm_steps:  # phase (a) alone first: the generator starts from (nearly) its sample
        params, opt_a = jax.vmap(lambda p, o, xi: _adam_steps(lambda q: _recon_loss(q, xi), optax.adam(cfg.recon_lr),
                                                              cfg.warm_steps, p, o))(params, opt_a, x)
    return params, opt_a, jax.vmap(_attack_optimizer(cfg).init)(params), jnp.ones(x.shape[0], jnp.float32)


@partial(jax.jit, static_argnames=("logits_fn", "cfg", "n"))
def _rounds(logits_fn, variables, gens, done, x, targets, r0, n: int, cfg: AttackConfig):
    """Rounds r0, r0 + 1, … of every generator, at most ``n`` and at most up to ``cfg.max_rounds``,
    fewer if all are done first: (gens, done, rounds, trace [n, G]); a done generator stays frozen."""
    shape, g = x.shape[1:], x.shape[0]
    round_all = jax.vmap(partial(generator_round, logits_fn, variables, cfg))
    target_prob = jax.vmap(lambda p, t: _target_prob(logits_fn, variables, generate(p, shape), t))
    stop = jnp.minimum(r0 + n, cfg.max_rounds)

    def cond(carry):
        r, _, done, _, _ = carry
        return (r < stop) & ~jnp.all(done)

    def body(carry):
        r, gens, done, rounds, trace = carry
        new = round_all(gens, x, targets)
        gens = jax.tree.map(lambda n, o: jnp.where(done.reshape((-1,) + (1,) * (n.ndim - 1)), o, n), new, gens)
        p = target_prob(gens[0], targets)
        trace = trace.at[r - r0].set(jnp.where(done, jnp.nan, p))
        rounds = jnp.where(done, rounds, r + 1)
        won = p >= cfg.threshold
        gens = gens[:3] + (jnp.where(done | won, gens[3], gens[3] * cfg.growth),)
        return r + 1, gens, done | won, rounds, trace

    init = (r0, gens, done, jnp.zeros(g, jnp.int32), jnp.full((n, g), jnp.nan))
    _, gens, done, rounds, trace = jax.lax.while_loop(cond, body, init)
    return gens, done, rounds, trace


CHUNK = 10  # rounds per compiled call; between calls the finished generators are dropped from the batch


def _bucket(active: int, total: int, devices: int = 1) -> int:
    """The batch for ``active`` running generators: the next power of two (at least 8), or all of them,
    rounded up to a multiple of ``devices`` so that every device gets as many."""
    return -(-min(total, max(8, 1 << (active - 1).bit_length())) // devices) * devices


def generator_attack(logits_fn, variables, x, targets, keys, cfg: AttackConfig = AttackConfig(),
                     progress=None) -> AttackResult:
    """Train G generators at once: ``x`` [G, H, W, C] samples, ``targets`` [G] classes, ``keys`` [G]
    PRNG keys for their initial params. C (``logits_fn``, ``variables``) stays frozen.

    Every ``CHUNK`` rounds run as one jitted, vmapped program over the generators still running;
    between chunks the finished ones leave the batch (padded to a power of two, so that few
    programs are compiled), so a long tail of hard pairs does not cost the work of all G. With
    several devices every batch is split over them. ``progress(rounds, fooled, G)``, if given, is
    called after every chunk."""
    x, targets = jnp.asarray(x), jnp.asarray(targets)
    g, shape = x.shape[0], x.shape[1:]
    devices = jax.device_count()
    variables = replicate(variables)
    gens = jax.tree.map(lambda a: a[:g], _start(*shard_runs((x, keys), g)[0], cfg))
    done, rounds = np.zeros(g, bool), np.zeros(g, np.int32)
    trace = np.full((cfg.max_rounds, g), np.nan, np.float32)
    r = 0
    while r < cfg.max_rounds and not done.all():
        idx = np.flatnonzero(~done)
        lanes = np.concatenate([idx, np.repeat(idx[:1], _bucket(len(idx), g, devices) - len(idx))])  # padding: copies, frozen
        pad = np.arange(len(lanes)) >= len(idx)
        batch = (jax.tree.map(lambda a: a[lanes], gens), jnp.asarray(pad), x[lanes], targets[lanes])
        sub, sub_done, sub_rounds, sub_trace = _rounds(logits_fn, variables, *shard_runs(batch, len(lanes))[0],
                                                       jnp.int32(r), CHUNK, cfg)
        k = len(idx)
        gens = jax.tree.map(lambda a, b: a.at[idx].set(b[:k]), gens, sub)
        n = min(CHUNK, cfg.max_rounds - r)
        sub_trace, sub_rounds, sub_done = distributed.gather((sub_trace, sub_rounds, sub_done))  # several processes
        trace[r:r + n, idx] = np.asarray(sub_trace)[:n, :k]
        rounds[idx] = np.asarray(sub_rounds)[:k]
        done[idx] = np.asarray(sub_done)[:k]
        r += n
        if progress is not None:
            progress(r, int(done.sum()), g)
    images = jax.vmap(lambda p: generate(p, shape))(gens[0])
    probs = jax.nn.softmax(logits_fn(variables, images))
    images, gens, probs = distributed.gather((images, gens, probs))
    return AttackResult(images, gens[0], jnp.asarray(done), jnp.asarray(rounds), probs, jnp.asarray(trace))
