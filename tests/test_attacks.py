"""The generator attack (vmapped = alone = a plain reference loop), PGD against exact linear answers,
adversarial training and the sheet's grid of (sample, target) pairs (jexp.attacks)."""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jexp.attacks import generator, pairs, pgd
from jexp.nn import nets
from jexp.nn import train
from jexp.nn.nets import Dense, Flatten


TINY = nets.Sequential((28, 28, 1), (Flatten(), Dense(16, "relu"), Dense(10)))


def tiny_classifier(seed=0):
    params, state = nets.init(TINY, jax.random.key(seed))
    return nets.classifier(TINY, params, state)


def samples(n=3, seed=0):
    return jax.random.uniform(jax.random.key(seed), (n, 28, 28, 1))


CFG = replace(generator.SHEET, recon_steps=3, attack_steps=2, threshold=0.3, max_rounds=25)  # the sheet's reading


CFG_XENT = generator.AttackConfig(recon_steps=3, recon_lr=0.1, attack_steps=2, attack_lr=0.02, threshold=0.3,
                                  max_rounds=25, loss="xent", warm_steps=4, growth=1.3)
CFG_MARGIN = generator.AttackConfig(recon_steps=3, recon_lr=0.1, attack_steps=2, attack_lr=0.02, threshold=0.3,
                                    max_rounds=25, loss="margin", warm_steps=4, growth=1.2)
CFG_CW = generator.AttackConfig(recon_steps=1, recon_lr=0.1, attack_steps=3, attack_lr=0.05, threshold=0.3,
                                max_rounds=25, loss="cw", warm_steps=4, growth=1.5, attack_weight=0.01)


def reference_attack(f, v, x, target, key, cfg):
    """The sheet's loop for one generator, written plainly: no vmap, no while_loop, no masks; the
    warm start, the loss of phase (b) and its growing step as the config says."""
    params = generator.init_generator(key, x.shape)
    tx_a, tx_b = optax.adam(cfg.recon_lr), optax.adam(cfg.attack_lr)
    opt_a, opt_b = tx_a.init(params), tx_b.init(params)
    image = lambda p: generator.generate(p, x.shape)
    recon = lambda p: jnp.mean((image(p) - x) ** 2)

    def attack(p, c):
        z = f(v, image(p)[None])[0]
        if cfg.loss == "mse":
            return jnp.mean((jax.nn.softmax(z) - jax.nn.one_hot(target, 10)) ** 2)
        if cfg.loss == "xent":
            return -jax.nn.log_softmax(z)[target]
        rest = jnp.concatenate([z[:target], z[target + 1:]])
        margin = jnp.maximum(jax.nn.logsumexp(rest) - z[target] + np.log(cfg.threshold / (1 - cfg.threshold)), 0.0)
        return recon(p) + c * margin if cfg.loss == "cw" else margin
    for _ in range(cfg.warm_steps):
        u, opt_a = tx_a.update(jax.grad(recon)(params), opt_a, params)
        params = optax.apply_updates(params, u)
    scale = 1.0
    for r in range(1, cfg.max_rounds + 1):
        for _ in range(cfg.recon_steps):
            u, opt_a = tx_a.update(jax.grad(recon)(params), opt_a, params)
            params = optax.apply_updates(params, u)
        for _ in range(cfg.attack_steps):  # cw: the growth raises c; the others: the step
            u, opt_b = tx_b.update(jax.grad(attack)(params, cfg.attack_weight * scale), opt_b, params)
            params = optax.apply_updates(params, jax.tree.map(lambda a: (1.0 if cfg.loss == "cw" else scale) * a, u))
        p = jax.nn.softmax(f(v, image(params)[None]))[0, target]
        if p >= cfg.threshold:
            return image(params), True, r
        scale *= cfg.growth
    return image(params), False, cfg.max_rounds


def test_generator_is_a_pure_function_of_its_key_with_pixels_in_0_1():
    a = generator.generate(generator.init_generator(jax.random.key(3), (28, 28, 1)), (28, 28, 1))
    b = generator.generate(generator.init_generator(jax.random.key(3), (28, 28, 1)), (28, 28, 1))
    c = generator.generate(generator.init_generator(jax.random.key(4), (28, 28, 1)), (28, 28, 1))
    assert a.shape == (28, 28, 1) and bool(jnp.all((a > 0) & (a < 1)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("cfg", [CFG, CFG_XENT, CFG_MARGIN, CFG_CW], ids=["mse", "xent", "margin", "cw"])
def test_vmapped_generators_equal_each_generator_alone_and_the_reference_loop(cfg):
    f, v = tiny_classifier()
    x = samples(3)
    att = pairs.attack_pairs(f, v, x, jax.random.key(7), cfg)
    if cfg is CFG:
        assert att["success"].any() and not att["success"].all()  # some stop early, some run on: masks matter
        assert len(set(att["rounds"].ravel().tolist())) > 2
    else:  # the growing step matters: generators stop in different rounds
        assert att["success"].any() and len(set(att["rounds"].ravel().tolist())) > 1
    for i, j in [(0, 0), (1, 4), (2, 9), (2, 3)]:
        key = jax.random.fold_in(jax.random.key(7), i * 10 + j)
        alone = generator.generator_attack(f, v, x[i:i + 1], jnp.array([j]), key[None], cfg)
        assert bool(alone.success[0]) == att["success"][i, j] and int(alone.rounds[0]) == att["rounds"][i, j]
        np.testing.assert_allclose(alone.images[0], att["images"][i, j], atol=2e-6)
        ref_image, ref_ok, ref_rounds = reference_attack(f, v, x[i], j, key, cfg)
        assert (ref_ok, ref_rounds) == (bool(att["success"][i, j]), int(att["rounds"][i, j]))
        np.testing.assert_allclose(ref_image, att["images"][i, j], atol=2e-5)


def test_the_attack_losses_and_their_settings_are_checked():
    for bad in (dict(loss="hinge"), dict(threshold=1.0), dict(growth=0.5), dict(warm_steps=-1), dict(max_rounds=0)):
        with pytest.raises(ValueError):
            generator.AttackConfig(**bad)
    z = jnp.array([2.0, 0.0, -1.0])
    f = lambda v, x: jnp.broadcast_to(z, (x.shape[0], 3))  # C ignores the image
    image = jnp.zeros((2, 2, 1))
    loss = lambda name, t, th=0.9: float(generator.attack_loss(f, None, generator.AttackConfig(loss=name, threshold=th),
                                                               image, t))
    assert np.isclose(loss("xent", 1), -float(jax.nn.log_softmax(z)[1]))
    assert np.isclose(loss("margin", 1), np.log(np.exp(2.0) + np.exp(-1.0)) - 0.0 + np.log(9.0))
    # C gives class 0 a probability of 0.84: the margin is 0 at a threshold of 0.5, and positive at 0.9
    assert loss("margin", 0, th=0.5) == 0.0
    assert np.isclose(loss("margin", 0, th=0.9), np.log(1 + np.exp(-1.0)) - 2.0 + np.log(9.0)) and loss("margin", 0) > 0
    # cw: the distance to the sample plus c times the margin
    x = jnp.full((2, 2, 1), 0.5)
    cw = float(generator.attack_loss(f, None, generator.AttackConfig(), image, 1, x, 0.3))
    assert np.isclose(cw, 0.25 + 0.3 * loss("margin", 1))
    with pytest.raises(ValueError):
        generator.AttackConfig(attack_weight=0.0)


def test_trace_stops_when_a_generator_is_done():
    f, v = tiny_classifier()
    att = pairs.attack_pairs(f, v, samples(2), jax.random.key(1), CFG)
    for i in range(2):
        for j in range(10):
            t = att["trace"][:, i, j]
            r = att["rounds"][i, j]
            assert np.isfinite(t[:r]).all() and np.isnan(t[r:]).all()
            assert (t[r - 1] >= CFG.threshold) == att["success"][i, j]


def test_summary_and_records_count_what_they_say():
    f, v = tiny_classifier()
    x = samples(2)
    labels = np.array([3, 5])
    att = pairs.attack_pairs(f, v, x, jax.random.key(1), CFG)
    s = pairs.summarize(att, labels)
    other = np.ones((2, 10), bool)
    other[0, 3] = other[1, 5] = False
    assert s["attacks"] == 18 and s["success_rate"] == pytest.approx(att["success"][other].mean())
    ok = att["success"] & other
    if ok.any():
        assert s["median_l2"] == pytest.approx(np.median(att["l2"][ok]))
    rows = pairs.pair_records(att, labels, [11, 22])
    assert len(rows) == 20 and rows[13] == {**rows[13], "sample": 22, "label": 5, "target": 3}
    many = pairs.evaluate_many(att, labels)
    assert many["attacks"] == 18 and many["successes"] == int(ok.sum()) and set(many["per_target"]) == set(map(str, range(10)))
    assert many["per_target"]["3"]["attacks"] == 1 and many["per_target"]["4"]["attacks"] == 2
    saved = pairs.many_arrays(att, [11, 22], labels)
    assert saved["images"].shape == (20, 28, 28, 1) and saved["images"].dtype == np.float32
    assert saved["samples"][13] == 22 and saved["labels"][13] == 5 and saved["targets"][13] == 3
    np.testing.assert_array_equal(saved["images"][13], att["images"][1, 3])
    assert saved["success"][13] == att["success"][1, 3]


def test_the_intervals_have_their_coverage_and_known_values():
    # Wilson's interval: 0 of 10 → [0, 0.2775]; 45 of 45 → [0.9213, 1]
    assert pairs.rate_interval(0, 10) == pytest.approx((0.0, 0.27754), abs=1e-5)
    assert pairs.rate_interval(45, 45) == pytest.approx((0.92135, 1.0), abs=1e-5)
    assert all(pairs.rate_interval(n, n)[1] == 1.0 and pairs.rate_interval(0, n)[0] == 0.0 for n in range(1, 500))
    lo, hi = pairs.rate_interval(50, 100)
    assert lo == pytest.approx(1 - hi) and lo == pytest.approx(0.40383, abs=1e-5)
    # the median's: n = 6 takes the extremes (P = 1 − 2/64 ≥ 95 %), n = 5 has none; n = 20: x_(6), x_(15)
    assert pairs.median_interval(np.arange(6.0)) == (0.0, 5.0) and pairs.median_interval(np.arange(5.0)) is None
    assert pairs.median_interval(np.arange(20.0)) == (5.0, 14.0)
    assert pairs.median_interval([np.nan] * 10) is None
    rng = np.random.default_rng(0)
    for n in (9, 90):  # it covers the true median (0) of a normal in at least 95 % of draws, and not far above
        hits = np.mean([lo <= 0 <= hi for lo, hi in (pairs.median_interval(rng.normal(size=n)) for _ in range(2000))])
        assert 0.94 <= hits <= 0.99, (n, hits)


def test_pick_many_takes_examples_every_model_gets_right_in_the_keys_order():
    labels = np.arange(40) % 10
    probs = np.tile(np.eye(10)[labels], (2, 1, 1))
    probs[1, :5] = np.eye(10)[(labels[:5] + 1) % 10]  # model 1 gets the first five wrong
    ids = pairs.pick_many(jax.random.key(0), probs, labels, 30)
    assert len(set(ids.tolist())) == 30 and ids.min() >= 5
    np.testing.assert_array_equal(ids, pairs.pick_many(jax.random.key(0), probs, labels, 30))
    with pytest.raises(ValueError, match="only 35"):
        pairs.pick_many(jax.random.key(0), probs, labels, 36)


def linear_problem():
    """Two-class linear logits z = W x: the smallest L∞ change that flips x is margin / ‖w1 − w0‖₁."""
    w = jax.random.normal(jax.random.key(0), (784, 2))
    f = lambda v, x: x.reshape(x.shape[0], -1) @ v
    x = jnp.full((1, 28, 28, 1), 0.5)  # far from the [0, 1] box edges for small budgets
    z = f(w, x)[0]
    label = int(jnp.argmax(z))
    eps_star = float(jnp.abs(z[0] - z[1]) / jnp.abs(w[:, 1] - w[:, 0]).sum())
    return f, w, x, label, eps_star


@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_flips_a_linear_model_exactly_above_the_analytic_budget(targeted):
    f, w, x, label, eps_star = linear_problem()
    assert eps_star < 0.5
    labels = jnp.array([1 - label if targeted else label])
    for scale, expect in ((0.9, False), (1.1, True)):
        xa, ok = pgd.linf_pgd(f, w, x, labels, jax.random.key(0), eps_star * scale, steps=20, targeted=targeted)
        assert bool(ok[0]) == expect
        assert float(jnp.abs(xa - x).max()) <= eps_star * scale + 1e-6
        assert float(xa.min()) >= 0 and float(xa.max()) <= 1


def test_pick_samples_distinct_confident_classes():
    probs = np.full((1, 40, 10), 0.0)
    labels = np.arange(40) % 10
    probs[0, np.arange(40), labels] = 1.0
    probs[0, :10] = 0.1  # the first ten are not confident
    ids = pairs.pick_samples(jax.random.key(0), probs, labels, 5, 0.9)
    assert len(set(labels[ids])) == 5 and ids.min() >= 10
    with pytest.raises(ValueError):
        pairs.pick_samples(jax.random.key(0), probs, labels, 11, 0.9)


def test_adversarial_training_uses_the_adversary(fake_data_dir):
    from jexp.data import mnist
    ds = mnist.load("mnist")
    d = train.make_data(ds.train, ds.test, jax.random.key(0), split="test")
    calls = []

    def adversary(input_grad, key, x, step):
        calls.append(x.shape)
        g = input_grad(x)
        assert g.shape == x.shape
        return jnp.clip(x + 0.3 * jnp.sign(g), 0, 1)

    _, _, clean = train.fit_net(TINY, d, 1, batch_size=32)
    _, _, robust = train.fit_net(TINY, d, 1, batch_size=32, adversary=adversary)
    assert calls and robust["train_loss"][-1] > clean["train_loss"][-1]
    _, _, fgsm = train.fit_net(TINY, d, 1, batch_size=32, adversary=pgd.fgsm_rs(0.3))
    assert np.isfinite(fgsm["train_loss"][-1])


def test_linf_training_warms_the_budget_up_and_defaults_its_step():
    x = jnp.full((64, 4), 0.5)
    grad = lambda xa: jnp.ones_like(xa)  # every step pushes every pixel up
    key = jax.random.key(3)
    adversary = pgd.linf_training(0.2, steps=4, warmup=10)
    for step, eps in ((0, 0.02), (4, 0.1), (9, 0.2), (500, 0.2)):
        xa = adversary(grad, key, x, jnp.int32(step))
        # four steps of 2.5·eps/4 from anywhere in the ball end on its upper face
        np.testing.assert_allclose(np.asarray(xa), 0.5 + eps, rtol=0, atol=1e-6)
    same = pgd.linf_steps(grad, key, x, 0.1, 0.125 * 0.5, 4)
    assert jnp.array_equal(adversary(grad, key, x, jnp.int32(4)), same)  # the step shrinks with the budget
    fgsm = pgd.fgsm_rs(0.2)  # no warm-up: the same at every step; one step of 1.25·eps
    assert jnp.array_equal(fgsm(grad, key, x, jnp.int32(0)), pgd.linf_steps(grad, key, x, 0.2, 0.25, 1))
    assert jnp.array_equal(fgsm(grad, key, x, jnp.int32(0)), fgsm(grad, key, x, jnp.int32(99)))


def test_the_adversary_sees_the_global_step(fake_data_dir):
    """A warm-up over more steps than the training has keeps every example closer than eps."""
    from jexp.data import mnist
    ds = mnist.load("mnist")
    d = train.make_data(ds.train, ds.test, jax.random.key(0), split="test")
    per_epoch = len(ds.train.y) // 32
    seen = []

    def recorder(input_grad, key, x, step):  # the adversary runs traced: record through a callback
        jax.debug.callback(lambda s: seen.append(int(s)), step, ordered=True)
        return x
    train.fit_net(TINY, d, 2, batch_size=32, adversary=recorder)
    assert seen == list(range(2 * per_epoch))


def test_a_generator_stops_just_past_a_known_boundary():
    """C is linear with two classes: p(1) ≥ 0.9 exactly where w·x + b ≥ log 9, so the smallest L2
    change of the sample is (log 9 − margin)/‖w‖₂ and the smallest L∞ change (log 9 − margin)/‖w‖₁.
    With the margin or the cross-entropy alone, Adam moves every pixel by about the same step (the sign
    of its gradient), so the generator's change approaches the L∞ minimum; its L2 is then about
    √(π/2) ≈ 1.25 times the L2 minimum for a random w. With a small attack step that grows each round
    without success, the generator stops within 1.2× the L∞ minimum and 1.5× the L2 minimum; with a
    large fixed step it overshoots (more than 1.5× the L∞ minimum). With cw the change approaches the
    L2 minimum (within 1.1×), not the L∞ one."""
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, 16).astype(np.float32)
    w *= 6.0 / np.linalg.norm(w)  # the minimal change moves no pixel out of [0, 1]
    x0 = np.full((4, 4, 1), 0.5, np.float32)
    b = -1.0 - float(w @ x0.ravel())  # C's logit of class 1 at the sample: −1 (class 0 wins)
    f = lambda v, x: jnp.stack([jnp.zeros(x.shape[0]), x.reshape(x.shape[0], -1) @ v[0] + v[1]], -1)
    v = (jnp.asarray(w), jnp.float32(b))
    gap = np.log(0.9 / 0.1) + 1.0
    l2_min, linf_min = gap / np.linalg.norm(w), gap / np.abs(w).sum()

    def attack(**kw):
        cfg = generator.AttackConfig(**{**dict(recon_steps=20, recon_lr=0.1, attack_steps=10, threshold=0.9, warm_steps=200,
                                               growth=1.0), **kw})
        r = generator.generator_attack(f, v, jnp.asarray(x0)[None], jnp.array([1]), jax.random.key(0)[None], cfg)
        d = pairs.distances(r.images, x0[None])
        return bool(r.success[0]), d["l2"][0] / l2_min, d["linf"][0] / linf_min
    for loss in ("xent", "margin"):
        ok, l2, linf = attack(loss=loss, attack_lr=0.02, growth=1.2)
        assert ok and 1.0 <= linf <= 1.2 and 1.0 <= l2 <= 1.5, (loss, l2, linf)
        ok, _, coarse = attack(loss=loss, attack_lr=0.1)
        assert ok and coarse > 1.5 > linf, (loss, coarse)
    # the suite's default, Carlini & Wagner's penalised distance with a growing c, stops near the L2
    # minimum itself (the nearest point of the boundary), from a small c or a large one
    for c in (1e-4, 1e-2):
        ok, l2, linf = attack(loss="cw", recon_steps=1, attack_steps=20, attack_lr=0.02, attack_weight=c, growth=1.1)
        assert ok and 1.0 <= l2 <= 1.1 and linf > 1.2, (c, l2, linf)


SHARDED = """
import jax, numpy as np
from test_attacks import CFG_CW, samples, tiny_classifier
from jexp.attacks import generator
assert jax.device_count() == 4
f, v = tiny_classifier()
r = generator.generator_attack(f, v, np.repeat(samples(3), 2, 0), np.array([1, 2, 3, 4, 5, 6]),
                               jax.random.split(jax.random.key(5), 6), CFG_CW)
np.savez("{out}", images=r.images, rounds=r.rounds, success=r.success)
"""


def test_the_generators_split_over_several_devices_give_the_same_attack(tmp_path):
    """Six generators over four (simulated) devices: padded to eight, split two per device; every
    generator ends where it ends on one device."""
    import os
    import subprocess
    import sys
    out = tmp_path / "sharded.npz"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", SHARDED.format(out=out)], check=True, env=env, cwd=os.path.dirname(__file__))
    f, v = tiny_classifier()
    r = generator.generator_attack(f, v, np.repeat(samples(3), 2, 0), np.array([1, 2, 3, 4, 5, 6]),
                                   jax.random.split(jax.random.key(5), 6), CFG_CW)
    got = np.load(out)
    np.testing.assert_array_equal(got["rounds"], r.rounds)
    np.testing.assert_array_equal(got["success"], r.success)
    np.testing.assert_allclose(got["images"], r.images, atol=1e-5)
    assert generator._bucket(6, 6, 4) == 8 and generator._bucket(3, 40, 4) == 8 and generator._bucket(9, 40, 4) == 16
