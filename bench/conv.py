"""Benchmark: XLA's convolution vs jexp's im2col and Winograd convolutions (jexp.nn.convolution) on CPU.

    python bench/conv.py [--steps 2] [--repeats 3]

Why it exists: nets.Conv computes a convolution as matmuls (Winograd's F(2×2, 3×3) or im2col, see
jexp.nn.convolution), because XLA's own convolution was found slow on CPU inside a loop. This
measures that claim, and which of the two jexp algorithms pays, where it matters for the suite:
NHWC inputs, HWIO kernels, the layers of architectures.MNIST_CNN, CIFAR_CNN and EMOTION_CNN at
batch 128, forward and gradient (w.r.t. kernel and input) ``--steps`` times inside one
``lax.fori_loop`` (as an epoch runs inside ``lax.scan``). All versions run in the same process,
compiled first (compile time excluded), their timings interleaved; the median of ``--repeats``
timings is kept. ``chosen`` is what ``convolution.conv2d`` uses for the layer.
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
from jexp.nn import convolution  # noqa: E402

# (network, input H×W×C, filters, padding) of every convolution in the two CNNs
SHAPES = [("MNIST_CNN", (28, 28, 1), 32, "VALID"), ("MNIST_CNN", (26, 26, 32), 32, "VALID"),
          ("MNIST_CNN", (12, 12, 32), 64, "VALID"), ("MNIST_CNN", (10, 10, 64), 64, "VALID"),
          ("CIFAR_CNN", (32, 32, 3), 32, "SAME"), ("CIFAR_CNN", (32, 32, 32), 32, "SAME"),
          ("CIFAR_CNN", (16, 16, 32), 64, "SAME"), ("CIFAR_CNN", (16, 16, 64), 64, "SAME"),
          ("CIFAR_CNN", (8, 8, 64), 128, "SAME"), ("CIFAR_CNN", (8, 8, 128), 128, "SAME"),
          ("EMOTION_CNN", (48, 48, 1), 32, "SAME"), ("EMOTION_CNN", (24, 24, 32), 64, "SAME"),
          ("EMOTION_CNN", (24, 24, 64), 64, "SAME"), ("EMOTION_CNN", (12, 12, 64), 128, "SAME"),
          ("EMOTION_CNN", (12, 12, 128), 128, "SAME"), ("EMOTION_CNN", (6, 6, 128), 256, "SAME"),
          ("EMOTION_CNN", (6, 6, 256), 256, "SAME")]


def xla_conv(x, kernel, padding):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def im2col_conv(x, kernel, padding):
    return convolution.im2col(x, kernel, (1, 1), padding)


def winograd_conv(x, kernel, padding):
    return convolution.winograd(x, kernel, padding)


CONVS = {"xla": xla_conv, "im2col": im2col_conv, "winograd": winograd_conv}


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


def timed(fns: dict, *args, repeats) -> dict:
    """Median seconds of each function, their runs interleaved (so a slower spell of a shared machine
    falls on all of them)."""
    for fn in fns.values():
        jax.block_until_ready(fn(*args))  # compile
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


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
        ys = {name: conv(x, kernel, padding) for name, conv in CONVS.items()}
        err = max(float(jnp.max(jnp.abs(ys["xla"] - y)) / jnp.max(jnp.abs(ys["xla"]))) for y in ys.values())
        t = timed({name: loop(conv, padding, args.steps) for name, conv in CONVS.items()}, kernel, x,
                  repeats=args.repeats)
        chosen = convolution.algorithm(kernel.shape, (1, 1))
        rows.append({"net": net, "input": [h, w, c], "filters": filters, "padding": padding, "xla_s": t["xla"],
                     "im2col_s": t["im2col"], "winograd_s": t["winograd"], "chosen": chosen,
                     "ratio": t["xla"] / t[chosen], "winograd_vs_im2col": t["im2col"] / t["winograd"],
                     "max_rel_diff": err})
        print(f"{net} {h}x{w}x{c} -> {filters} {padding}: XLA {t['xla']:.3f} s, im2col {t['im2col']:.3f} s, "
              f"Winograd {t['winograd']:.3f} s; chosen {chosen}, XLA/chosen {t['xla'] / t[chosen]:.1f}x "
              f"(outputs agree to {err:.1e})", flush=True)
    ratios = [r["ratio"] for r in rows]
    cpus = len(os.sched_getaffinity(0))
    out = {"machine": f"{cpu_name()}, {cpus} cores ({jax.default_backend()})",
           "cpus": cpus, "jax": jax.__version__, "python": platform.python_version(),
           "batch": args.batch, "steps": args.steps, "repeats": args.repeats, "layers": rows,
           "ratio_min": min(ratios), "ratio_median": statistics.median(ratios), "ratio_max": max(ratios)}
    path = Path(__file__).resolve().parents[1] / "artifacts" / "bench" / "conv.json"
    artifacts.write_atomic(path, artifacts.dumps(out))
    print(f"XLA / chosen over {len(rows)} layers: {min(ratios):.1f}x to {max(ratios):.1f}x "
          f"(median {statistics.median(ratios):.1f}x) -> {path}")


if __name__ == "__main__":
    main()
