"""Every PRNG key derived once, by purpose (jexp.runtime.rng)."""
import jax
import numpy as np
import pytest

from jexp.runtime import rng


def _data(k):
    return tuple(np.asarray(jax.random.key_data(k)).tolist())


def test_purpose_keys_follow_the_documented_derivation_and_differ():
    for seed in (0, 1, 7):
        root = jax.random.key(seed)
        keys = [_data(rng.key(seed, p)) for p in rng.PURPOSES]
        assert keys == [_data(k) for k in jax.random.split(root, len(rng.PURPOSES))]
        assert len(set(keys)) == len(keys)
    with pytest.raises(ValueError, match="unknown PRNG purpose 'nope'"):
        rng.key(0, "nope")


def test_fold_in_is_split_which_is_why_every_key_comes_from_one_table():
    # the fact that made the old derivation collide: fold_in(k, i) == split(k, n)[i]
    k = jax.random.key(3)
    assert _data(jax.random.fold_in(k, 1)) == _data(jax.random.split(k, 4)[1])


def test_an_epochs_keys_are_all_different():
    nxt, perm, steps = rng.epoch_keys(rng.key(0, "train"))
    seen = {_data(nxt), _data(perm), _data(steps)}
    # the shuffle draws its sort keys by splitting its key; no step key may be one of them
    seen |= {_data(k) for k in jax.random.split(perm, 4)}
    for i in range(50):
        seen_before = len(seen)
        seen |= {_data(k) for k in rng.step_keys(steps, i)}
        assert len(seen) == seen_before + 3
