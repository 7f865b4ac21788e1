"""The ``jexp`` command (also ``python -m jexp``).

  jexp list                                   every experiment, one line each
  jexp run NAME|all [--quick] [--data-dir DIR] [--out DIR] [--fresh] [--no-progress] [--KEY=VALUE …]
  jexp report                                 regenerate the README results from artifacts/
  jexp predict-digit IMAGE… [--model PATH]    the digit in each picture, with its confidence
  jexp eval-digits --npz FILE [--model PATH] [--out DIR]
                                              accuracy and confusion matrix on a labelled set
"""
from __future__ import annotations

import sys
import time

USAGE = __doc__.split("\n", 2)[2]
FLAGS = {"--quick", "--fresh", "--no-progress"}
VALUED = {"--data-dir", "--out"}


def _error(msg: str, code: int) -> int:
    print(f"jexp: error: {msg}", file=sys.stderr)
    return code


def split_args(args: list[str], flags: set[str], valued: set[str], overrides: bool = False):
    """(positional, flags given, {flag: value}, {config key: value}) from ``args``; ``--KEY=VALUE``
    for other keys are config overrides when ``overrides``. Raises ValueError with a one-line message."""
    positional, given, values, rest = [], set(), {}, {}
    it = iter(args)
    for a in it:
        if a in flags:
            given.add(a)
        elif a.split("=", 1)[0] in valued:
            key, eq, val = a.partition("=")
            if not eq:
                val = next(it, None)
                if val is None:
                    raise ValueError(f"{key} needs a value")
            values[key] = val
        elif a.startswith("--") and overrides:
            key, eq, val = a[2:].partition("=")
            if not eq or not key:
                raise ValueError(f"unknown flag {a} (config overrides are --KEY=VALUE; flags: "
                                 f"{', '.join(sorted(flags | valued))})")
            rest[key] = val
        elif a.startswith("-"):
            raise ValueError(f"unknown flag {a}" + (f" (flags: {', '.join(sorted(flags | valued))})" if not overrides else ""))
        else:
            positional.append(a)
    return positional, given, values, rest


def _parse_run(args: list[str]):
    names, flags, values, overrides = split_args(args, FLAGS, VALUED, overrides=True)
    if len(names) != 1:
        raise ValueError("run takes one experiment name (or 'all')")
    return names[0], flags, values, overrides


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    from jexp import data, experiment
    try:
        if cmd == "list":
            if rest:
                raise experiment.UsageError(f"list takes no arguments, got {' '.join(rest)}")
            width = max(map(len, experiment.names()))
            for name in experiment.names():
                print(f"{name:{width}s}  {experiment.describe(experiment.load(name))}")
            return 0
        if cmd == "report":
            from jexp import report
            print(f"updated {report.update_readme()}")
            return 0
        if cmd in ("predict-digit", "eval-digits"):
            from jexp import digit_commands
            return digit_commands.main(cmd, rest)
        if cmd != "run":
            raise experiment.UsageError(f"unknown command {cmd!r}; commands: list, run, report, predict-digit, "
                                        "eval-digits")
        try:
            name, flags, values, overrides = _parse_run(rest)
        except ValueError as e:
            raise experiment.UsageError(str(e)) from None
        todo = experiment.names() if name == "all" else (name,)
        for n in todo:
            experiment.load(n)
            if name == "all" and overrides:
                raise experiment.UsageError("config overrides need one experiment, not 'all'")
        for n in todo:
            t0 = time.perf_counter()
            out = experiment.run(n, overrides, quick="--quick" in flags, data_dir=values.get("--data-dir"),
                                 out_root=values.get("--out", "artifacts"), resume="--fresh" not in flags,
                                 show_progress="--no-progress" not in flags)
            print(f"{n}: done in {time.perf_counter() - t0:.1f}s -> {out}/")
        if name == "all" and "--quick" not in flags and "--out" not in values:
            from jexp import report
            print(f"updated {report.update_readme()}")
        return 0
    except experiment.UsageError as e:
        return _error(str(e), 2)
    except data.DataError as e:
        return _error(str(e), 1)
    except KeyboardInterrupt:
        return _error("interrupted; run the same command again to resume from the last epoch", 130)


if __name__ == "__main__":
    sys.exit(main())
