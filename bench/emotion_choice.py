"""Which emotion model to commit, chosen on PublicTest (never PrivateTest): each model's accuracy on
PublicTest as is and under every other-camera condition of jexp.data.face_sets (the conditions the
results page measures on PrivateTest), and their mean.

    python bench/emotion_choice.py OLD.h5 NEW.h5 [--out artifacts/bench/emotion_choice.json]

(The issue-28 choice: `git show 798b5ae:artifacts/emotion/emotion.h5 > old.h5`, against the
committed artifacts/emotion/emotion.h5.) Writes the figures with the machine.
"""
import argparse
import json
import os
from pathlib import Path


def main() -> None:
    import jax
    import numpy as np

    from jexp.data import face_sets, fer2013
    from jexp.io import keras_h5
    from jexp.nn import evaluate
    from jexp.runtime import machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="emotion .h5 files")
    ap.add_argument("--data-dir", default=os.environ.get("JEXP_DATA_DIR", "../shared/data"))
    ap.add_argument("--seed", type=int, default=0, help="of the conditions' random parts (as the experiment's seed)")
    ap.add_argument("--out", default="artifacts/bench/emotion_choice.json")
    args = ap.parse_args()
    val = fer2013.load(args.data_dir).val
    conditions = face_sets.build(np.round(val.x[..., 0] * 255).astype(np.uint8), val.y, args.seed)
    out = {"machine": machine.describe(), "split": f"FER2013 PublicTest ({len(val.y):,} faces)", "models": {}}
    for path in args.models:
        _, f, v = keras_h5.load_classifier(path, (48, 48, 1))
        fn = jax.jit(lambda x, f=f, v=v: f(v, x))
        acc = {k: float(np.mean(evaluate.batched(fn, x, 500).argmax(-1) == y)) for k, (x, y) in conditions.items()}
        out["models"][path] = {"conditions": acc,
                               "mean_over_conditions": float(np.mean([a for k, a in acc.items() if k != "as is"]))}
        print(f"{path}: as is {100 * acc['as is']:.1f} %, mean over the conditions "
              f"{100 * out['models'][path]['mean_over_conditions']:.1f} %")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
