"""Profile of a CNN training step: where the time goes, by kind of kernel (jexp.profiling).

    python bench/profile_cnn.py [--steps 20]

For MNIST_CNN (batch 128) and EMOTION_CNN (batch 64), as bench/peers.py trains them (AdamW,
BatchNorm in training mode, dropout), on random inputs of their shape (the values do not change
the work): the time of a training step (an epoch of ``--steps`` steps, compiled, best of 3), its
FLOP (XLA's cost analysis of one step) and, from one traced epoch, the time of each kind of
kernel: matmuls (the convolutions and the Dense layers, forward and gradients), the im2col
concatenations, copies, and the other fused loops (BatchNorm, activations, pooling, the optimiser).
With PyTorch installed (the ``[bench]`` extra), the same training step of PyTorch's model (built from the
same layer list as in bench/peers.py, AdamW, training mode) is timed on the same shapes, its epochs
interleaved with jexp's in one process, so that a slower spell of a shared machine falls on both: the
step-level comparison without data loading or evaluation.
The same step with every convolution forced to im2col (``convolution.WINOGRAD_MIN_CHANNELS`` set
out of reach while it compiles) is timed in the same rounds, so the choice ``convolution.conv2d``
makes is checked where it matters, on the whole step (``im2col_step_ms``).
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

from jexp.nn import architectures, convolution, nets, train
from jexp.runtime import profiling
from jexp.runtime.machine import cpu_name

NETS = {"MNIST_CNN": 128, "EMOTION_CNN": 64}


def profile(name: str, batch: int, steps: int) -> dict:
    net = getattr(architectures, name)
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
    compile_epoch = lambda: jax.jit(jax.vmap(trainer.epoch, in_axes=(0, None, None))).lower(
        state, d, jnp.int32(steps)).compile()
    epoch = compile_epoch()
    chosen, convolution.WINOGRAD_MIN_CHANNELS = convolution.WINOGRAD_MIN_CHANNELS, 10 ** 9
    try:
        im2col_epoch = compile_epoch()
    finally:
        convolution.WINOGRAD_MIN_CHANNELS = chosen
    torch_epoch = torch_steps(net, batch, steps)
    times, im2col_times, torch_times = [], [], []
    for _ in range(5):
        for program, out in ((epoch, times), (im2col_epoch, im2col_times)):
            t = time.perf_counter()
            jax.block_until_ready(program(state, d, jnp.int32(steps)))
            out.append(time.perf_counter() - t)
        if torch_epoch is not None:
            t = time.perf_counter()
            torch_epoch()
            torch_times.append(time.perf_counter() - t)
    step_s = min(times) / steps
    one = jax.jit(jax.vmap(lambda s: trainer.step(s.params, s.opt_state, d.train_x[:batch], d.train_y[:batch],
                                                  s.variant, s.model_state, jax.random.key(0))))
    cost = one.lower(state).compile().cost_analysis()
    flop = (cost[0] if isinstance(cost, list) else cost).get("flops", float("nan"))
    kinds = profiling.by_kind(profiling.kernel_times(epoch, state, d, jnp.int32(steps)))
    torch_ms = {} if not torch_times else {"torch_step_ms": min(torch_times) / steps * 1e3}
    return {"net": name, "batch": batch, "input": list(shape), "step_ms": step_s * 1e3,
            "im2col_step_ms": min(im2col_times) / steps * 1e3, **torch_ms,
            "examples_per_second": batch / step_s, "flop": flop,
            "kind_ms": {k: v / steps * 1e3 for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}}


def torch_steps(net, batch: int, steps: int):
    """A function running ``steps`` PyTorch training steps of ``net`` (random data), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    import peers  # bench/peers.py, beside this script: the same PyTorch model as the side-by-side benchmark
    scope = {}
    exec(peers.CNN_TORCH_LAYERS, scope)
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    model = scope["torch_layers"](net)
    h, w, c = net.input_shape
    x, y = torch.rand(batch * steps, c, h, w), torch.randint(0, 7, (batch * steps,))
    model(x[:2])  # materialises the lazy layers
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()

    def run():
        for i in range(steps):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[i * batch:(i + 1) * batch]), y[i * batch:(i + 1) * batch]).backward()
            opt.step()
    run()  # warm-up
    return run


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
        vs = f", all-im2col {r['im2col_step_ms']:.1f} ms"
        vs += f", PyTorch {r['torch_step_ms']:.1f} ms" if "torch_step_ms" in r else ""
        print(f"{name}: step {r['step_ms']:.1f} ms ({r['examples_per_second']:.0f} examples/s){vs}, "
              f"{r['flop'] / 1e9:.2f} GFLOP; kernels ms per step: {parts}", flush=True)
    result = {"machine": f"{os.cpu_count()}-core CPU ({cpu_name()})", "jax": jax.__version__, "steps": args.steps,
              "rows": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
