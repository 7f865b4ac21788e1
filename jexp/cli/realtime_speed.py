"""The README's speed section, its real-time part: ``jexp camera`` (frame rate, face detectors,
smoothing, framing) and ``jexp serve`` under load, from the benchmarks' JSON under
``artifacts/bench/`` (bench/camera.py, detectors.py, smoothing.py, framing.py, serve_load.py).
Every verdict is computed from those figures."""
from __future__ import annotations

from pathlib import Path

from jexp.cli.speed import recorded

CAMERA_TARGET_FPS = 30    # `jexp camera`: frames per second


def camera(root: Path) -> str:
    b = recorded(root, "camera.json")
    if b is None:
        return ""
    ms = b["ms_per_frame"]
    return (f"- `jexp camera` on {b['machine']}: a {b['frame_size'][0]}×{b['frame_size'][1]} video of "
            f"{b['faces_per_frame'][0]}-{b['faces_per_frame'][1]} FER2013 PrivateTest faces per frame, {b['frames']} "
            f"frames, faces found on the frame scaled by {b['detect_scale']}: **{b['fps']:.1f} frames/s** "
            f"(per frame: detection {ms['detect']:.1f} ms, preprocessing {ms['preprocess']:.1f} ms, classification "
            f"{ms['classify']:.1f} ms by `{b['model']}`, {b['params']:,} parameters); target ≥ {CAMERA_TARGET_FPS} frames/s: "
            f"{'reached' if b['fps'] >= CAMERA_TARGET_FPS else 'not reached'}. The cascade found {100 * b['detection_rate']:.1f} % "
            f"of the faces; emotion accuracy on those {100 * b['accuracy_found']:.1f} %. `python bench/camera.py`.\n")


def smoothing(root: Path) -> str:
    """bench/smoothing.py: the camera's smoothing along places against along face tracks."""
    b = recorded(root, "smoothing.json")
    if b is None:
        return ""
    parts = []
    for video, r in b["videos"].items():
        acc = {k: 100 * v["accuracy_found"] for k, v in r.items()}
        flick = {k: 100 * v["flicker"]["rate"] for k, v in r.items()}
        parts.append(f"{video}: accuracy {acc['none']:.1f} / {acc['places']:.1f} / {acc['faces']:.1f} %, flicker "
                     f"{flick['none']:.1f} / {flick['places']:.1f} / {flick['faces']:.1f} %")
    slides = {k: v for k, v in b["videos"].items() if k.startswith("slideshow")}
    cost = max(v["none"]["accuracy_found"] - v["places"]["accuracy_found"] for v in slides.values())
    kept = min(v["faces"]["accuracy_found"] - v["none"]["accuracy_found"] for v in slides.values())
    calm = all(v["faces"]["flicker"]["rate"] < v["none"]["flicker"]["rate"] for v in b["videos"].values())
    a = b["appearance"]
    return (f"- Smoothing (`jexp camera --smooth {b['smooth']}`) on {b['machine']}, the camera's loop on videos of "
            "PrivateTest faces at 3 fixed places (no smoothing / along places, i.e. box overlap alone / along face "
            "tracks, the default): " + "; ".join(parts) + ". Along places, smoothing "
            + (f"costs up to {100 * cost:.1f} points where people change at the same place" if cost > 0 else
               "costs nothing here") + "; along face tracks "
            + (f"it costs at most {-100 * kept:.1f}" if kept < 0 else "it costs nothing") + " there, and it "
            + ("lowers the flicker on every video" if calm else "does not lower the flicker on every video")
            + f". The appearance check keeps {100 * a['same_face_kept']:.1f} % of one face's consecutive crops and "
            f"{100 * a['other_face_kept']:.1f} % of two people's (similarity ≥ {a['threshold']}, {a['pairs']} pairs). "
            "`python bench/smoothing.py`.\n")


def detectors(root: Path) -> str:
    """bench/detectors.py: OpenCV's frontal-face cascades on the camera check's video."""
    b = recorded(root, "detectors.json")
    if b is None:
        return ""
    d = b["detectors"]
    base_name = next(iter(d))
    base = d[base_name]
    parts = [f"{k} {100 * v['detection_rate']:.1f} % found, {v['spurious']} false, {v['ms_per_frame']:.1f} ms"
             for k, v in d.items()]
    # what a switch would have to pay for: 5 more points of faces, no more false detections, and the time
    better = [k for k, v in d.items() if v["detection_rate"] >= base["detection_rate"] + 0.05
              and v["spurious"] <= base["spurious"] and v["ms_per_frame"] <= 1.25 * base["ms_per_frame"]]
    return (f"- Face detectors (`python bench/detectors.py`, {b['machine']}, OpenCV {b['opencv']}, {b['frames']} frames "
            f"of the camera check's video, detection on the frame scaled by {b['detect_scale']}): " + "; ".join(parts)
            + ". " + (f"{', '.join(better)} would pay: at least 5 points more faces, no more false detections, at most "
                      "1.25× the time." if better else
                      f"None finds 5 points more faces than {base_name} without more false detections or over 1.25× "
                      "its time, so `jexp camera` keeps it.") + "\n")


def framing(root: Path) -> str:
    """bench/framing.py: the camera's face crops of whole photographs against FER2013's framing."""
    b = recorded(root, "framing.json")
    if b is None:
        return ""
    med, q = b["fer_median"], b["fer_quartiles"]
    parts = []
    for name, p in b["photos"].items():
        if not p.get("eyes_found"):
            parts.append(f"{name}: {'no eyes found in the crop' if p.get('face_found') else 'no face found'}")
            continue
        inside = q["eye_distance"][0] <= p["eye_distance"] <= q["eye_distance"][1]
        parts.append(f"{name}: eyes {p['eye_distance']:.2f} apart at height {p['eye_height']:.2f} ("
                     + ("within FER's middle half" if inside else
                        f"{p['eye_distance'] / med['eye_distance']:.2f}× FER's median distance: a "
                        + ("tighter" if p["eye_distance"] > med["eye_distance"] else "looser") + " crop") + ")")
    return (f"- Framing (`python bench/framing.py`, {b['machine']}): on {b['fer_measured']:,} of {b['fer_faces']:,} "
            f"PrivateTest faces OpenCV's eye cascade finds both eyes, a median {med['eye_distance']:.2f} of the side apart "
            f"(middle half {q['eye_distance'][0]:.2f}–{q['eye_distance'][1]:.2f}) at a height of "
            f"{med['eye_height']:.2f}; in `jexp camera`'s crops of whole photographs: " + "; ".join(parts) + ".\n")


def serve(root: Path) -> str:
    """bench/serve_load.py: `jexp serve` under load on loopback."""
    b = recorded(root, "serve.json")
    if b is None:
        return ""
    e = b["endpoints"]
    parts = [f"{name} p50 {v['p50_ms']:.0f} ms / p99 {v['p99_ms']:.0f} ms ({v['per_second']:.1f}/s)"
             for name, v in e.items() if v["requests"]]
    m = b["rss_mb"]
    return (f"- `jexp serve` under load on {b['machine']}, loopback: {b['clients']} clients for {b['seconds']:.0f} s "
            f"cycling through the page's endpoints (camera frame: {b['frame']}) and {b['attack_clients']} running "
            f"attacks back to back: {b['requests']:,} requests, **{b['errors']} errors**; " + "; ".join(parts)
            + f". Server memory {m['after_a_third']:.0f} MB a third of the way in, {m['end']:.0f} MB at the end ("
            + ("flat" if b["memory_flat"] else "**still growing**") + "). `python bench/serve_load.py`.\n")


def section(root: Path) -> str:
    """The real-time lines, in order (empty before their benchmarks ran)."""
    return camera(root) + detectors(root) + smoothing(root) + framing(root) + serve(root)
