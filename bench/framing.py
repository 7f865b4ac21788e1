"""Benchmark: does the crop `jexp camera` gives a face match FER2013's framing? The eyes' height and
the distance between them as shares of the crop's side, found by OpenCV's eye cascade, on
FER2013 PrivateTest faces against the camera's crops (its Haar face box, as `jexp camera` crops
it) of whole photographs that well-kept packages ship: matplotlib's Grace Hopper and
scikit-image's astronaut (with ``pip install scikit-image``; skipped without it).

    python bench/framing.py [--faces 3000] [--out FILE]

A crop with the eyes farther apart than FER's is tighter than the faces the model learnt from (it
then sees a larger face); one with the eyes higher has less forehead. Writes
artifacts/bench/framing.json.
"""
import argparse
import json
import os
from pathlib import Path


def eyes(face):
    """(eye height, eye distance, eye midpoint across) as shares of the side of a grey face crop, or
    None unless the cascade finds exactly one eye in each upper half."""
    import cv2
    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_eye.xml"))
    big = cv2.resize(face, (192, 192), interpolation=cv2.INTER_AREA if face.shape[0] > 192 else cv2.INTER_CUBIC)
    found = [(x + w / 2, y + h / 2) for x, y, w, h in cascade.detectMultiScale(big, 1.05, 3, minSize=(15, 15))
             if y + h / 2 < 0.6 * 192]
    left = [c for c in found if c[0] < 96]
    right = [c for c in found if c[0] >= 96]
    if not left or not right:
        return None
    # the largest-spaced pair if the cascade found an eye twice (an eye and its eyebrow or glasses)
    (lx, ly), (rx, ry) = min(left, key=lambda c: c[0]), max(right, key=lambda c: c[0])
    return float((ly + ry) / 2 / 192), float((rx - lx) / 192), float((lx + rx) / 2 / 192)


def main() -> None:
    import cv2
    import matplotlib
    import numpy as np

    from jexp.camera import realtime
    from jexp.data import fer2013
    from jexp.runtime import machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=3000)
    ap.add_argument("--data-dir", default=os.environ.get("JEXP_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default="artifacts/bench/framing.json")
    args = ap.parse_args()
    test = fer2013.load(args.data_dir).test
    faces = np.round(test.x[:args.faces, ..., 0] * 255).astype(np.uint8)
    fer = np.array([m for m in map(eyes, faces) if m is not None])
    photos = {"Grace Hopper (matplotlib sample_data)":
              cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"), cv2.IMREAD_GRAYSCALE)}
    try:
        import skimage.data
        photos["astronaut Eileen Collins (scikit-image data)"] = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY)
    except ImportError:
        pass
    detect = realtime.face_detector(scale=1.0)
    out = {"machine": machine.describe(), "fer_faces": len(faces), "fer_measured": len(fer),
           "fer_median": dict(zip(("eye_height", "eye_distance", "eye_middle"), np.median(fer, 0).tolist())),
           "fer_quartiles": dict(zip(("eye_height", "eye_distance", "eye_middle"),
                                     np.percentile(fer, [25, 75], 0).T.tolist())), "photos": {}}
    for name, grey in photos.items():
        boxes = detect(grey)
        if not len(boxes):
            out["photos"][name] = {"face_found": False}
            continue
        x, y, w, h = map(int, boxes[0])
        m = eyes(grey[y:y + h, x:x + w])
        out["photos"][name] = {"face_found": True, "box": [x, y, w, h], "eyes_found": m is not None,
                               **(dict(zip(("eye_height", "eye_distance", "eye_middle"), m)) if m else {})}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
