"""Every JAX random key of a run, derived once from the config's seed, by purpose.

The root of seed ``s`` is ``jax.random.key(s)``; purpose ``p`` gets ``fold_in(root, PURPOSES.index(p))``,
which is ``split(root, len(PURPOSES))[i]``: no two purposes share a key, and a purpose added at the end
changes no other. Inside one training run (``train.Trainer``) the "train" key is split, once per
epoch, into (the next epoch's key, the shuffle's key, the steps' key); step ``i`` uses
``fold_in(steps key, i)``, split into (augmentation, dropout, adversary). Many runs at once (seeds of a
grid) have one root each, ``key(seed)``.

Why it matters: ``fold_in(k, i)`` *is* ``split(k, n)[i]``, so keys derived from one key "by
different routes" can coincide. Before this module the initial weights' key equalled the
probe-minibatch key, and the training key the key that picked the attacked test images, in the
experiments that train and attack; within an epoch the step keys were the shuffle's own sort keys.
(``tests/test_rng.py`` checks the derivation and that the keys differ.)

NumPy generators (the numpy-only experiments, the out-of-distribution test sets) are seeded
separately with ``np.random.default_rng`` and never share a seed within an experiment.
"""
from __future__ import annotations

import jax

PURPOSES = (
    "init",     # initial weights
    "train",    # shuffling, augmentation, dropout, adversarial training (split per epoch, see above)
    "probe",    # the fixed minibatch of gradient statistics
    "samples",  # which test images are attacked or shown
    "attack",   # adversarial generators
    "pgd",      # PGD attacks of the evaluation (random starts)
    "check",    # the PGD check that selects an adversarially trained epoch
    "split",    # a validation split drawn from the training set
    "many samples",  # the test images of an attack's evaluation on many images × every target
    "many",     # the generators of that evaluation
    "restart",  # the training key of a warm restart's cycle (its shuffles, augmentation, dropout)
)


def key(seed: int, purpose: str) -> jax.Array:
    """The key of ``purpose`` for a run with ``seed``."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown PRNG purpose {purpose!r}; known: {', '.join(PURPOSES)}")
    return jax.random.fold_in(jax.random.key(seed), PURPOSES.index(purpose))


def epoch_keys(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(next epoch's key, the shuffle's key, the steps' key) from a run's current training key."""
    return tuple(jax.random.split(key, 3))


def step_keys(steps_key: jax.Array, i) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(augmentation, dropout, adversary) keys of step ``i`` of an epoch."""
    return tuple(jax.random.split(jax.random.fold_in(steps_key, i), 3))
