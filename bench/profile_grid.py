"""Profile of the ex1b grid's programs: where a depth program's time goes, per training step.

    python bench/profile_grid.py [--steps 600] [--flags=--xla_cpu_…=… …]

For each depth program of the grid (3 activations vmapped, one seed, width 32, batch 32, on
MNIST-shaped inputs; random values, which do not change the work), in a fresh process per XLA flag
setting: the compile time of its epoch program, the time of one training step (an epoch of
``--steps`` steps, compiled, best of 3, minus the same program run with 0 steps, which only probes
the test set), the step's FLOP (XLA's cost analysis) and the number of kernels XLA runs per step
(the operations of the compiled loop body that execute: fusions, dots, copies…; not tuples,
parameters or bitcasts). From these: the achieved GFLOP/s and the time per kernel. Writes
artifacts/bench/profile_grid.json; `jexp report` puts it in the README.
"""
import argparse
import json
import os
import subprocess
import sys

ONE = r"""
import json, time
import jax, jax.numpy as jnp, numpy as np
from jexp.nn import mlp, train
from jexp.runtime import profiling
from jexp.runtime.machine import cpu_name

depth, steps = {depth}, {steps}
n_train, n_test = 60000, 10000
rs = np.random.default_rng(0)
d = train.Data(*(jnp.asarray(a) for a in (
    rs.random((n_train, 28, 28), np.float32), rs.integers(0, 10, n_train).astype(np.int32),
    rs.random((n_test, 28, 28), np.float32), rs.integers(0, 10, n_test).astype(np.int32),
    rs.random((256, 28, 28), np.float32), rs.integers(0, 10, 256).astype(np.int32))), eval_split="test")
acts = ("relu", "tanh", "sigmoid")
model = mlp.MLP(depth=depth, width=32, activation=acts)
trainer = train.Trainer(model.apply, train.optimizer("sgd", learning_rate=0.01), batch_size=32, grad_stats=False)
state = train.init_runs(trainer, lambda k: mlp.init_params(model, k, (28, 28)), np.zeros(3, np.uint32), np.arange(3))
epoch = jax.jit(jax.vmap(trainer.epoch, in_axes=(0, None, None)))
t0 = time.perf_counter()
lowered = epoch.lower(state, d, jnp.int32(steps))
compiled = lowered.compile()
compile_s = time.perf_counter() - t0

def best(fn, *args):
    times = []
    for _ in range(3):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return min(times)

step_s = (best(compiled, state, d, jnp.int32(steps)) - best(compiled, state, d, jnp.int32(0))) / steps
# FLOP of one step: the cost analysis of the step alone (vmapped over the 3 runs)
x, y = d.train_x[:32], d.train_y[:32]
one = jax.jit(jax.vmap(lambda s: trainer.step(s.params, s.opt_state, x, y, s.variant)))
flop = one.lower(state).compile().cost_analysis()
flop = (flop[0] if isinstance(flop, list) else flop).get("flops", float("nan"))
# kernels per step: the executed operations of the compiled training loop's body
kernels = profiling.loop_kernels(compiled.as_text())
# the runtime's cost of one small kernel: a chain of {chain} dependent batched 3×32×32 matmuls in a loop
w = jnp.asarray(rs.random(({chain}, 3, 32, 32), np.float32) / 32)
def chain(x):
    for i in range({chain}):
        x = jnp.einsum("rbi,rij->rbj", x, w[i])
    return x
x0 = jnp.ones((3, 32, 32))
chain_loop = jax.jit(lambda x, n: jax.lax.fori_loop(0, n, lambda i, x: chain(x), x)).lower(x0, 0).compile()
lone_dot_us = (best(chain_loop, x0, 200) - best(chain_loop, x0, 0)) / (200 * {chain}) * 1e6
print("RESULT", json.dumps({{"depth": depth, "compile_s": compile_s, "step_ms": step_s * 1e3, "flop": flop,
                            "kernels": kernels, "lone_dot_us": lone_dot_us, "cpu": cpu_name()}}))
"""


def run_one(depth: int, steps: int, flags: str) -> dict:
    env = {**os.environ, "XLA_FLAGS": flags, "JEXP_NO_COMPILE_CACHE": "1"}
    res = subprocess.run([sys.executable, "-c", ONE.format(depth=depth, steps=steps, chain=100)], capture_output=True,
                         text=True, env=env)
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT")]
    if res.returncode or not line:
        sys.exit(f"bench: depth {depth} with XLA_FLAGS={flags!r} failed:\n{res.stderr[-2000:]}")
    return json.loads(line[0][len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--depths", default="5,20,40")
    ap.add_argument("--flags", action="append", help="an XLA_FLAGS setting to compare with the defaults "
                    "(repeat for more; write --flags=--xla_…=…)")
    ap.add_argument("--out", default="artifacts/bench/profile_grid.json")
    args = ap.parse_args()
    import jax
    rows = []
    for flags in [""] + (args.flags or []):
        for depth in map(int, args.depths.split(",")):
            r = run_one(depth, args.steps, flags)
            r["xla_flags"] = flags
            r["gflops"] = r["flop"] / (r["step_ms"] * 1e-3) / 1e9
            r["us_per_kernel"] = r["step_ms"] * 1e3 / max(r["kernels"], 1)
            rows.append(r)
            print(f"XLA_FLAGS={flags!r:45s} depth {depth:3d}: compile {r['compile_s']:5.2f} s, step "
                  f"{r['step_ms']:.3f} ms, {r['kernels']} kernels ({r['us_per_kernel']:.2f} µs each), "
                  f"{r['flop'] / 1e6:.2f} MFLOP ({r['gflops']:.1f} GFLOP/s); a lone small matmul {r['lone_dot_us']:.2f} µs", flush=True)
    cpu = rows[0]["cpu"]
    result = {"machine": f"{os.cpu_count()}-core CPU ({cpu})", "cpu": cpu, "cores": os.cpu_count(),
              "jax": jax.__version__, "steps": args.steps, "runs_per_program": 3, "width": 32, "batch_size": 32,
              "grid_steps": 3 * (60000 // 32),  # the ex1b grid: 3 epochs of 60,000 images in batches of 32
              "rows": [{k: v for k, v in r.items() if k != "cpu"} for r in rows]}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
