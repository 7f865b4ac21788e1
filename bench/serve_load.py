"""Benchmark: `jexp serve` under load on loopback. The server runs as its own process (`jexp serve
--port 0` on the committed models); N client threads, each on its own keep-alive connection, send
requests for T seconds, cycling through the page's endpoints (a drawn 7 to /api/digits, a 640×480
camera frame with two FER2013 test faces to /api/emotion, /api/info, /api/results and a results
page); one more client runs generator attacks back to back (one at a time, as the page does).

    python bench/serve_load.py [--clients 20] [--seconds 30] [--out artifacts/bench/serve.json]

Records p50/p99 latency per endpoint, requests per second, every non-2xx answer or connection
error (target: none), and the server's resident memory sampled every second (target: flat: the
last sample within 10 % of the one a third of the way in, after the warm-up), with the machine.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def frames():
    """(PNG of a drawn 7, JPEG of a 640×480 frame with two faces)."""
    import cv2
    seven = np.zeros((280, 280), np.uint8)
    cv2.line(seven, (70, 60), (210, 60), 255, 20)
    cv2.line(seven, (210, 60), (120, 235), 255, 20)
    yy, xx = np.mgrid[0:480, 0:640]
    frame = np.clip(90 + 60 * np.sin(xx / 70) * np.cos(yy / 90), 0, 255).astype(np.uint8)
    try:
        from jexp.data import fer2013
        test = fer2013.load(os.environ.get("JEXP_DATA_DIR", "../shared/data")).test
        for (x, y), k in zip(((70, 150), (400, 150)), (0, 1)):
            frame[y:y + 160, x:x + 160] = cv2.resize(np.round(test.x[k, ..., 0] * 255).astype(np.uint8), (160, 160),
                                                     interpolation=cv2.INTER_CUBIC)
        faces = "two FER2013 PrivateTest faces"
    except Exception as e:  # noqa: BLE001 - no data: the frame has no faces, detection still runs
        faces = f"no faces ({type(e).__name__}: FER2013 not found)"
    return (cv2.imencode(".png", seven)[1].tobytes(),
            cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes(),
            faces)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    from jexp.runtime import machine
    from jexp.serve import loadtest
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--models", default="artifacts")
    ap.add_argument("--out", default="artifacts/bench/serve.json")
    ap.add_argument("--arenas", default="", help="MALLOC_ARENA_MAX for the server (glibc: one arena per thread by default)")
    args = ap.parse_args()
    seven, frame, faces = frames()
    env = dict(os.environ, **({"MALLOC_ARENA_MAX": args.arenas} if args.arenas else {}))
    proc = subprocess.Popen([sys.executable, "-m", "jexp", "serve", "--port", "0", "--models", args.models], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    for line in proc.stdout:
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m[1])
            break
    else:
        sys.exit(f"the server did not start: {proc.poll()}")
    started_s = time.time() - t0
    requests = [("digits", "POST", "/api/digits?ink=high", seven), ("emotion", "POST", "/api/emotion", frame),
                ("info", "GET", "/api/info", None), ("results", "GET", "/api/results", None),
                ("results page", "GET", "/api/results/ex1b", None)]
    url = f"http://127.0.0.1:{port}/"
    loadtest.load(url, [requests], 3.0)  # warm-up: requests of each kind
    plans = [requests] * args.clients  # client i starts at request i
    plans.append([("attack", "POST", "/api/attack?target=3&ink=high", seven)])
    r = loadtest.load(url, plans, args.seconds, sample=lambda: rss_mb(proc.pid))
    proc.terminate()
    proc.wait(timeout=20)
    memory = r.pop("samples")
    settled = memory[len(memory) // 3]  # the first third warms up (threads, connections, allocator pools)
    out = {"machine": machine.describe(), "clients": args.clients, "attack_clients": 1, "server_start_s": round(started_s, 1),
           "malloc_arena_max": args.arenas or "glibc default", "frame": f"640×480 JPEG with {faces}", **r,
           "rss_mb": {"before": round(memory[0], 1), "after_a_third": round(settled, 1), "end": round(memory[-1], 1),
                      "max": round(max(memory), 1), "samples_every_s": [round(m, 1) for m in memory]},
           "memory_flat": bool(memory[-1] <= 1.1 * settled)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "rss_mb"} | {"rss_mb": {k: v for k, v in out["rss_mb"].items()
                                                                                  if k != "samples_every_s"}}, indent=1))


if __name__ == "__main__":
    main()
