"""Profile of a CNN training step: where the time goes, by kind of kernel (jexp.profiling).

    python bench/profile_cnn.py [--steps 20]

For MNIST_CNN (batch 128) and EMOTION_CNN (batch 64), as bench/peers.py trains them (AdamW,
BatchNorm in training mode, dropout), on random inputs of their shape (the values do not change
the work): the time of a training step (an epoch of ``--steps`` steps, compiled, best of 3), its
FLOP (XLA's cost analysis of one step) and, from one traced epoch, the time of each kind of
kernel: matmuls (the im2col convolutions and the Dense layers, forward and gradients), the im2col
concatenations, copies, and the other fused loops (BatchNorm, activations, pooling, the optimiser).
Writes artifacts/bench/profile_cnn.json; `jexp report` puts it in the README.
"""
import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jexp.nn import nets, train
from jexp.runtime import profiling
from jexp.runtime.machine import cpu_name

NETS = {"MNIST_CNN": 128, "EMOTION_CNN": 64}


def profile(name: str, batch: int, steps: int) -> dict:
    net = getattr(nets, name)
    rs = np.random.default_rng(0)
    shape, n = net.input_shape, batch * steps
    d = train.Data(*(jnp.asarray(a) for a in (
        rs.random((n, *shape), np.float32), rs.integers(0, 7, n).astype(np.int32),
        rs.random((batch, *shape), np.float32), rs.integers(0, 7, batch).astype(np.int32),
        rs.random((batch, *shape), np.float32), rs.integers(0, 7, batch).astype(np.int32))), eval_split="test")
    tx = optax.inject_hyperparams(optax.adamw)(learning_rate=1e-3, weight_decay=1e-4)
    trainer = train.Trainer(tx=tx, batch_size=batch, eval_batch_size=batch, grad_stats=False,
                            forward_fn=nets.forward_fn(net))
    state = train.init_runs(trainer, lambda k: nets.init(net, k), [0])
    epoch = jax.jit(jax.vmap(trainer.epoch, in_axes=(0, None, None))).lower(state, d, jnp.int32(steps)).compile()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        jax.block_until_ready(epoch(state, d, jnp.int32(steps)))
        times.append(time.perf_counter() - t)
    step_s = min(times) / steps
    one = jax.jit(jax.vmap(lambda s: trainer.step(s.params, s.opt_state, d.train_x[:batch], d.train_y[:batch],
                                                  s.variant, s.model_state, jax.random.key(0))))
    cost = one.lower(state).compile().cost_analysis()
    flop = (cost[0] if isinstance(cost, list) else cost).get("flops", float("nan"))
    kinds = profiling.by_kind(profiling.kernel_times(epoch, state, d, jnp.int32(steps)))
    return {"net": name, "batch": batch, "input": list(shape), "step_ms": step_s * 1e3,
            "examples_per_second": batch / step_s, "flop": flop,
            "kind_ms": {k: v / steps * 1e3 for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default="artifacts/bench/profile_cnn.json")
    args = ap.parse_args()
    rows = []
    for name, batch in NETS.items():
        r = profile(name, batch, args.steps)
        rows.append(r)
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["kind_ms"].items())
        print(f"{name}: step {r['step_ms']:.1f} ms ({r['examples_per_second']:.0f} examples/s), "
              f"{r['flop'] / 1e9:.2f} GFLOP; kernels ms per step: {parts}", flush=True)
    result = {"machine": f"{os.cpu_count()}-core CPU ({cpu_name()})", "jax": jax.__version__, "steps": args.steps,
              "rows": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
