"""Benchmark: does `jexp camera`'s smoothing follow faces, not places? The camera's own loop on two
videos of FER2013 PrivateTest faces, each with no smoothing, with smoothing along places (box
overlap alone, as before issue 28) and along face tracks (overlap, appearance, cuts: the default).

    python bench/smoothing.py [--model artifacts/emotion/emotion.h5] [--out FILE]

- slideshows: 3 fixed places, the people there change every 3 or 10 frames (``--holds``; no cut:
  the background stays), 300 frames, sensor noise and jitter per frame; smoothing along places
  carries one person's label into the next, which costs accuracy;
- continuous: the people change every 50 frames (18 people): smoothing should lower the flicker
  (how often a face's label changes from a frame to the next) without costing accuracy.
Also the appearance similarity (``realtime.appearance``) of one face in consecutive frames against
that of two people, on 300 face pairs of PrivateTest. Writes artifacts/bench/smoothing.json.
"""
import argparse
import json
import os
import tempfile
from pathlib import Path


def main() -> None:
    import numpy as np

    from jexp.camera import facevideo, realtime
    from jexp.data import fer2013
    from jexp.runtime import machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="artifacts/emotion/emotion.h5")
    ap.add_argument("--holds", default="3,10", help="slideshows: frames per photo, one video each")
    ap.add_argument("--smooth", type=float, default=0.6, help="as `jexp camera --smooth`")
    ap.add_argument("--data-dir", default=os.environ.get("JEXP_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default="artifacts/bench/smoothing.json")
    args = ap.parse_args()
    test = fer2013.load(args.data_dir).test
    faces, labels = np.round(test.x[..., 0] * 255).astype(np.uint8), test.y
    smoothers = {"none": lambda: realtime.Smoother(0.0),
                 "places": lambda: realtime.Smoother(args.smooth, min_similarity=-1, cut_below=-1),
                 "faces": lambda: realtime.Smoother(args.smooth)}
    holds = [int(h) for h in args.holds.split(",")]
    videos = {f"slideshow, {h} frames per photo": facevideo.slideshow(faces, labels, 300 // h, h, seed=1) for h in holds}
    videos["continuous, 50 frames per photo"] = facevideo.slideshow(faces, labels, 6, 50, seed=2)
    out = {"machine": machine.describe(), "model": args.model, "smooth": args.smooth,
           "appearance": _similarities(faces, realtime), "videos": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (frames, truth, ids) in videos.items():
            video = os.path.join(tmp, f"{name}.mp4")
            facevideo.write(video, frames)
            out["videos"][name] = {}
            for how, make in smoothers.items():
                s = realtime.run(video, args.model, smoother=make(), echo=lambda line: None)
                out["videos"][name][how] = {**facevideo.score(truth, s.detections),
                                            "flicker": facevideo.flicker(truth, ids, s.detections)}
                r = out["videos"][name][how]
                print(f"{name:32s} smoothing along {how:6s}: accuracy {100 * r['accuracy_found']:.1f} % of "
                      f"{r['found']} found faces, flicker {100 * r['flicker']['rate']:.1f} %")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


def _similarities(faces, realtime) -> dict:
    """Appearance similarity of a face and itself in the next frame (moved ±3 px, scaled ±8 %, noise
    σ 6, JPEG q60) against two different faces, both through the same camera change."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(0)

    def next_frame(im):
        m = cv2.getRotationMatrix2D((24, 24), rng.uniform(-4, 4), rng.uniform(0.92, 1.08))
        m[:, 2] += rng.uniform(-3, 3, 2)
        im = cv2.warpAffine(im, m, (48, 48), borderMode=cv2.BORDER_REPLICATE) + rng.normal(0, 6, (48, 48))
        im = np.clip(im, 0, 255).astype(np.uint8)
        return cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], 0)
    look = lambda ims: realtime.appearance(np.stack(ims)[..., None].astype(np.float32) / 255)
    a, b = faces[:300], faces[300:600]
    same = np.sum(look(list(a)) * look([next_frame(x) for x in a]), -1)
    other = np.sum(look(list(a)) * look([next_frame(x) for x in b]), -1)
    t = realtime.Smoother.min_similarity
    return {"pairs": len(a), "threshold": t, "same_face_kept": float(np.mean(same >= t)),
            "other_face_kept": float(np.mean(other >= t)), "same_face_p5": float(np.percentile(same, 5)),
            "other_face_p95": float(np.percentile(other, 95))}


if __name__ == "__main__":
    main()
