"""The ``jexp`` command (also ``python -m jexp``), parsed with ``argparse`` sub-commands.

  jexp list                                   every experiment, one line each
  jexp run NAME|all [--quick] [--data-dir DIR] [--out DIR] [--fresh] [--no-progress] [--KEY=VALUE …]
  jexp run NAME --help                        NAME's config keys: types, defaults, what they mean
  jexp run NAME … --coordinator HOST:PORT --num-processes N --process-id I   one process of a job (docs/scale.md)
  jexp report                                 regenerate the README results from artifacts/
  jexp predict-digit IMAGE… [--model PATH] [--ink auto|high|low]
  jexp eval-digits --npz FILE [--model PATH] [--out DIR]
  jexp camera [--source 0|VIDEO|URL] [--model PATH] [--show] [--record OUT.mp4] [--max-frames N]
  jexp serve [--host 127.0.0.1] [--port 8000] [--models DIR]   the models in a web page

Exit codes: 0 done, 1 bad or missing data or files (or, for ``run all``, any experiment failed),
2 bad command-line input; every error is one line on stderr.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from jexp.cli import configs
from jexp.experiments import registry
from jexp.experiments.base import UsageError

EXPERIMENT_HELP = "config overrides: --KEY=VALUE (tuples comma-separated); see `jexp run NAME --help`"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one-line ``UsageError``s (exit 2), not usage dumps."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _unknown(extras: list[str], prog: str) -> None:
    if extras:
        a = extras[0]
        raise UsageError(f"unknown {'flag' if a.startswith('-') else 'argument'} {a} (see `{prog} --help`)")


def _run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a smoke run on the experiment's QUICK settings "
                   "(seconds to minutes; its results.md says it is no result), written to artifacts/NAME/quick/")
    p.add_argument("--data-dir", metavar="DIR", help="where the data sets are (default: $JEXP_DATA_DIR, else ./data)")
    p.add_argument("--out", metavar="DIR", default="artifacts", help="artifacts root (default: artifacts)")
    p.add_argument("--fresh", action="store_true", help="ignore checkpoints; train from scratch")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    job = p.add_argument_group("many processes or hosts (docs/scale.md; default: $JEXP_COORDINATOR, "
                               "$JEXP_NUM_PROCESSES, $JEXP_PROCESS_ID, else one process)")
    job.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address, the same in every process; "
                     "auto: found by JAX (SLURM, Open MPI, Cloud TPU)")
    job.add_argument("--num-processes", type=int, metavar="N", help="processes in the job")
    job.add_argument("--process-id", type=int, metavar="I", help="this process, 0 to N-1 (0 writes the artifacts)")


def parser() -> Parser:
    top = Parser(prog="jexp", description="jexp: JAX functional experiments (figures, tables, models).",
                 epilog=__doc__.split("\n", 2)[2])
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.add_parser("list", help="every experiment, one line each", description="Every experiment, one line each.")
    run = sub.add_parser("run", help="run an experiment, or all of them", add_help=False,
                         description="Run experiment NAME (or all of them): figures, tables and models go to "
                                     "OUT/NAME/. Re-running resumes from the last checkpoint.",
                         epilog=f"{EXPERIMENT_HELP}\nexperiments: {', '.join(registry.names())}, all")
    run.add_argument("-h", "--help", action="store_true", help="this help; with NAME: NAME's config keys")
    run.add_argument("name", metavar="NAME", nargs="?", help="an experiment (`jexp list`) or 'all'")
    _run_flags(run)
    top.run_parser = run
    sub.add_parser("report", help="regenerate the README results from artifacts/",
                   description="Regenerate the README's results section from artifacts/.")
    pred = sub.add_parser("predict-digit", help="the digit in each picture, with its confidence",
                          description="The digit in each picture (any size, colour, polarity), with its confidence.")
    pred.add_argument("images", metavar="IMAGE", nargs="+", help="picture files (PNG, JPG, BMP, TIFF…)")
    pred.add_argument("--model", metavar="PATH", help="a Keras .h5 digit classifier (default: "
                      f"{COMMITTED_RULE.format('artifacts/digits/digits.h5')})")
    pred.add_argument("--ink", choices=("auto", "high", "low"), default="auto",
                      help="ink brighter (high) or darker (low) than the paper; auto: decide per picture")
    ev = sub.add_parser("eval-digits", help="accuracy and confusion matrix on a labelled set",
                        description="Accuracy and confusion matrix of a digit model on a labelled .npz set "
                                    "(images (N, H, W) uint8 with ink = high values, labels (N,)). A picture "
                                    "that cannot be preprocessed counts as an error and is listed.")
    ev.add_argument("--npz", metavar="FILE", required=True, help="the labelled set")
    ev.add_argument("--model", metavar="PATH", help="a Keras .h5 digit classifier (default: "
                      f"{COMMITTED_RULE.format('artifacts/digits/digits.h5')})")
    ev.add_argument("--out", metavar="DIR", help="results go to DIR/eval_digits/ (default: the folder of the "
                    "--npz file)")
    cam = sub.add_parser("camera", help="the emotion of every face in a camera or video, in real time",
                         description="Find the faces in every frame of a camera, video file or stream (OpenCV's "
                                     "Haar cascade), classify each one's emotion and print it with the frame rate. "
                                     "Ctrl-C (or q / Esc in the --show window) stops with a summary.")
    cam.add_argument("--source", default="0", help="camera index, video file or stream URL (default: 0)")
    cam.add_argument("--model", metavar="PATH", help="a Keras .h5 with 48×48×1 inputs (default: "
                     f"{COMMITTED_RULE.format('artifacts/emotion/emotion.h5')})")
    cam.add_argument("--show", action="store_true", help="draw boxes and labels in a window")
    cam.add_argument("--record", metavar="OUT.mp4", help="write the annotated video")
    cam.add_argument("--max-frames", type=int, default=0, metavar="N", help="stop after N frames (0: never)")
    cam.add_argument("--smooth", type=float, default=0.6, metavar="W",
                     help="weight of the past in each face's running average of probabilities along its track "
                     "(box overlap and appearance; a cut ends every track) (0: none)")
    cam.add_argument("--max-faces", type=int, default=4, metavar="K", help="faces classified per frame, largest first")
    cam.add_argument("--detect-scale", type=float, default=0.7, metavar="S",
                     help="find faces on the frame scaled by S (faster; 1: full size; default: 0.7)")
    srv = sub.add_parser("serve", help="the models in a web page: draw a digit and attack it, your face's emotion",
                         description="A local web page: draw a digit (or drop a photo) and see every committed digit "
                                     "model's answer, turn it into any other digit with the generator attack, see "
                                     "the emotion of your face from the webcam, browse the results. Ctrl-C stops.")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine "
                     "only; another address warns)")
    srv.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free one)")
    srv.add_argument("--models", metavar="DIR", help="a folder laid out like artifacts/ (default: "
                     f"{COMMITTED_RULE.format('artifacts')})")
    return top


COMMITTED_RULE = "{0} under the current folder, else the checkout's own"


def experiment_parser(name: str, module) -> Parser:
    """``jexp run NAME``: the common flags and one option per field of NAME's Config."""
    p = Parser(prog=f"jexp run {name}", description=(module.__doc__ or "").strip() + run_time(name),
               epilog="Values are parsed to the field's type; tuples are comma-separated (--depths=1,2,4).")
    p.add_argument("name", metavar="NAME", help=argparse.SUPPRESS)
    _run_flags(p)
    fields = configs.config_fields(module.Config)
    owner = configs.introduced_by(module.Config)
    for cls in module.Config.__mro__:  # the experiment's own settings first, then the shared bases'
        own = [f for f in fields if owner[f[0]] is cls]
        if not own:
            continue
        about = re.split(r"[,(;]", (cls.__doc__ or cls.__name__).strip())[0].strip().rstrip(".")
        group = p.add_argument_group(f"config ({name}.Config; --KEY=VALUE)" if cls is module.Config
                                     else f"config, shared: {about} ({cls.__name__})")
        for field, typ, default, comment in own:
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            group.add_argument(f"--{field}", dest=f"cfg.{field}", metavar=typ.upper(), default=argparse.SUPPRESS,
                               help=(f"{comment + ' ' if comment else ''}(default: {shown!s}"
                                     + (f"; {configs.bounds_text(field)}" if configs.bounds_text(field) else "")
                                     + ")").replace("%", "%%"))
    return p


def run_time(name: str) -> str:
    """The committed run's recorded time and machine (its timing.json), as a line of ``--help``;
    nothing when it recorded none."""
    import json
    from jexp.io import artifacts
    path = artifacts.committed(Path("artifacts") / name / "timing.json")
    try:
        t = json.loads(path.read_text())
        seconds, where = float(t["seconds"]), t.get("machine", "an unrecorded machine")
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    took = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
    return (f"\n\nRecorded: the committed run took {took} on {where}"
            f"{' (resumed from a checkpoint)' if t.get('resumed') else ''} (artifacts/{name}/timing.json).")


def _error(msg: str, code: int) -> int:
    print(f"jexp: error: {msg}", file=sys.stderr)
    return code


def _quiet_opencv() -> None:
    """OpenCV's and FFmpeg's own warnings (no camera at an index, a damaged frame) go straight to
    stderr before jexp can say what happened in one line; they are turned off for the commands
    (read when OpenCV loads; a value the user set is kept)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "cv2" in sys.modules:  # already loaded (jexp used from Python): OpenCV's own level still applies
        import cv2
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _quiet_opencv()
    from jexp.data import digit_pictures, files
    from jexp.io import artifacts, keras_h5
    from jexp.runtime import compile_cache, signals
    signals.install()
    try:
        top = parser()
        if not argv:
            top.print_help(sys.stderr)
            return 2
        args, extras = top.parse_known_args(argv)
        if args.command is None:
            raise UsageError(f"unknown command {argv[0]!r}; commands: list, run, report, predict-digit, eval-digits, "
                             "camera, serve")
        if args.command in ("run", "camera", "predict-digit", "eval-digits", "serve"):
            compile_cache.enable()  # a second run loads its compiled programs (see jexp.runtime.compile_cache)
        if args.command == "run":
            return _run(argv[1:], args, extras, top)
        _unknown(extras, f"jexp {args.command}")
        if args.command == "list":
            width = max(map(len, registry.names()))
            for name in registry.names():
                print(f"{name:{width}s}  {registry.describe(registry.load(name))}")
            return 0
        if args.command == "report":
            from jexp.cli import report
            print(report.update_readme())
            return 0
        if args.command == "camera":
            return _camera(args)
        if args.command == "serve":
            return _serve(args)
        from jexp.cli import digit_commands
        if args.command == "predict-digit":
            return digit_commands.predict_digit(args.images, args.model, args.ink)
        return digit_commands.eval_digits(args.npz, args.model, args.out)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except UsageError as e:
        return _error(str(e), 2)
    except (files.DataError, digit_pictures.DigitError, keras_h5.KerasFileError, artifacts.Busy) as e:
        return _error(str(e), 1)
    except OSError as e:  # a full disk, a read-only or missing folder, --out naming a file: the system's words
        where = e.filename if e.filename is not None else ""
        return _error(f"{where}: {e.strerror or e}" if where else f"{e.strerror or e}", 1)
    except KeyboardInterrupt as e:
        return _error(f"interrupted ({signals.name(e)}); run the same command again to resume from the last epoch",
                      143 if isinstance(e, signals.Terminated) else 130)


def _camera(args) -> int:
    from jexp.camera import realtime
    from jexp.io import artifacts
    if args.max_frames < 0 or args.max_faces < 1 or not 0 <= args.smooth < 1 or not 0 < args.detect_scale <= 1:
        raise UsageError("--max-frames must be ≥ 0, --max-faces ≥ 1, --smooth in [0, 1) and --detect-scale in (0, 1]")
    try:
        s = realtime.run(args.source, args.model or artifacts.committed(Path("artifacts") / "emotion" / "emotion.h5"),
                         show=args.show, record=args.record, max_frames=args.max_frames,
                         smooth=args.smooth, max_faces=args.max_faces, detect_scale=args.detect_scale)
    except realtime.CameraError as e:
        return _error(str(e), 1)
    print(f"summary: {s.line()}")
    if s.frames_claimed:
        print(f"jexp: warning: {args.source}: its container says {s.frames_claimed} frames, but only {s.frames} "
              "could be read (a truncated or damaged file?)", file=sys.stderr)
    return 1 if s.source_lost else 0


def _serve(args) -> int:
    from jexp.io import artifacts
    from jexp.serve import server
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0-65535, not {args.port}")
    folder = Path(args.models) if args.models else artifacts.committed(Path("artifacts"))
    if not folder.is_dir():
        return _error(f"{folder}: no such folder (--models names a folder laid out like artifacts/)", 1)
    try:
        return server.serve(args.host, args.port, folder)
    except KeyboardInterrupt:
        return 0


def _run(rest: list[str], args, extras: list[str], top) -> int:
    from jexp.cli import runner
    from jexp.runtime import distributed
    run_parser = top.run_parser
    try:  # before any JAX computation
        setup = distributed.settings(args.coordinator, args.num_processes, args.process_id)
    except distributed.SetupError as e:
        raise UsageError(str(e)) from None
    if setup is not None and not args.help:
        try:
            distributed.initialize(setup)
        except Exception as e:  # noqa: BLE001 - JAX's words for an unreachable coordinator, a timeout
            line = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return _error(f"could not join the job at {setup['coordinator']}: {line}", 1)
    if args.name is None:
        if args.help:
            run_parser.print_help()
            return 0
        raise UsageError("run takes one experiment name (or 'all'); see `jexp list`")
    if args.name == "all":
        if args.help:
            run_parser.print_help()
            return 0
        if extras:
            raise UsageError(f"config overrides need one experiment, not 'all' (got {extras[0]})")
        return run_all(args)
    module = registry.load(args.name)
    p = experiment_parser(args.name, module)
    ns, extras = p.parse_known_args(rest)
    if extras and extras[0].startswith("--") and "=" in extras[0]:
        fields = [f[0] for f in configs.config_fields(module.Config)]
        raise UsageError(f"unknown config key {extras[0].split('=', 1)[0]}; valid keys: {', '.join(fields)} "
                         f"(see `jexp run {args.name} --help`)")
    _unknown(extras, f"jexp run {args.name}")
    overrides = {k[4:]: v for k, v in vars(ns).items() if k.startswith("cfg.")}
    t0 = time.perf_counter()
    out = runner.run(args.name, overrides, quick=ns.quick, data_dir=ns.data_dir, out_root=ns.out,
                     resume=not ns.fresh, show_progress=not ns.no_progress)
    where = f"{out}/" if distributed.writes() else f"{out}/ (written by process 0)"
    print(f"{args.name}: done in {time.perf_counter() - t0:.1f}s -> {where}")
    return 0


def run_all(args) -> int:
    """Every experiment in turn; one that fails is reported and the others still run. A summary
    table at the end; exit 1 if any failed."""
    from jexp.cli import report, runner
    from jexp.data import files
    from jexp.io import artifacts
    rows = []
    for name in registry.names():
        t0 = time.perf_counter()
        try:
            out = runner.run(name, {}, quick=args.quick, data_dir=args.data_dir, out_root=args.out,
                             resume=not args.fresh, show_progress=not args.no_progress)
            status, where = "ok", f"{out}/"
        except KeyboardInterrupt:
            raise
        except files.MissingData as e:
            optional = getattr(registry.load(name), "SKIP_WITHOUT_DATA", False)
            status, where = (f"skipped: {e}" if optional else f"failed: {e}"), "-"
        except (files.DataError, UsageError, artifacts.Busy) as e:
            status, where = f"failed: {e}", "-"
        except Exception as e:  # a bug in one experiment must not stop the others
            status, where = f"failed: {type(e).__name__}: {e}".splitlines()[0], "-"
        seconds = time.perf_counter() - t0
        if status.startswith("failed"):
            print(f"jexp: error: {name}: {status[len('failed: '):]}", file=sys.stderr)
        elif status.startswith("skipped"):
            print(f"jexp: note: {name} skipped for missing data: {status[len('skipped: '):]}", file=sys.stderr)
        print(f"{name}: {status.split(':')[0]} in {seconds:.1f}s", flush=True)
        rows.append((name, status, seconds, where))
    failed = [r for r in rows if r[1].startswith("failed")]
    skipped = [r[0] for r in rows if r[1].startswith("skipped")]
    print("\n" + summary_table(rows))
    print(f"{len(rows) - len(failed) - len(skipped)} of {len(rows)} experiments done"
          + (f"; skipped for missing data: {', '.join(skipped)}" if skipped else "")
          + (f"; failed: {', '.join(r[0] for r in failed)}" if failed else ""))
    if not args.quick and args.out == "artifacts":
        print(report.update_readme())
    return 1 if failed else 0


def summary_table(rows: list[tuple[str, str, float, str]], width: int = 100) -> str:
    """``run all``'s closing table: one row per (name, status, seconds, results folder), columns as
    wide as their longest entry, a long status wrapped at word boundaries under its own column
    (never cut)."""
    import textwrap
    heads = ("experiment", "time", "results", "status")
    cells = [(name, f"{seconds:.1f}s", where, status) for name, status, seconds, where in rows]
    w = [max(len(heads[i]), *(len(c[i]) for c in cells)) for i in range(3)]
    indent = sum(w) + 6
    lines = [f"{heads[0]:{w[0]}s}  {heads[1]:>{w[1]}s}  {heads[2]:{w[2]}s}  {heads[3]}"]
    for name, seconds, where, status in cells:
        wrapped = textwrap.wrap(status, max(width - indent, 30), break_long_words=False,
                                break_on_hyphens=False) or [""]
        lines.append(f"{name:{w[0]}s}  {seconds:>{w[1]}s}  {where:{w[2]}s}  {wrapped[0]}")
        lines += [" " * indent + more for more in wrapped[1:]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
