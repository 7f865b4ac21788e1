"""The README's speed section: every ratio and verdict computed from the recorded figures (jexp.cli.speed)."""
import json
from pathlib import Path


from jexp.cli import realtime_speed, speed


def test_the_attack_benchmark_line_states_the_target_and_the_bound_from_its_figures(tmp_path):
    bench = {"machine": "cpu", "model": "m.h5", "rounds": 20, "generators": 1000, "vmapped_s": 20.0, "vmapped_warm_s": 4.0,
             "sequential_s": 40.0, "sequential_generators_timed": 50, "speedup_vs_sequential": 2.0, "keras": "3",
             "keras_generators_timed": 2, "keras_s": 1000.0, "speedup_vs_keras": 50.0, "speedup_vs_keras_warm": 250.0,
             "classifier_floor_s": 2.5, "speedup_bound_vs_keras": 400.0}
    (tmp_path / "bench").mkdir()
    path = tmp_path / "bench" / "adversarial.json"
    for changes, verdict in (({}, "reached once compiled, not with the compile time included"),
                             ({"speedup_vs_keras_warm": 90.0}, "not reached"), ({"speedup_vs_keras": 120.0}, "reached")):
        path.write_text(json.dumps({**bench, **changes}))
        line = speed.generator_attack(tmp_path)
        assert f"target ≥ 100×: {verdict}." in line
        assert "takes 2.5 s here" in line and "more than 400× on this machine" in line
        assert "1,000 MNIST generators" in line and "1,000× in turn 40.0 s (timed on 50 and scaled)" in line
    path.write_text(json.dumps({**bench, "rounds_mean": 12.34}))
    line = speed.generator_attack(tmp_path)
    assert "× at most 20 rounds each, stopping at the target as the experiment does (mean 12.3), against" in line
    assert "input gradient on the 1,000 images, mean rounds × attack steps times" in line


def test_the_camera_benchmark_line_gives_frame_rate_stages_and_verdict(tmp_path):
    bench = {"machine": "AMD EPYC, 2 cores", "model": "emotion.h5", "params": 1166087, "frame_size": [640, 480],
             "detect_scale": 0.7, "frames": 150, "faces_per_frame": [1, 3], "fps": 31.25,
             "ms_per_frame": {"detect": 20.0, "preprocess": 0.5, "classify": 9.5}, "detection_rate": 0.75,
             "accuracy_found": 0.6}
    (tmp_path / "bench").mkdir()
    path = tmp_path / "bench" / "camera.json"
    for fps, verdict in ((31.25, "reached"), (29.9, "not reached")):
        path.write_text(json.dumps({**bench, "fps": fps}))
        line = realtime_speed.camera(tmp_path)
        assert f"**{fps:.1f} frames/s**" in line and f"target ≥ 30 frames/s: {verdict}." in line
        assert "detection 20.0 ms, preprocessing 0.5 ms, classification 9.5 ms" in line and "1,166,087" in line
    path.unlink()
    assert realtime_speed.camera(tmp_path) == ""


def _peers(tmp_path, seconds: dict) -> Path:
    acc = {f"{d}-{a}": 0.5 for d in (5, 20, 40) for a in ("relu", "tanh", "sigmoid")}
    entries = {k: {"seconds": s, "acc": acc, "ratio_to_jexp": s / seconds["jexp"]} for k, s in seconds.items()}
    path = tmp_path / "bench" / "peers.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"work": "9 MLPs", "entries": entries, "skipped": {}, "machine": "2-core CPU (X)",
                                "flop": 4.5e11, "matmul_gflops": 90.0, "floor_seconds": 5.0}))
    return path


def test_the_side_by_side_table_gives_ratios_and_verdicts_from_its_figures(tmp_path):
    _peers(tmp_path, {"jexp": 10.0, "jexp-warm": 8.0, "keras-tf": 210.0, "keras-jax": 80.0, "torch": 150.0})
    text = speed.peers_grid(tmp_path)
    assert "| Keras 3 on TensorFlow (the course's stack) | 210.0 | 21.0× | 50.00 |" in text
    assert "21.0× faster than the course's Keras/TensorFlow, cold: the ≥ 20× target is reached" in text
    assert "ahead of Keras 3 on JAX and PyTorch, eager" in text and "behind" not in text
    assert "needs 5.0 s; jexp takes 2.0× that cold, 1.6× warm" in text
    _peers(tmp_path, {"jexp": 10.0, "jexp-warm": 8.0, "keras-tf": 190.0, "keras-jax": 9.0, "torch": 150.0})
    text = speed.peers_grid(tmp_path)
    assert "the ≥ 20× target is not reached (warm: 23.8×)" in text
    assert "**behind** Keras 3 on JAX" in text and "ahead of PyTorch, eager" in text


def test_the_cnn_comparison_ranks_only_entries_that_learned(tmp_path):
    def entry(rate, acc=0.99):
        return {"examples_per_second": [rate / 2, rate], "speed_vs_jexp": [rate / 2 / 50.0, rate / 100.0], "acc": acc}

    def render(entries):
        b = {"work": "AdamW", "machine": "2-core CPU (X)", "nets": {"MNIST_CNN": {
            "dataset": "mnist", "batch": 128, "images": 59904, "epochs": 2, "split": "test", "target": 0.98,
            "entries": entries}}}
        (tmp_path / "bench").mkdir(exist_ok=True)
        (tmp_path / "bench" / "peers_cnn.json").write_text(json.dumps(b))
        return speed.peers_cnn(tmp_path)

    text = render({"jexp": entry(100.0), "keras-tf": entry(150.0), "torch": entry(50.0)})
    assert "| `MNIST_CNN` | Keras 3 on TensorFlow (the course's stack) | 75 | 150 | 1.50× | 1.50× | 99.00 |" in text
    assert ("`MNIST_CNN` (≥ 98 % test after 2 epochs): jexp is **behind** Keras 3 on TensorFlow (the course's stack) "
            "in the last epoch, and behind Keras 3 on TensorFlow (the course's stack) in epoch 1") in text
    # a faster peer that did not reach the target is marked and not ranked
    text = render({"jexp": entry(100.0), "keras-tf": entry(150.0, acc=0.5), "torch": entry(50.0)})
    assert "| 50.00 (did not learn: not ranked) |" in text
    assert "jexp is ahead of every peer that learned in the last epoch, and in epoch 1" in text
    assert "Keras 3 on TensorFlow (the course's stack) did not reach the target and is not ranked" in text
    text = render({"jexp": entry(100.0), "torch": entry(120.0, acc=0.5)})
    assert "only jexp reached the target, so no peer is ranked; the fastest of them in the last epoch, PyTorch" in text
    assert "ran at 1.20× jexp's speed to 50.00 %" in text
    text = render({"jexp": entry(100.0, acc=0.1135), "torch": entry(50.0)})
    assert "jexp itself **did not reach** its target" in text and "ahead" not in text


def _profile_grid(tmp_path, step_ms: float, compile_s: float, lone_us: float = 3.0) -> None:
    rows = [{"xla_flags": "", "depth": d, "compile_s": compile_s, "step_ms": step_ms * d / 40, "flop": 1e6 * d,
             "kernels": 10 * d + 22, "lone_dot_us": lone_us, "gflops": 1e6 * d / (step_ms * d / 40 * 1e-3) / 1e9,
             "us_per_kernel": step_ms * d / 40 * 1e3 / (10 * d + 22)} for d in (5, 40)]
    (tmp_path / "bench" / "profile_grid.json").write_text(json.dumps(
        {"machine": "2-core CPU (X)", "cores": 2, "steps": 1000, "runs_per_program": 3, "width": 32, "batch_size": 32,
         "grid_steps": 5625, "rows": rows}))


def test_the_grid_profile_explains_the_gap_from_its_figures(tmp_path):
    _peers(tmp_path, {"jexp": 10.0, "keras-tf": 200.0})  # 20× allows 10.0 s
    _profile_grid(tmp_path, step_ms=1.4, compile_s=3.0)  # 5,625 steps × 1.4 ms = 7.9 s, + 3 s > 10 s
    text = speed.profile_grid(tmp_path)
    assert "| 40 | 3.0 | 422 | 1.400 | 3.32 | 40.0 | 29 |" in text
    assert "runs 422 kernels (matmuls, fused elementwise loops, copies) in 1.40 ms, 3.3 µs each" in text
    assert "the step is made of launch-sized kernels" in text
    assert "its 40.0 MFLOP run at 29 GFLOP/s, 32 % of the large-matmul rate" in text
    assert "take 7.9 s after 3.0 s of compiling, against the 10.0 s" in text and "out of reach" in text
    # depth 40 (1.4 ms) on one core, depth 5 (0.175 ms) on the other: the busiest carries 1.4 of 1.575 ms
    assert "the busiest core carries 1.40 ms per step where an even split would be 0.79 ms (78 % more)" in text
    _profile_grid(tmp_path, step_ms=0.8, compile_s=1.0, lone_us=0.5)  # 4.5 s + 1 s ≤ 10 s; kernels ≫ launches
    text = speed.profile_grid(tmp_path)
    assert "within it" in text and "out of reach" not in text and "cost more than launch-sized ones" in text
    (tmp_path / "bench" / "profile_grid.json").unlink()
    assert speed.profile_grid(tmp_path) == ""


def test_the_cnn_profile_gives_each_kind_its_share_of_the_step(tmp_path):
    (tmp_path / "bench").mkdir()
    rows = [{"net": "MNIST_CNN", "batch": 128, "step_ms": 160.0, "examples_per_second": 800.0, "flop": 8e9,
             "kind_ms": {"matmul": 100.0, "fused loop": 50.0, "concatenate": 30.0, "copy": 4.0}}]
    (tmp_path / "bench" / "profile_cnn.json").write_text(json.dumps({"machine": "2-core CPU (X)", "steps": 20,
                                                                     "rows": rows}))
    text = speed.profile_cnn(tmp_path)
    assert "| `MNIST_CNN` | 128 | 160 | 800 | 100 (54 %) | 30 (16 %) | 50 (27 %) | 4 (2 %) | 80 |" in text
    assert "Matmuls take 54 % for `MNIST_CNN` of the kernel time" in text and "(concatenations) 16 % for `MNIST_CNN`;" in text
    assert "PyTorch" not in text
    rows[0]["torch_step_ms"] = 200.0
    (tmp_path / "bench" / "profile_cnn.json").write_text(json.dumps({"machine": "2-core CPU (X)", "steps": 20,
                                                                     "rows": rows}))
    assert "takes 200 ms: jexp's step is 1.25× as fast" in speed.profile_cnn(tmp_path)
    rows[0]["torch_step_ms"] = 128.0
    (tmp_path / "bench" / "profile_cnn.json").write_text(json.dumps({"machine": "2-core CPU (X)", "steps": 20,
                                                                     "rows": rows}))
    assert "jexp's step is **1.25× slower**" in speed.profile_cnn(tmp_path)
    rows[0]["im2col_step_ms"] = 200.0  # the same step with every convolution forced to im2col
    (tmp_path / "bench" / "profile_cnn.json").write_text(json.dumps({"machine": "2-core CPU (X)", "steps": 20,
                                                                     "rows": rows}))
    assert "takes 200 ms (timed in the same rounds): `convolution.conv2d`'s choice is 1.25× as fast" in \
        speed.profile_cnn(tmp_path)
    # another machine's matmul rate is not this one's
    peers = {"machine": "2-core CPU (Y)", "matmul_gflops": 99.0}
    (tmp_path / "bench" / "peers.json").write_text(json.dumps(peers))
    assert "99 GFLOP/s" not in speed.profile_cnn(tmp_path)
    (tmp_path / "bench" / "peers.json").write_text(json.dumps({**peers, "machine": "2-core CPU (X)"}))
    assert "this machine's large fp32 matmul runs at 99 GFLOP/s" in speed.profile_cnn(tmp_path)


def test_the_time_table_reads_each_runs_timing_and_names_the_untimed(tmp_path):
    for name, timing in (("ex1b", {"seconds": 70.0, "machine": "X, 2 cores", "resumed": False,
                                   "phases": [{"name": "ex1b: training", "seconds": 60.0, "steps": 9}]}),
                         ("digits", {"seconds": 3600.0, "machine": "X, 2 cores", "resumed": True, "phases": [],
                                     "compile_cache": {"requests": 5, "hits": 4}}),
                         ("lrsweep", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.md").write_text("# x\n")
        if timing:
            (tmp_path / name / "timing.json").write_text(json.dumps(timing))
    text = speed.timings(tmp_path)
    assert "| ex1b | 70 s | ex1b: training 60 s (9 ticks) | 10 s | X, 2 cores |  |" in text
    assert ("| digits | 60.0 min | - | 60.0 min | X, 2 cores | resumed from checkpoints: earlier epochs not "
            "included; 4 of 5 compilations from the cache |") in text
    assert "The 2 timed runs took 61.2 min together; the longest is digits (60.0 min)." in text
    assert "Run by code from before runs recorded their time (no timing.json): lrsweep." in text


def test_the_attack_benchmark_runs_end_to_end_on_tiny_inputs(fake_data_dir, tmp_path, monkeypatch):
    """bench/adversarial.py itself, on 10 generators of a small dense classifier for at most 2 rounds
    (Keras on one): it writes the figures the README's line is made from."""
    import runpy
    import sys

    import jax

    from jexp.io import keras_h5
    from jexp.nn import nets
    from jexp.nn.nets import Dense, Flatten
    net = nets.Sequential((28, 28, 1), (Flatten(), Dense(16, "relu"), Dense(10)))
    keras_h5.save(tmp_path / "m.h5", net, *nets.init(net, jax.random.key(0)))
    out = tmp_path / "bench" / "adversarial.json"
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # the benchmark's own default, undone after the test
    monkeypatch.setattr(sys, "argv", ["adversarial.py", "--model", str(tmp_path / "m.h5"), "--generators", "10",
                                      "--rounds", "2", "--sequential-generators", "2", "--keras-generators", "1",
                                      "--data-dir", str(fake_data_dir), "--out", str(out)])
    runpy.run_path(str(Path(__file__).parents[1] / "bench" / "adversarial.py"), run_name="__main__")
    b = json.loads(out.read_text())
    assert b["generators"] == 10 and 10 <= b["rounds_total"] <= 20 and b["sequential_generators_timed"] == 2
    assert b["keras_generators_timed"] == 1 and b["keras_s"] > 0 and b["speedup_vs_keras"] == b["keras_s"] / b["vmapped_s"]
    assert speed.generator_attack(tmp_path).startswith("- Generator attack, 10 MNIST generators × at most 2 rounds each")


def test_the_convolution_line_names_the_algorithm_picked_and_winograd_gain(tmp_path):
    (tmp_path / "bench").mkdir()
    rows = [{"net": "EMOTION_CNN", "chosen": "im2col", "winograd_vs_im2col": 0.5, "max_rel_diff": 1e-7},
            {"net": "EMOTION_CNN", "chosen": "winograd", "winograd_vs_im2col": 1.2, "max_rel_diff": 2e-7},
            {"net": "MNIST_CNN", "chosen": "winograd", "winograd_vs_im2col": 1.6, "max_rel_diff": 3e-7}]
    b = {"machine": "X, 2 cores (cpu)", "steps": 2, "batch": 128, "layers": rows,
         "ratio_min": 2.0, "ratio_max": 100.0, "ratio_median": 40.0}
    (tmp_path / "bench" / "conv.json").write_text(json.dumps(b))
    text = speed.convolution(tmp_path)
    assert "**2× to 100× longer (median 40×)** than the algorithm jexp picks; outputs agree to 3e-07" in text
    assert "picked for the 2 3×3 layers over ≥ 8 channels, runs 1.20× to 1.60× as fast as im2col" in text
    for r in rows:
        del r["chosen"]
    (tmp_path / "bench" / "conv.json").write_text(json.dumps(b))
    assert "than im2col (recorded before the Winograd convolution)" in speed.convolution(tmp_path)


def test_the_smoothing_line_compares_places_and_faces_from_its_figures(tmp_path):
    def r(acc, flick):
        return {"accuracy_found": acc, "flicker": {"rate": flick}}
    videos = {"slideshow, 3 frames per photo": {"none": r(0.70, 0.10), "places": r(0.62, 0.20), "faces": r(0.69, 0.05)},
              "continuous": {"none": r(0.60, 0.20), "places": r(0.60, 0.05), "faces": r(0.60, 0.04)}}
    bench = {"machine": "cpu", "smooth": 0.6, "videos": videos,
             "appearance": {"pairs": 300, "threshold": 0.6, "same_face_kept": 0.99, "other_face_kept": 0.03}}
    (tmp_path / "bench").mkdir()
    path = tmp_path / "bench" / "smoothing.json"
    path.write_text(json.dumps(bench))
    line = realtime_speed.smoothing(tmp_path)
    assert "costs up to 8.0 points where people change" in line and "it costs at most 1.0 there" in line
    assert "lowers the flicker on every video" in line and "accuracy 70.0 / 62.0 / 69.0 %" in line
    videos["continuous"]["faces"] = r(0.60, 0.25)
    path.write_text(json.dumps(bench))
    assert "does not lower the flicker on every video" in realtime_speed.smoothing(tmp_path)


def test_the_framing_line_compares_the_camera_crops_with_fer_from_its_figures(tmp_path):
    bench = {"machine": "cpu", "fer_faces": 100, "fer_measured": 80,
             "fer_median": {"eye_height": 0.38, "eye_distance": 0.40, "eye_middle": 0.5},
             "fer_quartiles": {"eye_height": [0.36, 0.40], "eye_distance": [0.35, 0.45], "eye_middle": [0.48, 0.52]},
             "photos": {"A": {"face_found": True, "eyes_found": True, "eye_height": 0.38, "eye_distance": 0.36},
                        "B": {"face_found": True, "eyes_found": True, "eye_height": 0.30, "eye_distance": 0.50},
                        "C": {"face_found": False}}}
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "framing.json").write_text(json.dumps(bench))
    line = realtime_speed.framing(tmp_path)
    assert "A: eyes 0.36 apart at height 0.38 (within FER's middle half)" in line
    assert "B: eyes 0.50 apart at height 0.30 (1.25× FER's median distance: a tighter crop)" in line
    assert "C: no face found" in line and "on 80 of 100 PrivateTest faces" in line


def test_the_detectors_line_keeps_the_default_unless_another_pays(tmp_path):
    def d(rate, false, ms):
        return {"detection_rate": rate, "spurious": false, "ms_per_frame": ms}
    bench = {"machine": "cpu", "opencv": "4", "frames": 10, "detect_scale": 0.7,
             "detectors": {"default": d(0.70, 3, 10.0), "alt": d(0.74, 1, 20.0), "fast": d(0.76, 3, 12.0)}}
    (tmp_path / "bench").mkdir()
    path = tmp_path / "bench" / "detectors.json"
    path.write_text(json.dumps(bench))
    line = realtime_speed.detectors(tmp_path)
    assert "default 70.0 % found, 3 false, 10.0 ms" in line and "fast would pay" in line
    bench["detectors"]["fast"] = d(0.76, 4, 12.0)
    path.write_text(json.dumps(bench))
    assert "None finds 5 points more faces than default" in realtime_speed.detectors(tmp_path)


def test_the_serve_line_gives_latencies_errors_and_whether_memory_stayed_flat(tmp_path):
    e = {"digits": {"requests": 300, "per_second": 10.0, "p50_ms": 120.4, "p99_ms": 480.6},
         "attack": {"requests": 3, "per_second": 0.1, "p50_ms": 9000.0, "p99_ms": 9900.0},
         "info": {"requests": 0, "per_second": 0.0, "p50_ms": None, "p99_ms": None}}
    bench = {"machine": "Intel Xeon, 2 cores", "clients": 20, "attack_clients": 1, "seconds": 30.2,
             "frame": "640×480 JPEG with two faces", "endpoints": e, "requests": 303, "errors": 0,
             "rss_mb": {"after_a_third": 800.0, "end": 820.4}, "memory_flat": True}
    (tmp_path / "bench").mkdir()
    path = tmp_path / "bench" / "serve.json"
    path.write_text(json.dumps(bench))
    line = realtime_speed.serve(tmp_path)
    assert "20 clients for 30 s" in line and "303 requests, **0 errors**" in line
    assert "digits p50 120 ms / p99 481 ms (10.0/s)" in line and "attack p50 9000 ms" in line and "info" not in line
    assert "800 MB a third of the way in, 820 MB at the end (flat)" in line
    path.write_text(json.dumps({**bench, "memory_flat": False, "errors": 2}))
    assert "**2 errors**" in realtime_speed.serve(tmp_path) and "**still growing**" in realtime_speed.serve(tmp_path)
    path.unlink()
    assert realtime_speed.serve(tmp_path) == ""
