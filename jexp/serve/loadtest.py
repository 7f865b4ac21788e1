"""Load on a running server: client threads, each on its own keep-alive connection, cycling
through a plan of requests for a bounded time; latencies of the answers, every non-2xx answer or
connection error. Used by ``bench/serve_load.py`` (the committed models, 20 clients × 30 s) and
by the tests (tiny models, seconds)."""
from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

import numpy as np


def load(base_url: str, plans: list[list[tuple]], seconds: float, sample=None) -> dict:
    """One client thread per plan; a plan is a list of (name, method, path, body or None), sent in
    turn until ``seconds`` have passed. ``sample()``, if given, is called every second (e.g. the
    server's memory). Returns {"seconds", "endpoints": {name: {requests, per_second, p50_ms,
    p99_ms}}, "requests", "errors", "error_samples", "samples"}."""
    where = urlsplit(base_url)
    stop, lock = threading.Event(), threading.Lock()
    latencies = {name: [] for plan in plans for name, *_ in plan}
    errors = []

    def client(i, plan):
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
        k = i
        while not stop.is_set():
            name, method, path, body = plan[k % len(plan)]
            k += 1
            t = time.perf_counter()
            try:
                conn.request(method, path, body=body,
                             headers={"Content-Type": "application/octet-stream"} if body else {})
                r = conn.getresponse()
                r.read()
                status = r.status
            except Exception as e:  # noqa: BLE001 - counted; the connection is renewed
                status = f"{type(e).__name__}: {e}"
                conn.close()
                conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
            dt = time.perf_counter() - t
            with lock:
                if status == 200:
                    latencies[name].append(dt)
                else:
                    errors.append({"endpoint": name, "status": status})
        conn.close()
    threads = [threading.Thread(target=client, args=(i, plan), daemon=True) for i, plan in enumerate(plans)]
    samples = [sample()] if sample else []
    start = time.perf_counter()
    for t in threads:
        t.start()
    while time.perf_counter() - start < seconds:
        time.sleep(min(1.0, max(0.0, seconds - (time.perf_counter() - start))))
        if sample:
            samples.append(sample())
    stop.set()
    for t in threads:
        t.join(timeout=120)
    wall = time.perf_counter() - start
    per = {name: {"requests": len(v), "per_second": round(len(v) / wall, 2),
                  "p50_ms": round(1000 * float(np.percentile(v, 50)), 1) if v else None,
                  "p99_ms": round(1000 * float(np.percentile(v, 99)), 1) if v else None}
           for name, v in latencies.items()}
    return {"seconds": round(wall, 1), "endpoints": per, "requests": sum(len(v) for v in latencies.values()),
            "errors": len(errors), "error_samples": errors[:10], "samples": samples}
