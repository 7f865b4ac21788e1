"""``jexp predict-digit`` and ``jexp eval-digits``: the digit recogniser from the command line."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from jexp import artifacts, digits, evalplots, evaluate

DEFAULT_MODEL = Path("artifacts") / "digits" / "digits.h5"


def _classifier(model: str | None):
    path = Path(model or DEFAULT_MODEL)
    if model is None and not path.is_file():  # run from elsewhere: the checkout's own model
        path = Path(__file__).resolve().parents[1] / DEFAULT_MODEL
    if not path.is_file():
        hint = " (train it with `jexp run digits`)" if model is None else ""
        raise digits.DigitError(f"{path}: no such model file{hint}")
    return digits.load_classifier(path)


def predict_digit(files: list[str], model: str | None = None, ink: str = "auto") -> int:
    """Print the digit in each picture; a picture that cannot be read is one error line, the rest
    still print; exit 1 if any failed."""
    classify = _classifier(model)
    failed = 0
    for f in files:
        try:
            x = digits.preprocess(digits.read_image(f), ink)[None, ..., None]
        except digits.DigitError as e:
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
    images, labels = digits.load_npz(npz_path)
    x, unreadable = digits.preprocess_each(images, ink="high")
    pred = evaluate.batched(classify, x).argmax(-1)
    pred[list(unreadable)] = 10  # "none": no answer for a picture without a readable digit
    counts = evaluate.confusion(labels, pred, columns=11)
    acc = float(np.mean(pred == labels)) if len(labels) else float("nan")
    model_path, npz = Path(model or DEFAULT_MODEL), Path(npz_path)
    out = artifacts.Artifacts(Path(out_root) / "eval_digits", replace=False)  # one folder for all evaluations
    try:
        stem = f"{npz.stem}__{model_path.stem}"
        names = [str(i) for i in range(10)]
        out.figure(f"{stem}_confusion.png", evalplots.confusion(counts, names, f"{model_path.name} on {npz.name}",
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
