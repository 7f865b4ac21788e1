"""What the page's requests compute: the committed digit models on a drawing, the generator attack
from that drawing towards a class, and the emotion of every face in a frame.

Everything is compiled once, when ``Models`` is made (the server starts): the digit models' and
the emotion model's programs, and the attack's (one run on a blank digit, stopped after its first
chunk of rounds), so no request compiles. A request keeps no state: the same picture gives the
same answer (the attack's generator starts from a key derived from a fixed seed).
"""
from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# (name shown on the page, file under the models folder, what it is); the first is the one attacked
DIGIT_MODELS = (
    ("recogniser", "digits/digits.h5", "the digit recogniser (CNN; MNIST, fonts, scans)"),
    ("cnn", "digits/cnn.h5", "the sheet's CNN (MNIST only)"),
    ("mlp", "digits/mlp.h5", "the sheet's MLP (MNIST only)"),
    ("robust", "robust/robust.h5", "the adversarially trained CNN (PGD, MNIST)"),
)
EMOTION_MODEL = "emotion/emotion.h5"
SEED = 0  # of the attack's generator: a request's answer depends on its picture alone


class AttackTimeout(RuntimeError):
    """The attack ran past its time limit."""


@dataclass(frozen=True)
class DigitModel:
    name: str
    path: Path
    about: str
    probs: object             # x (N, 28, 28, 1) float32 -> (N, 10) probabilities (calibrated when the file says how)
    temperature: float | None
    unsure_below: float | None
    logits_fn: object         # (variables, x) -> logits, for the attack
    variables: object


def _digit_model(name, path, about) -> DigitModel:
    from jexp.io import keras_h5
    from jexp.nn import nets
    _, f, v = keras_h5.load_classifier(path, (28, 28, 1))
    temperature, unsure_below = keras_h5.calibration(path)
    probs = nets.probabilities(f, v, temperature or 1.0)
    if np.asarray(probs(np.zeros((1, 28, 28, 1), np.float32))).shape != (1, 10):
        raise ValueError(f"{path}: not a 10-class digit model")
    return DigitModel(name, Path(path), about, probs, temperature, unsure_below, f, v)


class Models:
    """The models in ``root`` (a folder laid out like ``artifacts/``): the digit models of
    ``DIGIT_MODELS`` that are there and the emotion model if it is; ``missing`` names the rest.
    ``attack``: the ``AttackConfig`` (default: the suite's); ``detect``: a face detector (grey ->
    boxes) to use instead of OpenCV's Haar cascade, one per thread."""

    def __init__(self, root: str | Path, max_faces: int = 4, detect_scale: float = 0.7, attack=None, detect=None):
        from jexp.attacks import generator
        self.root, self.max_faces, self.detect_scale = Path(root), max_faces, detect_scale
        self.digits = [_digit_model(n, self.root / p, a) for n, p, a in DIGIT_MODELS if (self.root / p).is_file()]
        self.missing = [p for _, p, _ in DIGIT_MODELS if not (self.root / p).is_file()]
        self.attack_cfg = attack or generator.AttackConfig()
        self.emotion = None
        if (self.root / EMOTION_MODEL).is_file():
            from jexp.camera import realtime
            self.emotion = realtime.emotion_classifier(self.root / EMOTION_MODEL, max_faces)
        else:
            self.missing.append(EMOTION_MODEL)
        self._detectors = queue.Queue()  # OpenCV's cascade is not shared between threads: one each, at most
        for _ in range(max(2, os.cpu_count() or 2)):  # as many as cores, each lent to one request at a time
            self._detectors.put(detect)  # None: made on first use
        if self.digits:
            try:
                self.attack(np.zeros((28, 28), np.float32), 1, seconds=0.0)  # compiles the attack's programs
            except AttackTimeout:
                pass

    # --- digits ----------------------------------------------------------------------------------

    def predict(self, x28: np.ndarray) -> list[dict]:
        """Every digit model on one preprocessed digit (28, 28) in [0, 1]."""
        x = np.asarray(x28, np.float32).reshape(1, 28, 28, 1)
        return [self._answer(m, np.asarray(m.probs(x))[0]) for m in self.digits]

    @staticmethod
    def _answer(m: DigitModel, p: np.ndarray) -> dict:
        label = int(p.argmax())
        return {"model": m.name, "about": m.about, "label": label, "probs": [round(float(q), 4) for q in p],
                "calibrated": m.temperature is not None,
                "unsure": bool(m.unsure_below is not None and p[label] < m.unsure_below),
                "unsure_below": m.unsure_below}

    def attack(self, x28: np.ndarray, target: int, seconds: float = 30.0) -> dict:
        """The generator attack on the first digit model, from ``x28`` towards ``target``; every
        model's answer on the result. Past ``seconds`` (checked after each chunk of rounds) it
        stops with ``AttackTimeout``."""
        import jax
        import jax.numpy as jnp

        from jexp.attacks import generator
        from jexp.runtime import rng
        m = self.digits[0]
        deadline = time.monotonic() + seconds

        def on_time(rounds, fooled, total):
            if time.monotonic() > deadline:
                raise AttackTimeout(f"the attack ran past its limit of {seconds:g} s after {rounds} rounds")
        x = jnp.asarray(np.asarray(x28, np.float32).reshape(1, 28, 28, 1))
        keys = jax.random.split(rng.key(SEED, "attack"), 1)
        t0 = time.perf_counter()
        r = generator.generator_attack(m.logits_fn, m.variables, x, jnp.asarray([target], jnp.int32), keys,
                                       self.attack_cfg, progress=on_time)
        image = np.asarray(r.images[0, ..., 0], np.float32)
        return {"target": int(target), "success": bool(r.success[0]), "rounds": int(r.rounds[0]),
                "max_rounds": self.attack_cfg.max_rounds, "attacked": m.name,
                "seconds": round(time.perf_counter() - t0, 3),
                "image": _rounded(image), "perturbation": _rounded(image - np.asarray(x28, np.float32)),
                "l2": round(float(np.linalg.norm(image - x28)), 4), "models": self.predict(image)}

    # --- emotion ---------------------------------------------------------------------------------

    def faces(self, image: np.ndarray) -> dict:
        """The emotion of every face (largest ``max_faces``) in a picture (grey, BGR or BGRA, uint8),
        with the time of each stage in milliseconds."""
        import cv2

        from jexp.camera import realtime
        classes, probs_fn, unsure_below = self.emotion
        t0 = time.perf_counter()
        if image.dtype != np.uint8:
            image = (image / 257).astype(np.uint8) if image.dtype == np.uint16 else np.clip(image, 0, 255).astype(np.uint8)
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4
                                                          else cv2.COLOR_BGR2GRAY)
        detect = self._detectors.get()
        try:
            detect = detect or realtime.face_detector(scale=self.detect_scale)
            boxes = detect(grey)[:self.max_faces]
        finally:
            self._detectors.put(detect)
        t1 = time.perf_counter()
        batch = realtime.crop_faces(grey, boxes, self.max_faces)
        t2 = time.perf_counter()
        p = probs_fn(batch)[:len(boxes)]
        t3 = time.perf_counter()
        out = []
        for box, q in zip(boxes, p):
            c = int(q.argmax())
            out.append({"box": [int(v) for v in box], "label": classes[c], "confidence": round(float(q[c]), 4),
                        "uncertain": bool(unsure_below is not None and q[c] < unsure_below),
                        "probs": {k: round(float(v), 4) for k, v in zip(classes, q)}})
        return {"width": int(grey.shape[1]), "height": int(grey.shape[0]), "faces": out,
                "ms": {"detect": _ms(t1 - t0), "preprocess": _ms(t2 - t1), "classify": _ms(t3 - t2)}}


def _rounded(a: np.ndarray) -> list:
    return np.round(a.astype(np.float64), 3).tolist()


def _ms(seconds: float) -> float:
    return round(1000 * seconds, 2)
