"""Robust accuracy and the gradient-masking checks, on a linear model whose minimal L∞ attack is
known exactly; a gradient-masked copy of it must fail the checks; the robust experiments end to end."""

import jax
import jax.numpy as jnp

from jexp.attacks import pgd, robustness

from test_attacks import linear_problem


def batch_of(n=6):
    f, w, x, label, eps_star = linear_problem()
    return f, w, jnp.repeat(x, n, 0), jnp.full((n,), label), eps_star


def test_survivors_row_zero_is_clean_and_fgsm_is_exact_for_a_linear_model():
    f, w, xs, ys, eps_star = batch_of()
    s = pgd.pgd_survivors(f, w, xs, ys, jax.random.key(0), 1.1 * eps_star, steps=1)
    assert s.shape == (2, 6) and s[0].all() and not s[1].any()
    s = pgd.pgd_survivors(f, w, xs, ys, jax.random.key(0), 0.9 * eps_star, steps=10, restarts=3, batch=4)
    assert s.shape == (4, 6) and s.all()  # below the minimal budget nothing can flip it
    wrong = pgd.pgd_survivors(f, w, xs, 1 - ys, jax.random.key(0), 0.1, steps=5)
    assert not wrong.any()  # misclassified images are never counted as robust


def test_noise_and_transfer_below_the_minimal_budget_cannot_flip():
    f, w, xs, ys, eps_star = batch_of()
    assert robustness.noise_survivors(f, w, xs, ys, jax.random.key(1), 0.9 * eps_star).all()
    assert pgd.transfer_survivors((f, w), (f, w), xs, ys, jax.random.key(1), 0.9 * eps_star, steps=10).all()
    assert not pgd.transfer_survivors((f, w), (f, w), xs, ys, jax.random.key(1), 1.2 * eps_star, steps=10).any()


def test_checks_pass_for_the_real_model_and_catch_a_masked_gradient():
    f, w, xs, ys, eps_star = batch_of()
    masked = lambda v, x: f(v, jax.lax.stop_gradient(x))  # the same model, no gradient reaches the input
    kw = dict(steps=10, restarts=3, eps_grid=(0.5 * eps_star, 1.2 * eps_star, 2 * eps_star), transfer_from=(f, w))
    real = robustness.evaluate(f, w, xs, ys, jax.random.key(2), 1.2 * eps_star, **kw)
    assert real["pgd"] == 0.0 and real["curve"]["acc"] == [1.0, 0.0, 0.0] and real["clean"] == 1.0
    assert all(c["passed"] for c in robustness.masking_checks(real).values())
    fake = robustness.evaluate(masked, w, xs, ys, jax.random.key(2), 1.2 * eps_star, **kw)
    assert fake["pgd"] > 0.5 and fake["transfer"] == 0.0  # looks robust to PGD, but transferred examples break it
    failed = {k for k, c in robustness.masking_checks(fake).items() if not c["passed"]}
    assert failed >= {"white-box ≤ transfer", "a large ε breaks it"}


def test_masking_checks_exact_verdicts():
    ev = {"clean": 0.99, "pgd": 0.80, "fgsm": 0.85, "noise": 0.97, "transfer": 0.95,
          "pgd_after_restart": [0.84, 0.81, 0.80], "curve": {"eps": [0.1, 0.3, 0.5], "acc": [0.95, 0.80, 0.05]}}
    assert all(c["passed"] for c in robustness.masking_checks(ev).values())
    bad = {**ev, "fgsm": 0.70, "pgd_after_restart": [0.95, 0.88, 0.80], "curve": {"eps": [0.1, 0.3, 0.5],
                                                                                  "acc": [0.80, 0.85, 0.60]}}
    failed = {k for k, c in robustness.masking_checks(bad).items() if not c["passed"]}
    assert failed == {"iterative ≤ single step", "falls as ε grows", "a large ε breaks it", "restarts converged"}


