"""The experiments: one short script per experiment (``jexp run NAME``), each composing library
functions; ``registry`` lists them and ``base``, ``grid_study`` and ``robust_study`` hold what several
scripts share. See ``jexp list`` and ``registry``'s docstring for what a script defines."""
