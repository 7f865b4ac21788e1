"""Videos of known faces, to check ``jexp camera`` end to end rather than on pre-cropped faces:
48×48 faces (e.g. FER2013 test images) scaled up and placed at random sizes and positions in
larger frames on a textured background, several per frame and some frames with none, with the
true box and label of every face kept; ``score`` matches the camera's detections to them, and
``check`` does the whole round trip through ``jexp camera``'s own loop on an mp4 file.
"""
from __future__ import annotations

import os

import numpy as np

from jexp.camera import realtime


def compose(faces: np.ndarray, labels: np.ndarray, n_frames: int, *, seed: int = 0, size=(480, 640),
            per_frame=(0, 3), side=(72, 180)):
    """(frames uint8 (n, H, W, 3) BGR, truth) with truth[f] = [((x, y, w, h), label), …]. Each frame
    gets between per_frame[0] and per_frame[1] faces (not overlapping), each a square of a random
    side in ``side``, drawn in order from ``faces`` (cycling)."""
    import cv2
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    frames, truth, k = [], [], 0
    for _ in range(n_frames):
        base = 90 + 60 * np.sin(xx / rng.uniform(40, 120) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(40, 120))
        frame = np.clip(base + rng.normal(0, 8, (h, w)), 0, 255).astype(np.uint8)
        boxes = []
        for _ in range(rng.integers(per_frame[0], per_frame[1] + 1)):
            s = int(rng.integers(side[0], side[1] + 1))
            for _try in range(20):  # a free spot
                x, y = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
                if all(x + s <= bx or bx + bs <= x or y + s <= by or by + bs <= y for (bx, by, bs, _), _l in boxes):
                    frame[y:y + s, x:x + s] = cv2.resize(faces[k % len(faces)], (s, s), interpolation=cv2.INTER_CUBIC)
                    boxes.append(((x, y, s, s), int(labels[k % len(faces)])))
                    k += 1
                    break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        truth.append(boxes)
    return np.stack(frames), truth


def slideshow(faces: np.ndarray, labels: np.ndarray, photos: int, hold: int, *, seed: int = 0, size=(480, 640),
              side: int = 120, places: int = 3, jitter: int = 3, noise: float = 6.0):
    """(frames, truth, ids) of a slideshow seen by a camera: one textured background, ``places``
    fixed spots each showing a face of ``side`` pixels; every ``hold`` frames all spots change to the
    next faces (a new person at the same place: no cut), for ``photos`` photos. Each frame moves
    every face by up to ``jitter`` pixels and adds sensor noise (σ ``noise``). ``truth`` as
    ``compose``'s; ``ids[f]`` the index in ``faces`` of each true face of frame f."""
    import cv2
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 60 * np.sin(xx / 70 + rng.uniform(0, 6)) * np.cos(yy / 90)
    gap = (w - places * side) // (places + 1)
    frames, truth, ids = [], [], []
    for f in range(photos * hold):
        frame, boxes, who = base + rng.normal(0, noise, (h, w)), [], []
        for p in range(places):
            k = ((f // hold) * places + p) % len(faces)
            x = gap + p * (side + gap) + int(rng.integers(-jitter, jitter + 1))
            y = (h - side) // 2 + int(rng.integers(-jitter, jitter + 1))
            frame[y:y + side, x:x + side] = cv2.resize(faces[k], (side, side), interpolation=cv2.INTER_CUBIC) \
                + rng.normal(0, noise, (side, side))
            boxes.append(((x, y, side, side), int(labels[k])))
            who.append(k)
        frames.append(cv2.cvtColor(np.clip(frame, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))
        truth.append(boxes)
        ids.append(who)
    return np.stack(frames), truth, ids


def write(path: str | os.PathLike, frames: np.ndarray, fps: float = 25.0) -> None:
    """Frames (n, H, W, 3) uint8 BGR as an mp4 video."""
    import cv2
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames.shape[2], frames.shape[1]))
    if not out.isOpened():
        raise OSError(f"cannot write video {path}")
    for f in frames:
        out.write(f)
    out.release()


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter) if inter else 0.0


def score(truth, detections, min_iou: float = 0.3) -> dict:
    """Match each frame's detections [(box, class, confidence)] to its true faces (greedy, best IoU
    first, IoU ≥ ``min_iou``). Returns counts and rates: how many true faces were found
    (detection rate), how many detections match no face, and emotion accuracy on the found faces
    and on all true faces (a missed face counts as wrong), and the median ratio of a found face's
    detected side to its true side (how the detector frames a face)."""
    faces = found = correct = spurious = 0
    ratios = []
    for true, det in zip(truth, detections):
        matched = _matches(true, det, min_iou)
        for i, j in matched.items():
            correct += int(det[j][1] == true[i][1])
            ratios.append(det[j][0][2] / true[i][0][2])
        faces += len(true)
        found += len(matched)
        spurious += len(det) - len(matched)
    return {"faces": faces, "found": found, "correct": correct, "spurious": spurious,
            "detection_rate": found / faces if faces else float("nan"),
            "accuracy_found": correct / found if found else float("nan"),
            "accuracy_all": correct / faces if faces else float("nan"),
            "side_ratio_median": float(np.median(ratios)) if ratios else float("nan")}


def _matches(true, det, min_iou: float) -> dict:
    """{true face index: detection index}, greedy, best IoU first (as ``score`` matches)."""
    pairs = sorted(((iou(t[0], d[0]), i, j) for i, t in enumerate(true) for j, d in enumerate(det)), reverse=True)
    out, used = {}, set()
    for v, i, j in pairs:
        if v >= min_iou and i not in out and j not in used:
            out[i] = j
            used.add(j)
    return out


def flicker(truth, ids, detections, min_iou: float = 0.3) -> dict:
    """How often the label of one face (same ``ids`` entry) changes from a frame to the next, among
    the consecutive frames where it is found in both: {"pairs", "changes", "rate"}."""
    pairs = changes = 0
    before = {}
    for true, who, det in zip(truth, ids, detections):
        now = {who[i]: det[j][1] for i, j in _matches(true, det, min_iou).items()}
        for k, c in now.items():
            if k in before:
                pairs += 1
                changes += int(before[k] != c)
        before = now
    return {"pairs": pairs, "changes": changes, "rate": changes / pairs if pairs else float("nan")}


def check(model: str | os.PathLike, faces: np.ndarray, labels: np.ndarray, n_frames: int, *, seed: int = 0,
          per_frame=(0, 3), detect_scale: float = 0.7, warmup: bool = False):
    """``jexp camera`` end to end on a video of ``faces`` (uint8 (N, 48, 48)): compose ``n_frames``
    frames, write them as an mp4 (compression included), run the camera loop on the file (no
    smoothing: consecutive frames show different faces) and score its detections against the truth.
    Returns (score, summary, frames, truth); ``warmup`` first runs 10 frames so that the summary's
    times are the steady state."""
    import tempfile

    frames, truth = compose(faces, labels, n_frames, seed=seed, per_frame=per_frame)
    with tempfile.TemporaryDirectory() as tmp:
        video = os.path.join(tmp, "faces.mp4")
        write(video, frames)
        kw = dict(detect_scale=detect_scale, smooth=0.0, echo=lambda line: None)
        if warmup:
            realtime.run(video, str(model), max_frames=10, **kw)
        summary = realtime.run(video, str(model), **kw)
    return score(truth, summary.detections), summary, frames, truth


def drawn(frame: np.ndarray, truth, detections, classes) -> np.ndarray:
    """A copy of ``frame`` (BGR) with the true faces' boxes and labels in white, above them, and the
    camera's detections and decisions (as ``jexp camera --record`` draws them) in green, below."""
    import cv2

    out = frame.copy()
    for (x, y, w, h), label in truth:
        cv2.rectangle(out, (x, y), (x + w, y + h), (255, 255, 255), 1)
        cv2.putText(out, f"true: {classes[label]}", (x, y + h + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return realtime.annotate(out, [d[0] for d in detections], [classes[d[1]] for d in detections],
                             [d[2] for d in detections])
