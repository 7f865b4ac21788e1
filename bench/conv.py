"""Benchmark: XLA's convolution vs jexp's im2col convolution (nets.Conv) on CPU, the suite's shapes.

    python bench/conv.py [--steps 2] [--repeats 3]

Why it exists: nets.Conv computes a convolution as one matmul over shifted views, because XLA's
own convolution was found slow on CPU inside a loop. This measures that claim where it matters
for the suite: NHWC inputs, HWIO kernels, the layers of architectures.MNIST_CNN and architectures.CIFAR_CNN at batch
128, forward and gradient (w.r.t. kernel and input) ``--steps`` times inside one ``lax.fori_loop``
(as an epoch runs inside ``lax.scan``). Both versions run in the same process, one after the other,
compiled first (compile time excluded); the median of ``--repeats`` timings is kept.
Writes artifacts/bench/conv.json; `jexp report` puts it in the README.
"""
import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from jexp.runtime.machine import cpu_name  # noqa: E402

from jexp.io import artifacts
from jexp.nn import nets# noqa: E402

# (network, input H×W×C, filters, padding) of every convolution in the two CNNs
SHAPES = [("MNIST_CNN", (28, 28, 1), 32, "VALID"), ("MNIST_CNN", (26, 26, 32), 32, "VALID"),
          ("MNIST_CNN", (12, 12, 32), 64, "VALID"), ("MNIST_CNN", (10, 10, 64), 64, "VALID"),
          ("CIFAR_CNN", (32, 32, 3), 32, "SAME"), ("CIFAR_CNN", (32, 32, 32), 32, "SAME"),
          ("CIFAR_CNN", (16, 16, 32), 64, "SAME"), ("CIFAR_CNN", (16, 16, 64), 64, "SAME"),
          ("CIFAR_CNN", (8, 8, 64), 128, "SAME"), ("CIFAR_CNN", (8, 8, 128), 128, "SAME")]


def xla_conv(x, kernel, padding):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def im2col_conv(x, kernel, padding):
    return nets.Conv(kernel.shape[-1], (3, 3), padding=padding, use_bias=False).apply({"params": {"kernel": kernel}}, x)


def loop(conv, padding, steps):
    """``steps`` forward + backward passes in one fori_loop; the carry keeps every step live."""
    def loss(kernel, x):
        return jnp.mean(conv(x, kernel, padding) ** 2)

    grad = jax.grad(loss, argnums=(0, 1))

    @jax.jit
    def run(kernel, x):
        def body(_, carry):
            k, xx = carry
            gk, gx = grad(k, xx)
            return k - 1e-3 * gk, xx - 1e-3 * gx
        return jax.lax.fori_loop(0, steps, body, (kernel, x))
    return run


def timed(fn, *args, repeats):
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args()
    rows = []
    for net, (h, w, c), filters, padding in SHAPES:
        kx, kk = jax.random.split(jax.random.key(0))
        x = jax.random.normal(kx, (args.batch, h, w, c))
        kernel = jax.random.normal(kk, (3, 3, c, filters)) * 0.1
        y_xla, y_ours = xla_conv(x, kernel, padding), im2col_conv(x, kernel, padding)
        err = float(jnp.max(jnp.abs(y_xla - y_ours)) / jnp.max(jnp.abs(y_xla)))
        t_xla = timed(loop(xla_conv, padding, args.steps), kernel, x, repeats=args.repeats)
        t_ours = timed(loop(im2col_conv, padding, args.steps), kernel, x, repeats=args.repeats)
        rows.append({"net": net, "input": [h, w, c], "filters": filters, "padding": padding, "xla_s": t_xla,
                     "im2col_s": t_ours, "ratio": t_xla / t_ours, "max_rel_diff": err})
        print(f"{net} {h}x{w}x{c} -> {filters} {padding}: XLA {t_xla:.3f} s, im2col {t_ours:.3f} s, "
              f"XLA/im2col {t_xla / t_ours:.1f}x (outputs agree to {err:.1e})", flush=True)
    ratios = [r["ratio"] for r in rows]
    cpus = len(os.sched_getaffinity(0))
    out = {"machine": f"{cpu_name()}, {cpus} cores ({jax.default_backend()})",
           "cpus": cpus, "jax": jax.__version__, "python": platform.python_version(),
           "batch": args.batch, "steps": args.steps, "repeats": args.repeats, "layers": rows,
           "ratio_min": min(ratios), "ratio_median": statistics.median(ratios), "ratio_max": max(ratios)}
    path = Path(__file__).resolve().parents[1] / "artifacts" / "bench" / "conv.json"
    artifacts.write_atomic(path, artifacts.dumps(out))
    print(f"XLA / im2col over {len(rows)} layers: {min(ratios):.1f}x to {max(ratios):.1f}x "
          f"(median {statistics.median(ratios):.1f}x) -> {path}")


if __name__ == "__main__":
    main()
