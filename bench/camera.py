"""Benchmark: `jexp camera`'s frame rate at 640×480 with 1-3 faces per frame, split into detection,
preprocessing and classification time, on a video composed from FER2013 PrivateTest faces (so the
detection rate and the emotion accuracy against the true labels come with it).

    python bench/camera.py [--model artifacts/emotion/emotion.h5] [--frames 150] [--out FILE]

The video is processed frame by frame as a file (no frame is skipped), after one warm-up pass, so
the figures are the steady state of a live camera with the same frames. Writes
artifacts/bench/camera.json (or --out) with the machine. Target: ≥ 30 frames/s.
"""
import argparse
import json
import os
import platform
from pathlib import Path


def main() -> None:
    import numpy as np

    from jexp.camera import facevideo
    from jexp.data import fer2013
    from jexp.io import keras_h5
    from jexp.nn import nets
    from jexp.runtime import machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="artifacts/emotion/emotion.h5")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--detect-scale", type=float, default=0.7, help="as `jexp camera --detect-scale`")
    ap.add_argument("--data-dir", default=os.environ.get("JEXP_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default="artifacts/bench/camera.json")
    args = ap.parse_args()
    faces = fer2013.load(args.data_dir).test
    images = np.round(faces.x[..., 0] * 255).astype(np.uint8)
    score, s, _, _ = facevideo.check(args.model, images, faces.y, args.frames, per_frame=(1, 3),
                                     detect_scale=args.detect_scale, warmup=True)
    _, params, _ = keras_h5.load(args.model)
    out = {"machine": machine.describe(), "python": platform.python_version(),
           "model": args.model, "params": nets.count_params(params), "frame_size": [640, 480],
           "detect_scale": args.detect_scale, "frames": s.frames, "faces_per_frame": [1, 3],
           "fps": s.frames / s.seconds, "ms_per_frame": {k: 1000 * v / s.frames for k, v in s.stage_s.items()},
           "ms_per_frame_total": 1000 * s.seconds / s.frames, **score}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
