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
        pairs = sorted(((iou(t[0], d[0]), i, j) for i, t in enumerate(true) for j, d in enumerate(det)), reverse=True)
        used_t, used_d = set(), set()
        for v, i, j in pairs:
            if v >= min_iou and i not in used_t and j not in used_d:
                used_t.add(i)
                used_d.add(j)
                correct += int(det[j][1] == true[i][1])
                ratios.append(det[j][0][2] / true[i][0][2])
        faces += len(true)
        found += len(used_t)
        spurious += len(det) - len(used_d)
    return {"faces": faces, "found": found, "correct": correct, "spurious": spurious,
            "detection_rate": found / faces if faces else float("nan"),
            "accuracy_found": correct / found if found else float("nan"),
            "accuracy_all": correct / faces if faces else float("nan"),
            "side_ratio_median": float(np.median(ratios)) if ratios else float("nan")}


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
