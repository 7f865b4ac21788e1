"""``jexp predict-digit`` and ``jexp eval-digits``: the digit recogniser from the command line."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from jexp import artifacts, digits, evalplots, evaluate, keras_h5
from jexp.experiment import UsageError

DEFAULT_MODEL = Path("artifacts") / "digits" / "digits.h5"


def _options(args: list[str], valued: set[str]) -> tuple[list[str], dict[str, str]]:
    from jexp.cli import split_args
    try:
        positional, _, values, _ = split_args(args, set(), valued)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return positional, values


def _classifier(values):
    path = Path(values.get("--model", DEFAULT_MODEL))
    if "--model" not in values and not path.is_file():  # run from elsewhere: the checkout's own model
        path = Path(__file__).resolve().parents[1] / DEFAULT_MODEL
    if not path.is_file():
        hint = " (train it with `jexp run digits`)" if "--model" not in values else ""
        raise digits.DigitError(f"{path}: no such model file{hint}")
    return digits.load_classifier(path)


def predict_digit(args: list[str]) -> int:
    files, values = _options(args, {"--model"})
    if not files:
        raise UsageError("predict-digit needs at least one image file")
    classify = _classifier(values)
    failed = 0
    for f in files:
        try:
            x = digits.preprocess(digits.read_image(f))[None, ..., None]
        except digits.DigitError as e:
            print(f"jexp: error: {e}", file=sys.stderr)
            failed += 1
            continue
        p = np.asarray(classify(x))[0]
        d = int(p.argmax())
        print(f"{f}: {d} ({100 * p[d]:.1f}%)")
    return 1 if failed else 0


def eval_digits(args: list[str]) -> int:
    rest, values = _options(args, {"--model", "--npz", "--out"})
    if rest or "--npz" not in values:
        raise UsageError("usage: jexp eval-digits --npz FILE [--model PATH] [--out DIR]")
    classify = _classifier(values)
    images, labels = digits.load_npz(values["--npz"])
    x = digits.preprocess_batch(images, ink="high")
    pred = evaluate.batched(classify, x).argmax(-1)
    counts = evaluate.confusion(labels, pred)
    acc = float(np.mean(pred == labels)) if len(labels) else float("nan")
    model, npz = Path(values.get("--model", DEFAULT_MODEL)), Path(values["--npz"])
    out = artifacts.Artifacts(Path(values.get("--out", "artifacts")) / "eval_digits")
    try:
        stem = f"{npz.stem}__{model.stem}"
        out.figure(f"{stem}_confusion.png", evalplots.confusion(counts, [str(i) for i in range(10)],
                                                            f"{model.name} on {npz.name}"))
        out.json(f"{stem}.json", {"model": str(model), "npz": str(npz), "n": len(labels), "accuracy": acc,
                                  "confusion": counts})
        saved = out.commit()
    finally:
        out.discard()
    print(f"accuracy {100 * acc:.2f}% on {len(labels)} digits ({int((pred != labels).sum())} wrong)")
    per_class = counts.diagonal() / np.maximum(counts.sum(1), 1)
    print("per digit: " + "  ".join(f"{i}:{100 * a:.0f}%" for i, a in enumerate(per_class) if counts[i].sum()))
    print(f"confusion matrix: {saved[0]}")
    return 0


def main(cmd: str, args: list[str]) -> int:
    try:
        return predict_digit(args) if cmd == "predict-digit" else eval_digits(args)
    except (digits.DigitError, keras_h5.KerasFileError) as e:
        print(f"jexp: error: {e}", file=sys.stderr)
        return 1
