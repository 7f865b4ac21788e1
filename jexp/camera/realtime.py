"""Real-time facial-emotion recognition from a camera, a video file or a stream (``jexp camera``).

Per frame: faces are found by OpenCV's Haar cascade (``haarcascade_frontalface_default.xml``,
shipped with opencv-python 4.x) on the grey frame scaled by ``detect_scale`` (most of a frame's time
is detection, and it falls with the square of the scale; bench/camera.py measures the frame rate
and the faces found, and the README's speed section reports it); each face is cropped, resized
to 48×48 (``INTER_AREA``) and scaled to [0, 1], FER2013's form; all faces of the frame are classified in
one call of a compiled program whose batch is always ``max_faces`` (padded), so no frame compiles
anything. With ``smooth`` > 0 each face's probabilities are averaged along its track (exponential moving
average, weight ``smooth`` on the past; ``Smoother``): a face continues a previous-frame face whose
box overlaps it and that looks like it, and a cut ends every track, so labels do not flicker and
are not carried from one person to the next at the same place.

A live camera or stream is read by a thread that keeps only the newest frame: processing never
falls behind a queue; frames that arrive while one is being processed are skipped and counted. A
video file is processed frame by frame. A camera that delivers nothing for ``timeout`` seconds is
treated as gone: the run stops with its summary.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FACE_SIDE = 48
CASCADE = "haarcascade_frontalface_default.xml"


class CameraError(RuntimeError):
    """No camera, an unreadable file, no display, a bad model: the message is one line."""


# --- where frames come from -------------------------------------------------------------------

def open_source(source: str):
    """(cv2.VideoCapture, live) for a camera index ("0"), a URL (live) or a video file."""
    import cv2
    if source.isdigit():
        cap, live, what = cv2.VideoCapture(int(source)), True, f"camera {source}"
    elif "://" in source:
        cap, live, what = cv2.VideoCapture(source), True, f"stream {source}"
    else:
        if not Path(source).is_file():
            raise CameraError(f"{source}: no such video file (for a camera, pass its index, e.g. --source 0)")
        cap, live, what = cv2.VideoCapture(source), False, f"video file {source}"
    if not cap.isOpened():
        cap.release()
        hint = " (is one connected, and not used by another program?)" if source.isdigit() else \
            " (unsupported format or corrupt file?)" if not live else ""
        raise CameraError(f"cannot open {what}{hint}")
    return cap, live


class NewestFrame:
    """A thread that reads ``cap`` continuously and keeps only the newest frame."""

    def __init__(self, cap):
        self._cap, self._fresh = cap, threading.Condition()
        self._frame, self._count, self._taken, self._returned, self._ended = None, 0, 0, 0, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            ok, frame = self._cap.read()
            with self._fresh:
                if not ok:
                    self._ended = True
                    self._fresh.notify_all()
                    return
                self._frame, self._count = frame, self._count + 1
                self._fresh.notify_all()

    def get(self, timeout: float):
        """The newest frame not yet returned, or None when the source ended or went silent."""
        with self._fresh:
            self._fresh.wait_for(lambda: self._count > self._taken or self._ended, timeout)
            if self._count == self._taken:
                return None
            self._taken, self._returned = self._count, self._returned + 1
            return self._frame

    @property
    def skipped(self) -> int:
        """Frames read but never returned: newer ones replaced them."""
        return self._count - self._returned

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)


# --- faces -------------------------------------------------------------------------------------

def face_detector(min_size: int = 40, scale: float = 0.7, cascade: str = CASCADE, min_neighbors: int = 5):
    """grey frame (H, W) uint8 -> boxes (n, 4) int (x, y, w, h) in the frame's pixels, largest
    first. The cascade (one of OpenCV's Haar cascade files) runs on the frame resized by ``scale``
    (most of a frame's time is detection, and it falls with the square of the scale); ``min_size``
    is the smallest face, in frame pixels; ``min_neighbors`` how many overlapping hits make a face."""
    import cv2
    name = cascade
    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, name))
    if cascade.empty():
        raise CameraError(f"OpenCV's face cascade {name} could not be loaded (opencv-python 4.x ships it)")
    if not 0 < scale <= 1:
        raise CameraError(f"the detection scale must be in (0, 1], not {scale}")
    smallest = max(int(round(min_size * scale)), 12)

    def detect(grey):
        small = grey if scale == 1 else cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        boxes = cascade.detectMultiScale(small, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(smallest, smallest))
        boxes = np.round(np.asarray(boxes, np.float64).reshape(-1, 4) / scale).astype(np.int32)
        boxes[:, 2:] = np.minimum(boxes[:, 2:], np.array(grey.shape[::-1]) - boxes[:, :2])  # inside the frame
        return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3], kind="stable")]
    return detect


def crop_faces(grey: np.ndarray, boxes: np.ndarray, max_faces: int) -> np.ndarray:
    """The first ``max_faces`` boxes as a (max_faces, 48, 48, 1) float32 batch in [0, 1], zero-padded."""
    import cv2
    out = np.zeros((max_faces, FACE_SIDE, FACE_SIDE, 1), np.float32)
    for i, (x, y, w, h) in enumerate(boxes[:max_faces]):
        face = cv2.resize(grey[y:y + h, x:x + w], (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)
        out[i, ..., 0] = face / np.float32(255)
    return out


def emotion_classifier(path: str | os.PathLike, max_faces: int):
    """(classes, probs_fn, unsure_below) for a Keras .h5 with 48×48×1 inputs; probs_fn takes the
    fixed batch. When the file holds a fitted temperature (``jexp run emotion`` stores one, fitted
    on PublicTest), probs_fn gives calibrated probabilities and ``unsure_below`` is the confidence
    under which a face is labelled "uncertain"; else the raw softmax and None."""

    from jexp.data import fer2013
    from jexp.io import keras_h5
    from jexp.nn import nets
    try:
        _, f, v = keras_h5.load_classifier(path, (FACE_SIDE, FACE_SIDE, 1), hint="`jexp run emotion` trains one "
                                           "there, or pass --model PATH.h5, a Keras model with 48×48×1 inputs")
        temperature, unsure_below = keras_h5.calibration(path)
    except keras_h5.KerasFileError as e:
        raise CameraError(str(e)) from None
    probs = nets.probabilities(f, v, temperature or 1.0)
    out = probs(np.zeros((max_faces, FACE_SIDE, FACE_SIDE, 1), np.float32))  # compile once, here
    classes = fer2013.CLASSES if out.shape[-1] == len(fer2013.CLASSES) else tuple(map(str, range(out.shape[-1])))
    return classes, lambda x: np.asarray(probs(x)), unsure_below


def appearance(faces: np.ndarray) -> np.ndarray:
    """A cheap identity signature of face crops (N, 48, 48, 1): each shrunk to 8×8, less its mean,
    scaled to unit length; the dot product of two is near 1 for one face in consecutive frames
    (camera noise, a few pixels of box jitter, JPEG) and rarely above 0.6 for two people
    (bench/smoothing.py measures both on FER2013 faces)."""
    import cv2
    return _unit(np.stack([cv2.resize(f[..., 0], (8, 8), interpolation=cv2.INTER_AREA).ravel() for f in faces])
                 if len(faces) else np.zeros((0, 64), np.float32))


def _unit(v: np.ndarray) -> np.ndarray:
    """Rows less their mean, at unit length: their dot product is their correlation."""
    v = v - v.mean(-1, keepdims=True)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)


def _iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


@dataclass
class Smoother:
    """Per-face exponential moving average of the probabilities across frames, along face tracks.
    A face continues the track of a previous-frame face whose box overlaps its own (IoU ≥
    ``min_iou``) and that looks like it (``appearance`` similarity ≥ ``min_similarity``; given the
    crops), best overlap first; otherwise it starts a new track, with its own probabilities. A cut
    (the whole frame changes: the correlation of two 32×24 thumbnails under ``cut_below``) ends every
    track. So a label follows a face, and is not handed to the next person at the same place."""
    weight: float = 0.6            # on the past; 0: no smoothing
    min_iou: float = 0.3           # box overlap for the same face in the next frame
    min_similarity: float = 0.6    # appearance for the same face; -1: overlap alone (follows places)
    cut_below: float = 0.5         # thumbnail correlation under which a frame is a cut; -1: never
    tracks: list = field(default_factory=list)  # [(box, appearance or None, probs)]
    thumb: np.ndarray | None = None

    def __call__(self, boxes: np.ndarray, probs: np.ndarray, crops: np.ndarray | None = None,
                 grey: np.ndarray | None = None) -> np.ndarray:
        if grey is not None:
            thumb = _unit(_thumbnail(grey).ravel())
            if self.thumb is not None and float(thumb @ self.thumb) < self.cut_below:
                self.tracks = []
            self.thumb = thumb
        looks = appearance(crops[:len(boxes)]) if crops is not None else [None] * len(boxes)
        pairs = []
        for i, box in enumerate(boxes):
            for t, (old, seen, _) in enumerate(self.tracks):
                overlap = _iou(box, old)
                alike = seen is None or looks[i] is None or float(looks[i] @ seen) >= self.min_similarity
                if overlap >= self.min_iou and alike:
                    pairs.append((overlap, i, t))
        out, used_i, used_t = probs.copy(), set(), set()
        for _, i, t in sorted(pairs, reverse=True):
            if self.weight and i not in used_i and t not in used_t:
                used_i.add(i)
                used_t.add(t)
                out[i] = self.weight * self.tracks[t][2] + (1 - self.weight) * probs[i]
        self.tracks = [(np.asarray(b, float), looks[i], out[i]) for i, b in enumerate(boxes)]
        return out


def _thumbnail(grey: np.ndarray) -> np.ndarray:
    import cv2
    return cv2.resize(grey, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)


def annotate(frame: np.ndarray, boxes, labels, confidences) -> np.ndarray:
    import cv2
    for (x, y, w, h), label, p in zip(boxes, labels, confidences):
        cv2.rectangle(frame, (int(x), int(y)), (int(x + w), int(y + h)), (0, 200, 0), 2)
        cv2.putText(frame, f"{label} {100 * p:.0f}%", (int(x), max(int(y) - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6, (0, 200, 0), 2, cv2.LINE_AA)
    return frame


# --- the loop ------------------------------------------------------------------------------------

@dataclass
class Summary:
    frames: int = 0
    skipped: int = 0          # live sources: frames replaced by newer ones before being processed
    faces: int = 0
    seconds: float = 0.0
    stage_s: dict = field(default_factory=lambda: {"detect": 0.0, "preprocess": 0.0, "classify": 0.0})
    stopped_by: str = "end of video"
    source_lost: bool = False  # a live source went silent
    frames_claimed: int = 0   # a video file that ended before the frames its container states: how many it states
    detections: list = field(default_factory=list)  # per frame: [(box, class index, confidence)]

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds else 0.0
        per = ", ".join(f"{k} {1000 * v / max(self.frames, 1):.1f} ms" for k, v in self.stage_s.items())
        return (f"{self.frames} frames, {self.faces} faces, {fps:.1f} frames/s ({per} per frame)"
                + (f", {self.skipped} older frames skipped" if self.skipped else "") + f"; stopped: {self.stopped_by}")


def _check_display():
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise CameraError("--show needs a display (no DISPLAY or WAYLAND_DISPLAY is set); use --record OUT.mp4")


def run(source: str, model: str, *, show: bool = False, record: str | None = None, max_frames: int = 0,
        smooth: float = 0.6, max_faces: int = 4, detect_scale: float = 0.7, timeout: float = 5.0, detect=None,
        echo=print, smoother: Smoother | None = None) -> Summary:
    """Classify the faces of every frame of ``source`` and ``echo`` one line per frame; returns the
    summary (also on Ctrl-C or when a camera goes silent). ``smoother`` replaces ``Smoother(smooth)``."""
    import cv2
    if show:
        _check_display()
    classes, probs_fn, unsure_below = emotion_classifier(model, max_faces)
    say = lambda c, q: classes[c] if unsure_below is None or q >= unsure_below else f"uncertain ({classes[c]}?)"
    detect = detect or face_detector(scale=detect_scale)
    cap, live = open_source(source)
    claimed = 0 if live else int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)  # what a file's container says
    reader = NewestFrame(cap) if live else None
    writer, s, smoother = None, Summary(), smoother or Smoother(smooth)
    start = time.perf_counter()
    try:
        while not max_frames or s.frames < max_frames:
            if live:
                frame = reader.get(timeout)
                if frame is None:
                    s.stopped_by, s.source_lost = f"the source sent nothing for {timeout:g} s (disconnected?)", True
                    break
            else:
                ok, frame = cap.read()
                if not ok:
                    break
            t0 = time.perf_counter()
            if frame.ndim == 2:  # a grey source: drawn on, recorded and shown in colour like the others
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            boxes = detect(grey)[:max_faces]
            t1 = time.perf_counter()
            batch = crop_faces(grey, boxes, max_faces)
            t2 = time.perf_counter()
            p = smoother(boxes, probs_fn(batch)[:len(boxes)], batch, grey)
            t3 = time.perf_counter()
            for k, dt in zip(s.stage_s, (t1 - t0, t2 - t1, t3 - t2)):
                s.stage_s[k] += dt
            s.frames += 1
            s.faces += len(boxes)
            best = p.argmax(-1) if len(boxes) else np.zeros(0, int)
            s.detections.append([(tuple(map(int, b)), int(c), float(q[c])) for b, c, q in zip(boxes, best, p)])
            fps = s.frames / (time.perf_counter() - start)
            faces = "; ".join(f"{say(c, q[c])} {100 * q[c]:.0f}% at {tuple(map(int, b))}" for b, c, q in zip(boxes, best, p))
            echo(f"frame {s.frames}: {len(boxes)} face{'' if len(boxes) == 1 else 's'}"
                 f"{': ' + faces if faces else ''} | {fps:.1f} fps")
            if show or record:
                annotate(frame, boxes, [say(c, q[c]) for c, q in zip(best, p)], [q[c] for c, q in zip(best, p)])
            if record:
                if writer is None:
                    writer = cv2.VideoWriter(record, cv2.VideoWriter_fourcc(*"mp4v"), cap.get(cv2.CAP_PROP_FPS) or 25,
                                             (frame.shape[1], frame.shape[0]))
                    if not writer.isOpened():
                        raise CameraError(f"cannot write video {record} (folder missing or codec unavailable?)")
                writer.write(frame)
            if show:
                try:
                    cv2.imshow("jexp camera (q or Esc quits)", frame)
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        s.stopped_by = "quit key"
                        break
                except cv2.error:
                    raise CameraError("--show could not open a window (no display?); use --record OUT.mp4") from None
        else:
            s.stopped_by = f"--max-frames {max_frames}"
    except KeyboardInterrupt as e:
        from jexp.runtime import signals
        s.stopped_by = signals.name(e)
    finally:
        s.seconds = time.perf_counter() - start
        if s.stopped_by == "end of video" and claimed > s.frames:
            s.frames_claimed = claimed
        if reader is not None:
            reader.close()
            s.skipped = reader.skipped
        cap.release()
        if writer is not None:
            writer.release()
        if show:
            cv2.destroyAllWindows()
    return s
