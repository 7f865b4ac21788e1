"""Put the UCI optdigits test set (1,797 8×8 digits by 13 writers) at DATA/optdigits/optdigits.tes.

    python scripts/get_optdigits.py [DATA_DIR]      (default: $JEXP_DATA_DIR, else ./data)

It is the digits experiment's optional out-of-MNIST check. The file comes from UCI when that
host can be reached. Otherwise it comes from the scikit-learn wheel on the package index, whose
`sklearn/datasets/data/digits.csv.gz` is a copy of the same test set (its descr/digits.rst says
so). The wheel is downloaded to a temporary folder and is not installed.
"""
import gzip
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/optdigits/optdigits.tes"


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("JEXP_DATA_DIR", "data"))
    target = root / "optdigits" / "optdigits.tes"
    if target.exists():
        print(f"{target} already there")
        return 0
    try:
        text = urllib.request.urlopen(UCI, timeout=5).read()
    except OSError:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "scikit-learn", "-d", tmp],
                           check=True)
            wheel = next(Path(tmp).glob("scikit_learn-*.whl"))
            with zipfile.ZipFile(wheel) as z:
                text = gzip.decompress(z.read("sklearn/datasets/data/digits.csv.gz"))
    rows = text.decode().strip().splitlines()
    if len(rows) != 1797 or len(rows[0].split(",")) != 65:
        print(f"unexpected optdigits content ({len(rows)} rows)", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(rows) + "\n")
    print(f"wrote {target} ({len(rows)} digits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
