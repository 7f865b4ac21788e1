"""Benchmark: 1,000 MNIST generators (100 test digits × 10 targets) as one vmapped program, vs the same
jitted generator run one after another, vs the sheet's way (Keras `fit` calls per generator).

    python bench/adversarial.py [--model artifacts/digits/cnn.h5] [--rounds 20] [--generators 1000]
                                [--sequential-generators 50] [--keras-generators 2]

All three do the experiment's attack (its phases, warm start, loss and threshold), capped at
``--rounds`` rounds: each generator stops when it reaches its target, as in ``jexp run adversarial``
(a cap that no generator reaches cannot be set: the CNN gives some targets p ≥ 1 − 10⁻⁶ within 20
rounds). The vmapped run records every generator's rounds; the one-by-one jitted run is timed on
``--sequential-generators`` generators spread evenly over all (their mean rounds beside all's) and
scaled by the generator count; the Keras loop runs ``--keras-generators`` generators for the
rounds each took in the vmapped run, its warm start and its rounds timed apart, and is scaled to
all generators' warm starts and rounds (said in the output). Keras
runs only if it is installed (the test extra), with KERAS_BACKEND=jax, as the sheet's composite
model: the generator compiled with MSE for phase (a), generator → classifier compiled for phase (b)
with the loss of the attack (cw: MSE on the generator's image plus c times the margin on the
classifier's log-probabilities, as two weighted outputs; c stays at its first value, since growing it
would mean recompiling, which only adds to Keras's time). Compile time is included for jexp (one
program for all, one for a single generator, reused); the vmapped program is then timed once more,
compiled (``vmapped_warm_s``), as a notebook user who attacks again would see it.

A floor for any implementation: ``classifier_floor_s`` times the classifier's own work in the attack
alone, its forward pass and input gradient on all the images at once, (mean rounds) × attack steps
times in one compiled loop (the generators, Adam and the reconstruction phase left out). No program doing the
attack on this machine can be faster, so keras_s / classifier_floor_s bounds the speed-up over the
Keras loop that can be reached here. Writes artifacts/bench/adversarial.json with the machine.
"""
import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
from jexp.runtime.machine import cpu_name  # noqa: E402


def main() -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jexp.experiments.adversarial import Config
    from jexp.attacks import generator
    from jexp.data import mnist
    from jexp.io import keras_h5
    from jexp.nn import nets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="artifacts/digits/cnn.h5")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--generators", type=int, default=1000, help="a multiple of 10: test digits × 10 targets")
    ap.add_argument("--sequential-generators", type=int, default=50)
    ap.add_argument("--keras-generators", type=int, default=2)
    ap.add_argument("--data-dir", default=os.environ.get("JEXP_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default="artifacts/bench/adversarial.json")
    args = ap.parse_args()
    cfg = dataclasses.replace(generator.AttackConfig.of(Config()), max_rounds=args.rounds)
    f, v = nets.classifier(*keras_h5.load(args.model))
    ds = mnist.load("mnist", args.data_dir)
    g = args.generators
    x = jnp.repeat(jnp.asarray(ds.test.x[:g // 10]), 10, 0)
    t = jnp.tile(jnp.arange(10), g // 10)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(g))
    out = {"machine": f"{cpu_name()}, {os.cpu_count()} cores", "python": platform.python_version(), "jax": jax.__version__,
           "model": args.model, "rounds": args.rounds, "generators": g,
           "attack": {k: getattr(cfg, k) for k in ("loss", "warm_steps", "recon_steps", "attack_steps")}}

    t0 = time.perf_counter()
    r = generator.generator_attack(f, v, x, t, keys, cfg)
    r.images.block_until_ready()
    out["vmapped_s"] = time.perf_counter() - t0
    rounds = np.asarray(r.rounds)
    out.update(rounds_total=int(rounds.sum()), rounds_mean=float(rounds.mean()), succeeded=int(np.sum(r.success)))
    print(f"vmapped, {g} at once: {out['vmapped_s']:.1f} s", flush=True)
    t0 = time.perf_counter()
    generator.generator_attack(f, v, x, t, keys, cfg).images.block_until_ready()
    out["vmapped_warm_s"] = time.perf_counter() - t0
    print(f"vmapped again, compiled: {out['vmapped_warm_s']:.1f} s", flush=True)

    n_grads = max(1, round(rounds.mean() * cfg.attack_steps))
    loss = lambda z: jnp.sum((jax.nn.softmax(f(v, z)) - jax.nn.one_hot(t, 10)) ** 2)

    @jax.jit
    def classifier_work(x):  # each gradient feeds the next input, so no pass can be hoisted or skipped
        return jax.lax.fori_loop(0, n_grads, lambda _, z: z - 1e-3 * jax.grad(loss)(z), x)
    classifier_work(x).block_until_ready()  # compile
    t0 = time.perf_counter()
    classifier_work(x).block_until_ready()
    out["classifier_floor_s"] = time.perf_counter() - t0
    print(f"the classifier's work alone ({n_grads} forward + input-gradient passes on {g} images): "
          f"{out['classifier_floor_s']:.2f} s", flush=True)

    n = min(args.sequential_generators, g)
    some = np.linspace(0, g - 1, n).round().astype(int)
    t0 = time.perf_counter()
    for i in some:
        generator.generator_attack(f, v, x[i:i + 1], t[i:i + 1], keys[i:i + 1], cfg).images.block_until_ready()
    out.update(sequential_generators_timed=n, sequential_rounds_mean=float(rounds[some].mean()),
               sequential_s=(time.perf_counter() - t0) * g / n)
    print(f"jitted, one after another: {out['sequential_s']:.1f} s for {g} (timed on {n}, mean rounds "
          f"{rounds[some].mean():.1f} vs {rounds.mean():.1f} for all; scaled)", flush=True)

    try:
        import keras
    except Exception as e:  # not installed: say so, keep the other figures
        out["keras"] = f"skipped: keras not importable ({type(e).__name__})"
        print(out["keras"])
    else:
        n = args.keras_generators
        warm, per_round = keras_loop(keras, args.model, np.asarray(x[:n]), np.asarray(t[:n]), cfg, rounds[:n])
        out.update(keras=keras.__version__ + " (" + keras.backend.backend() + ")", keras_generators_timed=n,
                   keras_warm_s_per_generator=warm, keras_s_per_round=per_round,
                   keras_s=warm * g + per_round * rounds.sum())
        print(f"Keras fit loop: warm start {warm:.1f} s per generator, {per_round:.2f} s per round: "
              f"{out['keras_s']:.0f} s for {g} generators and {rounds.sum()} rounds (timed on {n}, scaled)")
        out["speedup_vs_keras"] = out["keras_s"] / out["vmapped_s"]
        out["speedup_vs_keras_warm"] = out["keras_s"] / out["vmapped_warm_s"]
        out["speedup_bound_vs_keras"] = out["keras_s"] / out["classifier_floor_s"]
    out["speedup_vs_sequential"] = out["sequential_s"] / out["vmapped_s"]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


def keras_loop(keras, model: str, x, targets, cfg, rounds) -> tuple[float, float]:
    """The sheet's Keras loop on each of the generators (x[i], targets[i]) for ``rounds[i]`` rounds, one
    after another: (seconds per warm start, model building included; seconds per round)."""
    import numpy as np
    from keras import ops
    clf = keras.models.load_model(model, compile=False)
    clf.trainable = False
    one = np.ones((1, 1), np.float32)
    kappa = float(np.log(cfg.threshold / (1 - cfg.threshold)))

    def margin(onehot, probs):  # Carlini & Wagner's margin on the log-probabilities (= on the logits)
        logp = ops.log(probs + 1e-12)
        others = ops.logsumexp(ops.where(onehot > 0, -1e9, logp), axis=-1)
        return ops.relu(others - ops.sum(onehot * logp, -1) + kappa)
    warm = per_round = 0.0
    for i in range(len(x)):
        t0 = time.perf_counter()
        gen = keras.Sequential([keras.Input((1,)), keras.layers.Dense(784, activation="sigmoid"),
                                keras.layers.Reshape((28, 28, 1))], name=f"generator_{i}")
        gen.compile(keras.optimizers.Adam(cfg.recon_lr), "mse")
        inp = keras.Input((1,))
        image = gen(inp)
        both = keras.Model(inp, [image, clf(keras.layers.Reshape(clf.input_shape[1:])(image))], name=f"attack_{i}")
        target = np.eye(10, dtype=np.float32)[int(targets[i])][None]
        if cfg.loss == "cw":
            both.compile(keras.optimizers.Adam(cfg.attack_lr), ["mse", margin], loss_weights=[1.0, cfg.attack_weight])
        else:
            both.compile(keras.optimizers.Adam(cfg.attack_lr), [None, "mse"])
        gen.fit(one, x[i:i + 1], epochs=cfg.warm_steps, verbose=0) if cfg.warm_steps else None
        t1 = time.perf_counter()
        for _ in range(int(rounds[i])):
            gen.fit(one, x[i:i + 1], epochs=cfg.recon_steps, verbose=0)
            both.fit(one, [x[i:i + 1], target], epochs=cfg.attack_steps, verbose=0)
            both.predict(one, verbose=0)
        warm, per_round = warm + t1 - t0, per_round + time.perf_counter() - t1
    return warm / len(x), per_round / max(1, int(np.sum(rounds[:len(x)])))


if __name__ == "__main__":
    main()
