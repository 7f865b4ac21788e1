"""The ``jexp`` command: ``commands`` (argparse: list, run, report, predict-digit, eval-digits,
camera), ``runner`` (one experiment run), ``configs`` (typed ``--KEY=VALUE`` overrides, config.json),
``report`` and ``speed`` (the README's results and speed sections) and ``digit_commands``."""
