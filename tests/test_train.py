"""The training core: one step, fit, per-run hyper-parameters, resume, sharding, fit_net's epoch
selection and early stopping (jexp.nn.train)."""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import synthetic_images
from jexp.data import datasets, mnist
from jexp.nn import augment, grid, mlp, nets, train
from jexp.nn.nets import Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D


@pytest.fixture(scope="module")
def fake():
    x, y = synthetic_images(256, 0)
    xt, yt = synthetic_images(64, 1)
    tr, te = (datasets.Split(datasets.to_float(a), b.astype(np.int32)) for a, b in ((x, y), (xt, yt)))
    return train.make_data(tr, te, jax.random.key(0), probe_size=32, split="test")


def trainer_and_init(depth=2, activation=("tanh", "relu"), lr=0.05, **kw):
    model = mlp.MLP(depth=depth, width=16, activation=activation)
    tr = train.Trainer(model.apply, train.optimizer("sgd", learning_rate=lr), batch_size=16, **kw)
    return tr, (lambda k: mlp.init_params(model, k, (28, 28, 1)))


def test_one_step_on_fake_data_lowers_the_loss(fake):
    tr, init = trainer_and_init(activation="tanh")
    state = tr.init(init, 0)
    x, y = fake.train_x[:16], fake.train_y[:16]
    before = tr.loss(state.params, x, y, 0)[0]
    params, _, _, loss, acc = jax.jit(tr.step)(state.params, state.opt_state, x, y, 0)
    assert np.isclose(loss, before) and tr.loss(params, x, y, 0)[0] < before
    assert 0 <= acc <= 1


def test_fit_learns_records_history_and_is_bitwise_reproducible(fake):
    tr, init = trainer_and_init()
    go = lambda: train.fit(tr, train.init_runs(tr, init, [0, 1, 0, 1], [0, 0, 1, 1]), fake, 3)
    (s1, h1), (s2, h2) = go(), go()
    assert h1["test_acc"].shape == (4, 4) and h1["grad_kernel"].shape == (4, 4, 3)
    assert np.all(np.isnan(h1["train_loss"][:, 0])) and np.all(np.isfinite(h1["train_loss"][:, 1:]))
    assert np.all(h1["test_acc"][:, -1] > 0.5)  # the fake digits are easy
    for k in h1:
        np.testing.assert_array_equal(h1[k], h2[k])
    for a, b in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s2.params)):
        np.testing.assert_array_equal(a, b)


def test_per_run_learning_rates_and_divergence_is_marked_not_fatal(fake):
    tr, init = trainer_and_init(activation="relu")
    state = train.init_runs(tr, init, [0, 0, 0], hparams={"learning_rate": [0.0, 0.05, 1e9]})
    out, hist = train.fit(tr, state, fake, 2)
    p0 = jax.tree.map(lambda a: a[0], out.params)
    first = jax.tree.map(lambda a: a[0], train.init_runs(tr, init, [0]).params)
    for a, b in zip(jax.tree.leaves(p0), jax.tree.leaves(first)):
        np.testing.assert_array_equal(a, b)  # lr 0: unchanged
    assert hist["diverged"][:, -1].tolist() == [False, False, True]
    assert hist["test_acc"][1, -1] > 0.5


def test_resume_after_a_kill_is_bitwise_identical(fake, tmp_path, caplog):
    tr, init = trainer_and_init()
    fresh = lambda: train.init_runs(tr, init, [0, 1], [0, 1])
    want_state, want_hist = train.fit(tr, fresh(), fake, 3)

    class Killed(Exception):
        pass

    def kill_after_two(epoch, _):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        train.fit(tr, fresh(), fake, 3, ckpt_dir=tmp_path / "ck", on_epoch=kill_after_two)
    seen = []
    with caplog.at_level("WARNING"):
        state, hist = train.fit(tr, fresh(), fake, 3, ckpt_dir=tmp_path / "ck", on_epoch=lambda e, m: seen.append(e))
    assert seen == [3]  # epochs 1-2 came from the checkpoint
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # no orbax "could not be restored"
    for a, b in zip(jax.tree.leaves(want_state), jax.tree.leaves(state)):
        a, b = (jax.random.key_data(t) if jax.dtypes.issubdtype(t.dtype, jax.dtypes.prng_key) else t for t in (a, b))
        np.testing.assert_array_equal(a, b)
    for k in want_hist:
        np.testing.assert_array_equal(want_hist[k], hist[k])


SHARDED = """
import jax, numpy as np
from jexp.data import datasets, mnist
from jexp.nn import grid, train
from conftest import synthetic_images
assert jax.device_count() == 4
x, y = synthetic_images(128, 0); xt, yt = synthetic_images(32, 1)
d = train.make_data(datasets.Split(datasets.to_float(x), y.astype(np.int32)), datasets.Split(datasets.to_float(xt), yt.astype(np.int32)),
                    jax.random.key(0), 16, split="test")
state, _ = train.shard_runs(jax.numpy.zeros((3, 2)), 3)
assert state.shape == (4, 2) and len(state.sharding.device_set) == 4
runs = grid.mlp_grid(d, depths=(2,), activations=("tanh", "relu", "sigmoid"), seeds=(0,), epochs=2, width=8, batch_size=16)
np.save("{out}", np.array([r.history["test_loss"] for r in runs]))
"""


def test_runs_shard_over_several_devices(tmp_path, fake):
    out = tmp_path / "sharded.npy"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", SHARDED.format(out=out)], check=True, env=env,
                   cwd=os.path.dirname(__file__))
    x, y = synthetic_images(128, 0)
    xt, yt = synthetic_images(32, 1)
    d = train.make_data(datasets.Split(datasets.to_float(x), y.astype(np.int32)),
                        datasets.Split(datasets.to_float(xt), yt.astype(np.int32)), jax.random.key(0), 16, split="test")
    runs = grid.mlp_grid(d, depths=(2,), activations=("tanh", "relu", "sigmoid"), seeds=(0,), epochs=2,
                         width=8, batch_size=16)
    np.testing.assert_allclose(np.load(out), np.array([r.history["test_loss"] for r in runs]), rtol=1e-4)


def test_fit_net_keep_best_returns_the_best_scoring_epoch(fake_data_dir):
    from jexp.nn import nets
    from jexp.nn.nets import Dense, Flatten
    ds = mnist.load("mnist")
    d = train.make_data(ds.train, ds.test, jax.random.key(0), split="test")
    net = nets.Sequential((28, 28, 1), (Flatten(), Dense(10)))
    seen = []

    def score(params, state):  # epoch 2 of 3 scores best
        seen.append(params)
        return [0.1, 0.9, 0.5][len(seen) - 1]
    params, _, hist = train.fit_net(net, d, 3, batch_size=32, keep_best=score)
    assert int(hist["selected_epoch"]) == 2 and np.isnan(hist["select_score"][0])
    np.testing.assert_allclose(hist["select_score"][1:], [0.1, 0.9, 0.5])
    for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(seen[1])):
        np.testing.assert_array_equal(got, want)
    last = jax.tree.leaves(seen[2])
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params), last))
    _, _, ties = train.fit_net(net, d, 3, batch_size=32, keep_best=lambda p, s: 1.0)
    assert int(ties["selected_epoch"]) == 3  # ties: the later epoch


def test_fit_net_keep_best_survives_an_interruption(fake_data_dir, tmp_path):
    """Killed after epoch 2 (its score is the best), resumed: the best epoch is still returned,
    bitwise the weights an uninterrupted fit returns, and every score is kept."""
    from jexp.nn import nets
    from jexp.nn.nets import Dense, Flatten
    ds = mnist.load("mnist")
    d = train.make_data(ds.train, ds.test, jax.random.key(0), split="test")
    net = nets.Sequential((28, 28, 1), (Flatten(), Dense(10)))
    by_epoch = [0.1, 0.9, 0.5]

    def scorer(stop_at=None):
        seen = []

        def score(params, state):
            seen.append(params)
            if len(seen) == stop_at:
                raise KeyboardInterrupt
            return by_epoch[len(seen) - 1]
        return score
    want, _, _ = train.fit_net(net, d, 3, batch_size=32, keep_best=scorer())
    ckpt = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        train.fit_net(net, d, 3, batch_size=32, keep_best=scorer(stop_at=3), ckpt_dir=ckpt)
    resumed_scores = []
    got, _, hist = train.fit_net(net, d, 3, batch_size=32, ckpt_dir=ckpt,
                                 keep_best=lambda p, s: resumed_scores.append(1) or by_epoch[2])
    assert len(resumed_scores) == 1  # only epoch 3 was trained (and scored) again
    assert int(hist["selected_epoch"]) == 2
    np.testing.assert_allclose(hist["select_score"][1:], by_epoch)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_array_equal(a, b)


def test_fit_net_stops_after_patience_epochs_without_a_better_score(fake_data_dir, tmp_path):
    """Scores 0.1, 0.9, 0.5, 0.6, … with patience 2: epochs 3 and 4 bring nothing better, so training
    stops after epoch 4 (not 6) and returns epoch 2's weights; resumed from epoch 4's checkpoint,
    it trains nothing more."""
    from jexp.nn import nets
    from jexp.nn.nets import Dense, Flatten
    ds = mnist.load("mnist")
    d = train.make_data(ds.train, ds.test, jax.random.key(0), split="test")
    net = nets.Sequential((28, 28, 1), (Flatten(), Dense(10)))
    by_epoch = [0.1, 0.9, 0.5, 0.6, 0.95, 0.99]
    seen = []

    def score(params, state):
        seen.append(params)
        return by_epoch[len(seen) - 1]
    params, _, hist = train.fit_net(net, d, 6, batch_size=32, keep_best=score, patience=2, ckpt_dir=tmp_path / "c")
    assert len(seen) == 4 and len(hist["test_acc"]) == 5 and int(hist["selected_epoch"]) == 2
    np.testing.assert_allclose(hist["select_score"][1:], by_epoch[:4])
    for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(seen[1])):
        np.testing.assert_array_equal(got, want)
    again, _, hist2 = train.fit_net(net, d, 6, batch_size=32, keep_best=score, patience=2, ckpt_dir=tmp_path / "c")
    assert len(seen) == 4 and len(hist2["test_acc"]) == 5  # resumed: already stopped, nothing trained
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)
    _, _, full = train.fit_net(net, d, 3, batch_size=32, keep_best=lambda p, s: 1.0, patience=2)
    assert len(full["test_acc"]) == 4  # every epoch ties the best (the later wins): no stop


def test_fit_net_learns_a_tiny_cnn_with_augmentation_bitwise_reproducibly(fake_data_dir, tmp_path):
    from jexp.data import mnist
    ds = mnist.load("mnist", fake_data_dir)
    d = train.make_data(ds.train, ds.test, jax.random.key(0), 16, split="test")
    net = nets.Sequential((28, 28, 1), (Conv2D(4, 3, strides=2), BatchNorm(), Activation("relu"), MaxPool2D(),
                                        Flatten(), Dropout(0.1), Dense(10)))
    aug = augment.Augment(rotate_deg=5, lowres_sizes=(14,), elastic_prob=0.0)
    go = lambda ckpt=None, progress=None: train.fit_net(net, d, 3, batch_size=32, lr=1e-2, augment=aug,
                                                        ckpt_dir=ckpt, progress=progress)
    params, state, hist = go()
    assert hist["test_acc"][-1] > 0.5 and hist["test_acc"][-1] > hist["test_acc"][0]
    assert state["batch_stats"]["batch_normalization"]["var"].shape == (4,)

    class StopAfter2:  # interrupts the run after the epoch-2 checkpoint
        n = 0

        def update(self, k=1):
            self.n += k
            if self.n == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        go(str(tmp_path / "ck"), StopAfter2())
    params3, state3, hist3 = go(str(tmp_path / "ck"))  # resumed from epoch 2: the same bits
    for a, b in zip(jax.tree.leaves((params, state)), jax.tree.leaves((params3, state3))):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(hist["test_acc"], hist3["test_acc"])


def test_an_epoch_is_never_chosen_on_a_test_split_by_name(fake_data_dir):
    """The evaluated split names the epoch metrics; choosing the epoch by a metric of a test split
    is refused, by a validation split's it is what early stopping does."""
    from jexp.nn import nets
    from jexp.nn.nets import Dense, Flatten
    ds = mnist.load("mnist")
    net = nets.Sequential((28, 28, 1), (Flatten(), Dense(10)))
    on_test = train.make_data(ds.train, ds.test, jax.random.key(0), split="test")
    for metric in ("test_loss", "test_acc"):
        with pytest.raises(ValueError, match="test split"):
            train.fit_net(net, on_test, 1, batch_size=32, keep_best=metric)
    tr, val = datasets.split(jax.random.key(1), ds.train, 64)
    on_val = train.make_data(tr, val, jax.random.key(0), split="val")
    with pytest.raises(ValueError, match="not a metric of the evaluated split"):
        train.fit_net(net, on_val, 1, batch_size=32, keep_best="test_loss")
    _, _, hist = train.fit_net(net, on_val, 2, batch_size=32, keep_best="val_loss")
    assert "val_acc" in hist and "test_acc" not in hist
    assert int(hist["selected_epoch"]) == 1 + int(np.argmin(hist["val_loss"][1:]))


def test_smoothed_cross_entropy_and_balancing_weights_give_exact_values():
    logits = jnp.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    labels = jnp.array([0, 2])
    logp = jax.nn.log_softmax(logits)
    eps = 0.3
    want = -((1 - eps) * logp[jnp.arange(2), labels] + eps / 3 * logp.sum(-1))
    np.testing.assert_allclose(train.smoothed_cross_entropy(eps)(logits, None, labels), want, rtol=1e-6)
    np.testing.assert_allclose(train.smoothed_cross_entropy()(logits, None, labels), train.cross_entropy(logits, labels),
                               rtol=1e-6)
    y = np.array([0, 0, 0, 1])  # class 0 three times as common; class 2 absent
    np.testing.assert_allclose(train.balancing_weights(y, 3, 0.0), [1, 1, 0])
    w = train.balancing_weights(y, 3, 1.0)  # each present class weighs the same in total, mean weight 1
    np.testing.assert_allclose([3 * w[0], w[1], w[2]], [2, 2, 0])
    np.testing.assert_allclose(w[y].mean(), 1.0)
    weighted = train.smoothed_cross_entropy(0.0, w)(logits[:1].repeat(2, 0), None, jnp.array([0, 1]))
    np.testing.assert_allclose(weighted, train.cross_entropy(logits[:1].repeat(2, 0), jnp.array([0, 1])) * w[:2],
                               rtol=1e-6)
