"""The sheet's grid: every sample against every target class, by the generator attack and by
targeted PGD, with the figures the results pages report.

``pick_samples`` draws the samples (confidently classified, one per class), ``attack_pairs`` runs a
generator per (sample, target) pair, ``pgd_min_eps`` the smallest PGD budget per pair, and
``summarize`` / ``pair_records`` turn them into metrics. ``pick_many`` and ``evaluate_many`` make the
evaluation that does not hinge on the draw: many test images × every target in one program, with
95 % intervals (``rate_interval``: Wilson's for a success rate; ``median_interval``: the
distribution-free one from order statistics).
"""
from __future__ import annotations

import jax
import scipy.stats
import jax.numpy as jnp
import numpy as np

from jexp.attacks import generator
from jexp.attacks.pgd import linf_pgd


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


def pick_many(key, probs, labels, n: int) -> np.ndarray:
    """Indices of ``n`` examples that every classifier in ``probs`` ([models, N, K]) classifies
    correctly, in the order of a permutation drawn with ``key`` (any classes)."""
    ok = np.all(np.asarray(probs).argmax(-1) == np.asarray(labels), axis=0)
    order = np.asarray(jax.random.permutation(key, len(labels)))
    chosen = order[ok[order]][:n]
    if len(chosen) < n:
        raise ValueError(f"only {len(chosen)} examples are classified correctly by every model; {n} asked")
    return chosen.astype(np.int64)


def rate_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's 95 % interval for a success rate of ``successes`` in ``n``."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    mid, half = (p + z * z / (2 * n)), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = (mid - half) / (1 + z * z / n), (mid + half) / (1 + z * z / n)
    return (float(min(max(lo, 0.0), p)), float(max(min(hi, 1.0), p)))  # p = 0 or 1 exactly at its end, despite rounding


def median_interval(values, level: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free interval for the median: the order statistics v_(l) and v_(n+1−l), l the
    largest with P(B < l) ≤ (1 − level)/2 for B ~ Binomial(n, ½) (so that P(l ≤ B ≤ n − l) ≥ level);
    None for fewer than 6 values, where no such l exists at 95 %."""
    v = np.sort(np.asarray(values, np.float64)[np.isfinite(values)])
    n, tail = len(v), (1 - level) / 2
    below = np.flatnonzero(scipy.stats.binom.cdf(np.arange(n), n, 0.5) <= tail)  # 0-based k with P(B ≤ k) ≤ tail
    if not below.size:
        return None
    lo = int(below[-1])
    return (float(v[lo]), float(v[n - 1 - lo]))


def distances(adv, x) -> dict[str, np.ndarray]:
    """Per-example L2 and L∞ distances between batches ``adv`` and ``x``."""
    d = np.asarray(adv, np.float64).reshape(len(adv), -1) - np.asarray(x, np.float64).reshape(len(x), -1)
    return {"l2": np.sqrt((d ** 2).sum(1)), "linf": np.abs(d).max(1)}


def attack_pairs(logits_fn, variables, samples, key, cfg: generator.AttackConfig, n_classes: int = 10,
                 note=None) -> dict:
    """``generator_attack`` on every (sample, target class) pair; generator (i, j) starts from
    ``fold_in(key, i·n_classes + j)``, so every classifier is attacked from the same generators.
    Returns numpy arrays shaped [n, n_classes, ...] (trace: [rounds, n, n_classes]). ``note(text)``, if
    given, hears how far the attack is ("round 40/300: 120/200 fooled") after every chunk of rounds."""
    n = len(samples)
    x = jnp.repeat(jnp.asarray(samples), n_classes, 0)
    targets = jnp.tile(jnp.arange(n_classes), n)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n * n_classes))
    progress = None if note is None else lambda r, k, g: note(f"round {r}/{cfg.max_rounds}: {k}/{g} fooled")
    r = generator.generator_attack(logits_fn, variables, x, targets, keys, cfg, progress)
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


def _stats(success, l2, linf) -> dict:
    won = np.asarray(success, bool)
    return {"attacks": int(won.size), "successes": int(won.sum()), "success_rate": float(won.mean()),
            "success_ci": rate_interval(int(won.sum()), won.size),
            "median_l2": _median(l2[won]), "median_l2_ci": median_interval(l2[won]),
            "median_linf": _median(linf[won]), "median_linf_ci": median_interval(linf[won])}


def evaluate_many(att: dict, labels) -> dict:
    """``attack_pairs`` on many samples, summarised over the other-class pairs, overall and per
    target class, each with the 95 % intervals of its success rate and median distances."""
    other = att["targets"] != np.asarray(labels)[:, None]
    out = _stats(att["success"][other], att["l2"][other], att["linf"][other])
    out["median_rounds"] = _median(att["rounds"][other & att["success"]])
    out["per_target"] = {str(j): _stats(att["success"][:, j][other[:, j]], att["l2"][:, j][other[:, j]],
                                        att["linf"][:, j][other[:, j]])
                         for j in range(att["targets"].shape[1]) if other[:, j].any()}
    return out


def many_arrays(att: dict, sample_ids, labels) -> dict[str, np.ndarray]:
    """``attack_pairs``' generators as flat arrays for a ``.npz`` that another framework can check:
    images [G, H, W, C] float32, samples (test indices), labels, targets, success, probs [G, K]."""
    n, k = att["targets"].shape
    flat = lambda a: np.asarray(a).reshape(n * k, *np.shape(a)[2:])
    return {"images": flat(att["images"]).astype(np.float32), "samples": np.repeat(np.asarray(sample_ids), k),
            "labels": np.repeat(np.asarray(labels), k), "targets": flat(att["targets"]),
            "success": flat(att["success"]), "probs": flat(att["probs"]).astype(np.float32)}


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
