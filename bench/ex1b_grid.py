"""Benchmark: the full ex1b grid, 9 MLPs × 3 epochs on all 60,000 MNIST images, batch 32, one seed.

    python bench/ex1b_grid.py [--repeats 3] [--data-dir DIR]

Each repeat is a fresh Python process, so JAX/XLA compilation is included; the time runs from
the first training call (data already loaded, ~0.3 s more) to the last result on the host.
Writes artifacts/bench/ex1b_grid.json; `jexp report` puts it in the README.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ONE = """
import time, jax
from jexp import data, grid, train
ds = data.load("mnist", {data_dir!r})
d = train.make_data(ds.train, ds.test, jax.random.key(0))
t0 = time.perf_counter()
runs = grid.mlp_grid(d, depths=(5, 20, 40), activations=("relu", "tanh", "sigmoid"), seeds=(0,), epochs=3,
                     grad_stats=False)
seconds = time.perf_counter() - t0
print("RESULT", seconds, sorted(round(float(r.final["test_acc"]), 4) for r in runs))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data-dir", default=os.environ.get("JEXP_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default="artifacts/bench/ex1b_grid.json")
    args = ap.parse_args()
    times = []
    for i in range(args.repeats):
        res = subprocess.run([sys.executable, "-c", ONE.format(data_dir=args.data_dir)], capture_output=True, text=True)
        line = [l for l in res.stdout.splitlines() if l.startswith("RESULT")]
        if res.returncode or not line:
            sys.exit(f"bench: run {i} failed:\n{res.stderr[-2000:]}")
        seconds = float(line[0].split()[1])
        times.append(seconds)
        print(f"run {i}: {seconds:.2f} s", flush=True)
    import jax

    from jexp.machine import cpu_name
    best = min(times)
    result = {"seconds": best, "median_seconds": statistics.median(times), "all_seconds": times,
              "repeats": args.repeats, "examples_per_second": 9 * 3 * 60000 / best,
              "machine": f"{os.cpu_count()}-core CPU ({cpu_name()})", "jax": jax.__version__,
              "backend": jax.default_backend()}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
