"""Benchmark: OpenCV's frontal-face Haar cascades (all shipped with opencv-python, nothing
downloaded) for `jexp camera`: faces found, false detections, framing and time per frame, on the
end-to-end video of FER2013 PrivateTest faces (``facevideo.compose``, as the emotion run's camera
check), each detector on the same frames after one warm-up pass.

    python bench/detectors.py [--frames 150] [--out FILE]

Writes artifacts/bench/detectors.json with the machine. The camera needs ≥ 30 frames/s at 640×480
with classification included (bench/camera.py), so a detector is worth more faces only if it
leaves time for the rest.
"""
import argparse
import json
import os
import time
from pathlib import Path

CANDIDATES = {"default (jexp camera's)": ("haarcascade_frontalface_default.xml", 5),
              "default, 3 neighbours": ("haarcascade_frontalface_default.xml", 3),
              "alt": ("haarcascade_frontalface_alt.xml", 3),
              "alt2": ("haarcascade_frontalface_alt2.xml", 3),
              "alt_tree": ("haarcascade_frontalface_alt_tree.xml", 3)}


def main() -> None:
    import cv2
    import numpy as np

    from jexp.camera import facevideo, realtime
    from jexp.data import fer2013
    from jexp.runtime import machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--detect-scale", type=float, default=0.7, help="as `jexp camera --detect-scale`")
    ap.add_argument("--data-dir", default=os.environ.get("JEXP_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default="artifacts/bench/detectors.json")
    args = ap.parse_args()
    test = fer2013.load(args.data_dir).test
    faces = np.round(test.x[..., 0] * 255).astype(np.uint8)
    frames, truth = facevideo.compose(faces, test.y, args.frames, seed=0, per_frame=(1, 3))
    greys = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    out = {"machine": machine.describe(), "opencv": cv2.__version__, "frames": args.frames,
           "detect_scale": args.detect_scale, "detectors": {}}
    for name, (cascade, neighbours) in CANDIDATES.items():
        detect = realtime.face_detector(scale=args.detect_scale, cascade=cascade, min_neighbors=neighbours)
        for g in greys[:10]:
            detect(g)
        t0 = time.perf_counter()
        boxes = [detect(g) for g in greys]
        ms = 1000 * (time.perf_counter() - t0) / len(greys)
        score = facevideo.score(truth, [[(tuple(b), 0, 1.0) for b in bs] for bs in boxes])
        out["detectors"][name] = {"cascade": cascade, "min_neighbors": neighbours, "ms_per_frame": ms,
                                  **{k: score[k] for k in ("faces", "found", "spurious", "detection_rate",
                                                           "side_ratio_median")}}
        print(f"{name:26s} found {100 * score['detection_rate']:5.1f} %  spurious {score['spurious']:4d}  "
              f"{ms:5.1f} ms/frame  side ratio {score['side_ratio_median']:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
