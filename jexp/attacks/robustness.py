"""How robust is a classifier, and is the robustness real? Accuracy under strong L∞ PGD with random
restarts, and the checks that tell true robustness from gradient masking (Athalye, Carlini & Wagner
2018; Carlini et al. 2019, "On evaluating adversarial robustness"):

- an iterative attack is at least as strong as a single step (PGD ≤ FGSM accuracy);
- a white-box attack is at least as strong as a transferred one (PGD ≤ accuracy on adversarial
  examples made on another model) and as random noise of the same budget;
- accuracy falls as the budget grows, and a large budget breaks the model;
- more restarts stop helping the attack (the estimate has converged).

A masked (obfuscated) gradient fails some of these: the gradient attack then does worse than
a weaker one, or cannot break the model even with a budget that allows any image.
"""
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jexp.attacks.pgd import pgd_survivors, transfer_survivors


def noise_survivors(logits_fn, variables, x, y, key, eps: float, *, draws: int = 10, batch: int = 250) -> np.ndarray:
    """Which examples survive all ``draws`` random corners of the L∞ ball (x ± eps per pixel)."""
    x, y = np.asarray(x), np.asarray(y)

    @jax.jit
    def survives_all(xb, yb, i):  # every draw of one batch in one program
        def draw(d, alive):
            k = jax.random.fold_in(jax.random.fold_in(key, d), i)
            xn = jnp.clip(xb + eps * jnp.sign(jax.random.uniform(k, xb.shape, minval=-1.0, maxval=1.0)), 0.0, 1.0)
            return alive & (logits_fn(variables, xn).argmax(-1) == yb)
        return jax.lax.fori_loop(0, draws, draw, jnp.ones(len(yb), bool))
    return np.concatenate([np.asarray(survives_all(x[i:i + batch], y[i:i + batch], i))
                           for i in range(0, len(x), batch)])


def evaluate(logits_fn, variables, x, y, key, eps: float, *, steps: int, restarts: int, eps_grid=(),
             curve_size: int | None = None, transfer_from: tuple[Callable, dict] | None = None,
             noise_draws: int = 10, batch: int = 250, progress=None) -> dict:
    """Every figure the checks need for one model on (x, y): clean, FGSM, random-noise and PGD
    (``steps`` × ``restarts``) accuracy at ``eps``; accuracy after each restart; PGD accuracy
    (one restart) at each budget of ``eps_grid`` on the first ``curve_size`` examples; and, with
    ``transfer_from`` (another model), accuracy on its PGD examples."""
    tick = (lambda what: progress.update(1, what)) if progress is not None else (lambda what: None)
    keys = jax.random.split(key, 5)
    surv = pgd_survivors(logits_fn, variables, x, y, keys[0], eps, steps=steps, restarts=restarts, batch=batch)
    tick("PGD")
    out = {"n": int(len(y)), "eps": float(eps), "steps": steps, "restarts": restarts,
           "clean": float(surv[0].mean()), "pgd": float(surv[-1].mean()),
           "pgd_after_restart": surv[1:].mean(1).tolist(),
           "fgsm": float(pgd_survivors(logits_fn, variables, x, y, keys[1], eps, steps=1, batch=batch)[-1].mean()),
           "noise": float(noise_survivors(logits_fn, variables, x, y, keys[2], eps, draws=noise_draws,
                                          batch=batch).mean())}
    tick("FGSM and noise")
    n = len(y) if curve_size is None else min(curve_size, len(y))
    curve = [float(pgd_survivors(logits_fn, variables, x[:n], y[:n], jax.random.fold_in(keys[3], e), float(ep),
                                 steps=steps, restarts=1, batch=batch)[-1].mean()) for e, ep in enumerate(eps_grid)]
    out["curve"] = {"n": int(n), "eps": [float(e) for e in eps_grid], "acc": curve}
    tick("budget curve")
    if transfer_from is not None:
        out["transfer"] = float(transfer_survivors(transfer_from, (logits_fn, variables), x, y, keys[4], eps,
                                                   steps=steps, batch=batch).mean())
        tick("transfer")
    return out


def masking_checks(ev: dict, *, tol: float = 0.01, broken_below: float = 0.1) -> dict[str, dict]:
    """The gradient-masking checks on one ``evaluate`` result: name → {passed, detail}. ``tol`` is
    the slack allowed for sampling noise (a fraction of the examples)."""
    pct = lambda a: f"{100 * a:.1f} %"
    tol += 1e-9  # a difference of exactly tol passes despite rounding
    checks = {
        "iterative ≤ single step": (ev["pgd"] <= ev["fgsm"] + tol, f"PGD {pct(ev['pgd'])} vs FGSM {pct(ev['fgsm'])}"),
        "gradient ≤ random noise": (ev["pgd"] <= ev["noise"] + tol, f"PGD {pct(ev['pgd'])} vs noise {pct(ev['noise'])}"),
    }
    if "transfer" in ev:
        checks["white-box ≤ transfer"] = (ev["pgd"] <= ev["transfer"] + tol,
                                          f"PGD {pct(ev['pgd'])} vs transferred {pct(ev['transfer'])}")
    acc = ev["curve"]["acc"]
    if len(acc) >= 2:
        checks["falls as ε grows"] = (bool(np.all(np.diff(acc) <= tol)),
                                      " → ".join(f"{e:.3g}: {pct(a)}" for e, a in zip(ev["curve"]["eps"], acc)))
        checks["a large ε breaks it"] = (acc[-1] <= broken_below,
                                         f"{pct(acc[-1])} at ε = {ev['curve']['eps'][-1]:.3g} (≤ {pct(broken_below)})")
    after = [ev["clean"]] + ev["pgd_after_restart"]
    if len(after) >= 3:
        checks["restarts converged"] = (after[-2] - after[-1] <= tol,
                                        f"last restart: {pct(after[-2])} → {pct(after[-1])}")
    return {k: {"passed": bool(ok), "detail": d} for k, (ok, d) in checks.items()}
