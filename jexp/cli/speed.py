"""The README's speed section, from the recorded figures: each committed run's timing.json and the
benchmarks' JSON under ``artifacts/bench/`` (written by ``bench/*.py``): training and attack
speed here, the camera's and the web page's benchmarks in ``realtime_speed``. Every ratio and verdict is
computed from those figures; the targets they are held against are the constants below.
"""
from __future__ import annotations

import json
from pathlib import Path

from jexp.experiments import registry
from jexp.io import artifacts

GRID_TARGET = 20          # the ex1b grid: times faster than the course's Keras/TensorFlow
GENERATOR_TARGET = 100    # the generator attack: times faster than the sheet's Keras fit loop


def recorded(root: Path, name: str) -> dict | None:
    """A benchmark's recorded figures (artifacts/bench/NAME), or None before its first run."""
    path = root / "bench" / name
    return json.loads(path.read_text()) if path.exists() else None


PEER_LABELS = {"jexp": "jexp, cold (compile included)", "jexp-warm": "jexp, warm compilation cache",
               "keras-tf": "Keras 3 on TensorFlow (the course's stack)", "keras-jax": "Keras 3 on JAX",
               "torch": "PyTorch, eager"}


def peers_grid(root: Path) -> str:
    """The side-by-side ex1b grid of bench/peers.py: times, ratios and the targets."""
    b = recorded(root, "peers.json")
    if b is None:
        return ""
    e = b["entries"]
    rows = [[PEER_LABELS[k], f"{v['seconds']:.1f}", f"{v['ratio_to_jexp']:.1f}×",
             f"{100 * sum(v['acc'].values()) / len(v['acc']):.2f}"] for k, v in e.items()]
    text = (f"Side by side on {b['machine']}, one invocation of `python bench/peers.py mlp` ({b['work']}; "
            f"every entry in a fresh process):\n\n"
            + artifacts.md_table(["", "seconds", "time ÷ jexp's", "mean test acc % of the 9"], rows))
    notes = []
    if "keras-tf" in e:
        r = e["keras-tf"]["ratio_to_jexp"]
        notes.append(f"jexp is {r:.1f}× faster than the course's Keras/TensorFlow, cold: the ≥ {GRID_TARGET}× target is "
                     + ("reached" if r >= GRID_TARGET else f"not reached (warm: {e['keras-tf']['seconds'] / e['jexp-warm']['seconds']:.1f}×)"
                        if "jexp-warm" in e else "not reached"))
    behind = [PEER_LABELS[k] for k in ("keras-jax", "torch") if k in e and e[k]["ratio_to_jexp"] <= 1]
    ahead = [PEER_LABELS[k] for k in ("keras-jax", "torch") if k in e and e[k]["ratio_to_jexp"] > 1]
    if ahead:
        notes.append(f"ahead of {' and '.join(ahead)}")
    if behind:
        notes.append(f"**behind** {' and '.join(behind)}")
    if "floor_seconds" in b:
        notes.append(f"the arithmetic ({b['flop']:.2e} FLOP at this machine's {b['matmul_gflops']:.0f} GFLOP/s on a "
                     f"large fp32 matmul) needs {b['floor_seconds']:.1f} s; jexp takes "
                     f"{e['jexp']['seconds'] / b['floor_seconds']:.1f}× that cold"
                     + (f", {e['jexp-warm']['seconds'] / b['floor_seconds']:.1f}× warm" if "jexp-warm" in e else ""))
    skipped = "".join(f" {k} skipped: {v}." for k, v in b.get("skipped", {}).items())
    return text + "\n" + ("; ".join(notes) + "." if notes else "") + skipped + "\n"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def timings(root: Path) -> str:
    """Where the main job's time goes: each committed run's timing.json (``jexp.runtime.timing``)."""
    rows, untimed, seconds = [], [], {}
    for name in registry.names():
        path = root / name / "timing.json"
        if not (root / name / "results.md").exists():
            continue
        if not path.exists():
            untimed.append(name)
            continue
        t = json.loads(path.read_text())
        seconds[name] = t["seconds"]
        phases = "; ".join(f"{p['name'].split('/', 1)[-1]} {_duration(p['seconds'])} ({p['steps']} ticks)"
                           for p in t["phases"])
        other = t["seconds"] - sum(p["seconds"] for p in t["phases"])
        cache = t.get("compile_cache", {})
        notes = (["resumed from checkpoints: earlier epochs not included"] if t["resumed"] else []) + (
            [f"{cache['hits']} of {cache['requests']} compilations from the cache"] if cache.get("hits") else [])
        rows.append([name, _duration(t["seconds"]), phases or "-", _duration(max(other, 0.0)), t["machine"],
                     "; ".join(notes)])
    if not rows:
        return ""
    text = ("Time per experiment, as each committed run recorded it (`timing.json`: wall time of the `jexp run` "
            "that wrote the artifacts; the progress bars' phases; the rest is loading data, evaluation and "
            "figures):\n\n" + artifacts.md_table(["experiment", "time", "progress-bar phases", "rest", "machine",
                                                  "note"], rows))
    top = max(seconds, key=seconds.get)
    note = (f"The {len(rows)} timed runs took {_duration(sum(seconds.values()))} together; "
            f"the longest is {top} ({_duration(seconds[top])}).")
    if untimed:
        note += f" Run by code from before runs recorded their time (no timing.json): {', '.join(untimed)}."
    return text + "\n" + note + "\n"


def profile_grid(root: Path) -> str:
    """bench/profile_grid.py: per step of each depth program, kernels, time and FLOP; and what they
    imply for the grid's time next to the side-by-side figures."""
    b = recorded(root, "profile_grid.json")
    if b is None:
        return ""
    flags = any(r["xla_flags"] for r in b["rows"])
    rows = [([f"`{r['xla_flags']}`" if r["xla_flags"] else "defaults"] if flags else [])
            + [str(r["depth"]), f"{r['compile_s']:.1f}", str(r["kernels"]), f"{r['step_ms']:.3f}",
               f"{r['us_per_kernel']:.2f}", f"{r['flop'] / 1e6:.1f}", f"{r['gflops']:.0f}"] for r in b["rows"]]
    text = (f"Where the grid's time goes: `python bench/profile_grid.py` on {b['machine']} (one depth program "
            f"per fresh process: {b['runs_per_program']} runs vmapped, width {b['width']}, batch {b['batch_size']}; "
            f"step time from an epoch of {b['steps']:,} steps, compiled):\n\n"
            + artifacts.md_table((["XLA flags"] if flags else []) + ["depth", "compile s", "kernels per step",
                                 "ms per step", "µs per kernel", "MFLOP per step", "GFLOP/s"], rows))
    base = [r for r in b["rows"] if not r["xla_flags"]]
    deep = max(base, key=lambda r: r["depth"])
    lone = sum(r["lone_dot_us"] for r in base) / len(base)
    notes = [f"A step of the depth-{deep['depth']} program runs {deep['kernels']} kernels (matmuls, fused "
             f"elementwise loops, copies) in {deep['step_ms']:.2f} ms, {deep['us_per_kernel']:.1f} µs each, while "
             f"one lone batched 3×32×32 matmul costs {lone:.1f} µs on this runtime (a chain of them in a loop): "
             + ("the step is made of launch-sized kernels, so its time is their count, not their arithmetic"
                if deep["us_per_kernel"] < 2 * lone else "the step's kernels cost more than launch-sized ones")]
    p = recorded(root, "peers.json")
    if p and "matmul_gflops" in p:
        notes.append(f"its {deep['flop'] / 1e6:.1f} MFLOP run at {deep['gflops']:.0f} GFLOP/s, "
                     f"{100 * deep['gflops'] / p['matmul_gflops']:.0f} % of the large-matmul rate the FLOP floor assumes")
    if p and "keras-tf" in p["entries"]:
        alone = b["grid_steps"] * deep["step_ms"] / 1e3
        need = p["entries"]["keras-tf"]["seconds"] / GRID_TARGET
        notes.append(f"the grid's {b['grid_steps']:,} steps of that program alone take {alone:.1f} s after "
                     f"{deep['compile_s']:.1f} s of compiling, against the {need:.1f} s that {GRID_TARGET}× the course's "
                     "Keras/TensorFlow allows: " + ("within it" if alone + deep["compile_s"] <= need else
                                                    f"the ≥ {GRID_TARGET}× target is out of reach of this step count at this "
                                                    "kernel cost, whatever the arithmetic"))
    cores = b.get("cores") or 1
    if cores > 1 and len(base) > 1:  # train.run_concurrently: deepest first, each program to the first free core
        load = [0.0] * min(cores, len(base))
        for r in sorted(base, key=lambda r: -r["depth"]):
            load[load.index(min(load))] += r["step_ms"]
        notes.append(f"the {len(base)} depth programs run side by side on {len(load)} cores, deepest first: the "
                     f"busiest core carries {max(load):.2f} ms per step where an even split would be "
                     f"{sum(load) / len(load):.2f} ms ({100 * (max(load) * len(load) / sum(load) - 1):.0f} % more)")
    flagged = {r["xla_flags"] for r in b["rows"] if r["xla_flags"]}
    for f in sorted(flagged):
        alt = {r["depth"]: r for r in b["rows"] if r["xla_flags"] == f}
        ratio = [alt[r["depth"]]["step_ms"] / r["step_ms"] for r in base if r["depth"] in alt]
        if ratio:
            notes.append(f"`XLA_FLAGS={f}` changes the step time by {min(ratio):.2f}× to {max(ratio):.2f}×")
    return text + "\n" + "; ".join(notes) + ".\n"


def peers_cnn(root: Path) -> str:
    """The side-by-side CNN epochs of bench/peers.py: speed per epoch, accuracy against each net's target,
    and which entries rank (only those that learned)."""
    b = recorded(root, "peers_cnn.json")
    if b is None:
        return ""
    rows, verdicts = [], []
    for net, n in b["nets"].items():
        target, split = n.get("target"), n.get("split", "test")
        learned = lambda v: target is None or v["acc"] >= target
        for k, v in n["entries"].items():
            rows.append([f"`{net}`", PEER_LABELS[k].replace(", cold (compile included)", ""),
                         f"{v['examples_per_second'][0]:,.0f}", f"{v['examples_per_second'][-1]:,.0f}",
                         f"{v['speed_vs_jexp'][0]:.2f}×", f"{v['speed_vs_jexp'][-1]:.2f}×",
                         f"{100 * v['acc']:.2f}" + ("" if learned(v) else " (did not learn: not ranked)")])
        jexp, peers = n["entries"]["jexp"], {k: v for k, v in n["entries"].items() if k != "jexp"}
        goal = f" (≥ {100 * target:.0f} % {split} after {n.get('epochs', b.get('epochs'))} epochs)" if target else ""
        if not learned(jexp):
            verdicts.append(f"`{net}`: jexp itself **did not reach** its target{goal}, so nothing is ranked")
            continue
        ranked = {k: v for k, v in peers.items() if learned(v)}
        if peers and not ranked:
            k, v = max(peers.items(), key=lambda kv: kv[1]["speed_vs_jexp"][-1])
            verdicts.append(f"`{net}`{goal}: only jexp reached the target, so no peer is ranked; the fastest of them "
                            f"in the last epoch, {PEER_LABELS[k]}, ran at {v['speed_vs_jexp'][-1]:.2f}× jexp's speed "
                            f"to {100 * v['acc']:.2f} %")
            continue
        ahead_steady = [PEER_LABELS[k] for k, v in ranked.items() if v["speed_vs_jexp"][-1] > 1]
        ahead_first = [PEER_LABELS[k] for k, v in ranked.items() if v["speed_vs_jexp"][0] > 1]
        text = f"`{net}`{goal}: jexp " + (f"is **behind** {' and '.join(ahead_steady)} in the last epoch"
                                          if ahead_steady else "is ahead of every peer that learned in the last epoch")
        text += (f", and behind {' and '.join(ahead_first)} in epoch 1 (compile included)" if ahead_first
                 else ", and in epoch 1 (compile included)")
        unranked = [PEER_LABELS[k] for k in peers if k not in ranked]
        if unranked:
            text += f"; {' and '.join(unranked)} did not reach the target and {'is' if len(unranked) == 1 else 'are'} not ranked"
        verdicts.append(text)
    table = artifacts.md_table(["net", "", "examples/s, epoch 1 (compile included)", "examples/s, last epoch",
                                "epoch-1 speed ÷ jexp's", "last-epoch speed ÷ jexp's", "accuracy %"], rows)
    return (f"CNN training side by side on {b['machine']}, `python bench/peers.py cnn` ({b['work']}; "
            + ", ".join(f"`{k}` on {n['images']:,} {n['dataset']} images, batch {n['batch']}, "
                        f"{n.get('epochs', b.get('epochs'))} epochs, accuracy on {n.get('split', 'test')}"
                        for k, n in b["nets"].items())
            + "; each epoch's time includes its pass over the evaluated split):\n\n" + table + "\n"
            + "; ".join(verdicts) + ".\n")


def profile_cnn(root: Path) -> str:
    """bench/profile_cnn.py: a CNN training step's time by kind of kernel."""
    b = recorded(root, "profile_cnn.json")
    if b is None:
        return ""
    kinds = ["matmul", "concatenate", "fused loop", "copy"]
    rows = []
    for r in b["rows"]:
        busy = sum(r["kind_ms"].values())
        rows.append([f"`{r['net']}`", str(r["batch"]), f"{r['step_ms']:.0f}", f"{r['examples_per_second']:,.0f}"]
                    + [f"{r['kind_ms'].get(k, 0):.0f} ({100 * r['kind_ms'].get(k, 0) / busy:.0f} %)" for k in kinds]
                    + [f"{r['flop'] / 1e6 / r['kind_ms']['matmul']:.0f}"])
    text = (f"Where a CNN training step's time goes: `python bench/profile_cnn.py` on {b['machine']} (kernel "
            f"times from JAX's profiler over {b['steps']} steps, `jexp.runtime.profiling`; independent kernels run side by "
            "side on the cores, so the kinds add up to more than the step; % of their sum):\n\n"
            + artifacts.md_table(["net", "batch", "ms per step", "examples/s", "matmuls ms",
                                  "concatenations ms", "other fused loops ms", "copies ms",
                                  "GFLOP/s in matmuls (all FLOP ÷ matmul time)"], rows))
    share = lambda r, k: f"{100 * r['kind_ms'].get(k, 0) / sum(r['kind_ms'].values()):.0f} % for `{r['net']}`"
    notes = [f"Matmuls take {', '.join(share(r, 'matmul') for r in b['rows'])} of the kernel time; building the "
             f"im2col patches and Winograd tiles (concatenations) "
             f"{', '.join(share(r, 'concatenate') for r in b['rows'])}; the other fused loops hold BatchNorm, the "
             "activations, pooling, the optimiser and Winograd's input and output transforms"]
    p = recorded(root, "peers.json")
    if p and "matmul_gflops" in p and p.get("machine") == b["machine"]:  # the rate of that machine only
        notes.append(f"this machine's large fp32 matmul runs at {p['matmul_gflops']:.0f} GFLOP/s")
    for r in b["rows"]:
        if "im2col_step_ms" in r:
            gain = r["im2col_step_ms"] / r["step_ms"]
            notes.append(f"with every convolution forced to im2col, the same step of `{r['net']}` takes "
                         f"{r['im2col_step_ms']:.0f} ms (timed in the same rounds): `convolution.conv2d`'s choice is "
                         + (f"{gain:.2f}× as fast" if gain >= 1 else f"**{1 / gain:.2f}× slower** than im2col alone"))
        if "torch_step_ms" in r:
            ratio = r["torch_step_ms"] / r["step_ms"]
            notes.append(f"PyTorch's step of `{r['net']}`, timed interleaved in the same process, takes "
                         f"{r['torch_step_ms']:.0f} ms: jexp's step is " + (f"{ratio:.2f}× as fast" if ratio >= 1 else
                                                                             f"**{1 / ratio:.2f}× slower**"))
    return text + "\n" + "; ".join(notes) + ".\n"


def generator_attack(root: Path) -> str:
    """One line per recorded run of bench/adversarial.py (one per classifier)."""
    lines = []
    for path in sorted((root / "bench").glob("adversarial*.json")):
        b = json.loads(path.read_text())
        g, keras_s = b["generators"], b.get("keras_s", b.get("keras_s_50"))  # keras_s_50: runs of 50 generators
        rounds = (f"at most {b['rounds']} rounds each, stopping at the target as the experiment does (mean "
                  f"{b['rounds_mean']:.1f})" if "rounds_mean" in b else f"{b['rounds']} rounds")
        line = (f"- Generator attack, {g:,} MNIST generators × {rounds}, against "
                f"`{b['model']}` on {b['machine']}: vmapped {b['vmapped_s']:.1f} s (compile included"
                + (f"; {b['vmapped_warm_s']:.1f} s compiled" if "vmapped_warm_s" in b else "")
                + f"), the same jitted generator {g:,}× in turn {b['sequential_s']:.1f} s"
                + (f" (timed on {b['sequential_generators_timed']} and scaled)" if "sequential_generators_timed" in b else "")
                + f" (**{b['speedup_vs_sequential']:.1f}×**)")
        if keras_s is not None:
            line += (f", the sheet's Keras `fit` loop {keras_s:.0f} s (Keras {b['keras']}, timed on "
                     f"{b['keras_generators_timed']} generators and scaled): **{b['speedup_vs_keras']:.0f}×**"
                     + (f" ({b['speedup_vs_keras_warm']:.0f}× compiled)" if "speedup_vs_keras_warm" in b else "")
                     + f"; target ≥ {GENERATOR_TARGET}×: {_verdict(b)}")
            if "speedup_bound_vs_keras" in b:
                line += (f". The classifier's work alone (its forward pass and input gradient on the {g:,} images, "
                         f"{'mean ' if 'rounds_mean' in b else ''}rounds × attack steps times) takes {b['classifier_floor_s']:.1f} s here, so no "
                         f"implementation can beat the Keras loop by more than {b['speedup_bound_vs_keras']:.0f}× "
                         "on this machine")
        lines.append(line + ".")
    return "\n".join(lines) + "\n" if lines else ""


def _verdict(b: dict) -> str:
    if b["speedup_vs_keras"] >= GENERATOR_TARGET:
        return "reached"
    if b.get("speedup_vs_keras_warm", 0) >= GENERATOR_TARGET:
        return "reached once compiled, not with the compile time included"
    return "not reached"


def convolution(root: Path) -> str:
    b = recorded(root, "conv.json")
    if b is None:
        return ""
    worst = max(b["layers"], key=lambda r: r["max_rel_diff"])["max_rel_diff"]
    picked = any("chosen" in r for r in b["layers"])  # recorded since Winograd; before, im2col everywhere
    nets = sorted({r["net"] for r in b["layers"]})
    line = (f"- Convolution on {b['machine']}: XLA's `conv_general_dilated` vs jexp's matmul convolutions "
            f"(`nn/convolution.py`), forward + gradient {b['steps']}× inside one `fori_loop`, NHWC, batch {b['batch']}, "
            f"each of the {len(b['layers'])} convolution layers of {', '.join(f'`{n}`' for n in nets)}: XLA takes "
            f"**{b['ratio_min']:.0f}× to {b['ratio_max']:.0f}× longer (median {b['ratio_median']:.0f}×)** than "
            + ("the algorithm jexp picks" if picked else "im2col (recorded before the Winograd convolution)")
            + f"; outputs agree to {worst:.0e} (relative).")
    wino = [r for r in b["layers"] if r.get("chosen") == "winograd"]
    if wino:
        gains = sorted(r["winograd_vs_im2col"] for r in wino)
        line += (f" Winograd F(2×2, 3×3), picked for the {len(wino)} 3×3 layers over ≥ 8 channels, runs "
                 f"{gains[0]:.2f}× to {gains[-1]:.2f}× as fast as im2col there (median "
                 f"{gains[len(gains) // 2]:.2f}×).")
    return line + " `python bench/conv.py`.\n"


def section(root: Path) -> list[str]:
    """The parts of the README's speed section, in order."""
    return ["### Speed\n", timings(root), peers_grid(root) or "_No side-by-side benchmark recorded yet: "
            "`python bench/peers.py mlp`._\n", profile_grid(root), peers_cnn(root), profile_cnn(root),
            generator_attack(root) + convolution(root)]
