"""``jexp predict-digit`` and ``jexp eval-digits``: the digit recogniser from the command line."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from jexp.data import digit_pictures
from jexp.io import artifacts, keras_h5
from jexp.nn import calibration, evaluate
from jexp.plots import classifiers

DEFAULT_MODEL = Path("artifacts") / "digits" / "digits.h5"


def _classifier(model: str | None):
    """(``logits(x)`` (jitted), temperature, unsure_below) of a Keras .h5 digit model, ours or anyone's,
    whose input holds 784 values (28×28, 28×28×1 or flat) and whose output is 10 classes. The
    temperature and the "unsure" threshold come from the file (``jexp run digits`` fits them on its
    validation split); a file without them gives (…, None, None): its confidence is not calibrated."""
    import jax
    import jax.numpy as jnp
    path = Path(model) if model else artifacts.committed(DEFAULT_MODEL)
    _, f, v = keras_h5.load_classifier(path, (28, 28, 1), hint="train it with `jexp run digits`" if model is None else "")
    logits = jax.jit(lambda x: f(v, x))
    out = jax.eval_shape(logits, jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)).shape
    if out != (1, 10):
        raise digit_pictures.DigitError(f"{path}: the model gives outputs of shape {out[1:]}, not 10 classes")
    return (logits, *keras_h5.calibration(path))


def predict_digit(files: list[str], model: str | None = None, ink: str = "auto") -> int:
    """Print the digit in each picture with its confidence (calibrated when the model file holds a
    temperature), and flag an answer as unsure when that confidence is under the model's threshold,
    or when the stated ``ink`` contradicts what the picture looks like. A picture that cannot be
    read is one error line, the rest still print; exit 1 if any failed."""
    logits, temperature, unsure_below = _classifier(model)
    failed = 0
    if temperature is None:
        print("note: this model file holds no fitted temperature, so the confidences below are its raw softmax, "
              "not calibrated", file=sys.stderr)
    for f in files:
        try:
            image = digit_pictures.read_image(f)
            x = digit_pictures.preprocess(image, ink)[None, ..., None]
            seen = digit_pictures.ink_polarity(digit_pictures.to_grey(image)) if ink != "auto" else ink
        except digit_pictures.DigitError as e:
            print(f"jexp: error: {e if str(e).startswith(str(f)) else f'{f}: {e}'}", file=sys.stderr)
            failed += 1
            continue
        p = calibration.probabilities(np.asarray(logits(x)), temperature or 1.0)[0]
        order = np.argsort(-p)
        d = int(order[0])
        words = "calibrated confidence" if temperature is not None else "confidence"
        line = f"{f}: {d} ({words} {100 * p[d]:.1f}%)"
        flags = []
        if unsure_below is not None and p[d] < unsure_below:
            flags.append(f"unsure: under {100 * unsure_below:.0f}%, next best {int(order[1])} ({100 * p[order[1]]:.1f}%)")
        if seen != ink:
            flags.append(f"--ink={ink} was given, but the picture looks like {INK_WORDS[seen]}; if it is, "
                         f"--ink={seen} or --ink=auto reads it as drawn")
        print(line + "".join(f"  [{flag}]" for flag in flags))
    return 1 if failed else 0


INK_WORDS = {"high": "light ink on a dark background", "low": "dark ink on light paper"}


def eval_digits(npz_path: str, model: str | None = None, out_root: str | None = None) -> int:
    """Accuracy and confusion matrix of ``model`` on a labelled set. A picture that cannot be
    preprocessed counts as an error (column "none" of the confusion matrix), is named in the
    output and listed in the JSON; it never stops the evaluation. The figure and JSON go to
    ``out_root/eval_digits/``; by default beside the set (``mine.npz`` → ``eval_digits/`` in its
    folder), never into whatever folder the command was started from."""
    logits, temperature, unsure_below = _classifier(model)
    images, labels = digit_pictures.load_npz(npz_path)
    x, unreadable = digit_pictures.preprocess_each(images, ink="high")
    z = evaluate.batched(logits, x).astype(np.float64)
    pred = z.argmax(-1)
    pred[list(unreadable)] = 10  # "none": no answer for a picture without a readable digit
    readable = np.setdiff1d(np.arange(len(labels)), list(unreadable))
    confidence = None if temperature is None else calibration.summary(z[readable], labels[readable], temperature,
                                                                       unsure_below or 0.0)
    counts = evaluate.confusion(labels, pred, columns=11)
    acc = float(np.mean(pred == labels)) if len(labels) else float("nan")
    model_path, npz = Path(model) if model else artifacts.committed(DEFAULT_MODEL), Path(npz_path)
    folder = Path(out_root) if out_root else npz.resolve().parent
    out = artifacts.Artifacts(folder / "eval_digits", replace=False)  # one folder for all evaluations
    try:
        stem = f"{npz.stem}__{model_path.stem}"
        names = [str(i) for i in range(10)]
        out.figure(f"{stem}_confusion.png", classifiers.confusion(counts, names, f"{model_path.name} on {npz.name}",
                                                                  columns=names + ["none"]))
        out.json(f"{stem}.json", {"model": str(model_path), "npz": str(npz), "n": len(labels), "accuracy": acc,
                                  "confusion": counts, "confusion_columns": names + ["none"],
                                  "unreadable": [{"index": i, "reason": r} for i, r in sorted(unreadable.items())],
                                  "temperature": temperature, "confidence": confidence})
        saved = out.commit()
    finally:
        out.discard()
    wrong = int((pred != labels).sum())
    print(f"accuracy {100 * acc:.2f}% on {len(labels)} digits ({wrong} wrong"
          + (f", {len(unreadable)} of them unreadable" if unreadable else "") + ")")
    if unreadable:
        shown = ", ".join(map(str, sorted(unreadable)[:20])) + (", …" if len(unreadable) > 20 else "")
        print(f"unreadable (counted as errors, listed in the JSON): {shown}; first reason: "
              f"{unreadable[min(unreadable)]}")
    if confidence is None:
        print("confidence: not calibrated (the model file holds no fitted temperature)")
    elif confidence["n"]:
        print(f"calibrated confidence (T = {temperature:.3f}): mean {100 * confidence['mean_confidence']:.1f}%, "
              f"expected calibration error {100 * confidence['ece']:.1f}% on these digits (uncalibrated "
              f"{100 * confidence['ece_raw']:.1f}%); {100 * confidence['unsure_share']:.1f}% flagged unsure (under "
              f"{100 * (unsure_below or 0):.0f}%), right {_pct(confidence['accuracy_unsure'])} of those and "
              f"{_pct(confidence['accuracy_sure'])} of the rest")
    per_class = counts.diagonal() / np.maximum(counts.sum(1), 1)
    print("per digit: " + "  ".join(f"{i}:{100 * a:.0f}%" for i, a in enumerate(per_class) if counts[i].sum()))
    print(f"confusion matrix: {saved[0]}")
    return 0


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:.1f}%"
