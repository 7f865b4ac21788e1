"""``jexp predict-digit`` and ``jexp eval-digits``: the digit recogniser from the command line."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from jexp.data import digit_pictures
from jexp.io import artifacts, keras_h5
from jexp.nn import nets
from jexp.nn import evaluate
from jexp.plots import classifiers

DEFAULT_MODEL = Path("artifacts") / "digits" / "digits.h5"


def _classifier(model: str | None):
    """``classify(x) -> probabilities`` (jitted) of a Keras .h5 digit model, ours or anyone's, whose
    input holds 784 values (28×28, 28×28×1 or flat) and whose output is 10 classes."""
    import jax
    import jax.numpy as jnp
    path = Path(model or DEFAULT_MODEL)
    if model is None and not path.is_file():  # run from elsewhere: the checkout's own model
        path = Path(__file__).resolve().parents[2] / DEFAULT_MODEL
    _, f, v = keras_h5.load_classifier(path, (28, 28, 1), hint="train it with `jexp run digits`" if model is None else "")
    classify = nets.probabilities(f, v)
    out = jax.eval_shape(classify, jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)).shape
    if out != (1, 10):
        raise digit_pictures.DigitError(f"{path}: the model gives outputs of shape {out[1:]}, not 10 classes")
    return classify


def predict_digit(files: list[str], model: str | None = None, ink: str = "auto") -> int:
    """Print the digit in each picture; a picture that cannot be read is one error line, the rest
    still print; exit 1 if any failed."""
    classify = _classifier(model)
    failed = 0
    for f in files:
        try:
            x = digit_pictures.preprocess(digit_pictures.read_image(f), ink)[None, ..., None]
        except digit_pictures.DigitError as e:
            print(f"jexp: error: {e}", file=sys.stderr)
            failed += 1
            continue
        p = np.asarray(classify(x))[0]
        d = int(p.argmax())
        print(f"{f}: {d} ({100 * p[d]:.1f}%)")
    return 1 if failed else 0


def eval_digits(npz_path: str, model: str | None = None, out_root: str = "artifacts") -> int:
    """Accuracy and confusion matrix of ``model`` on a labelled set. A picture that cannot be
    preprocessed counts as an error (column "none" of the confusion matrix), is named in the
    output and listed in the JSON; it never stops the evaluation."""
    classify = _classifier(model)
    images, labels = digit_pictures.load_npz(npz_path)
    x, unreadable = digit_pictures.preprocess_each(images, ink="high")
    pred = evaluate.batched(classify, x).argmax(-1)
    pred[list(unreadable)] = 10  # "none": no answer for a picture without a readable digit
    counts = evaluate.confusion(labels, pred, columns=11)
    acc = float(np.mean(pred == labels)) if len(labels) else float("nan")
    model_path, npz = Path(model or DEFAULT_MODEL), Path(npz_path)
    out = artifacts.Artifacts(Path(out_root) / "eval_digits", replace=False)  # one folder for all evaluations
    try:
        stem = f"{npz.stem}__{model_path.stem}"
        names = [str(i) for i in range(10)]
        out.figure(f"{stem}_confusion.png", classifiers.confusion(counts, names, f"{model_path.name} on {npz.name}",
                                                                  columns=names + ["none"]))
        out.json(f"{stem}.json", {"model": str(model_path), "npz": str(npz), "n": len(labels), "accuracy": acc,
                                  "confusion": counts, "confusion_columns": names + ["none"],
                                  "unreadable": [{"index": i, "reason": r} for i, r in sorted(unreadable.items())]})
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
    per_class = counts.diagonal() / np.maximum(counts.sum(1), 1)
    print("per digit: " + "  ".join(f"{i}:{100 * a:.0f}%" for i, a in enumerate(per_class) if counts[i].sum()))
    print(f"confusion matrix: {saved[0]}")
    return 0
