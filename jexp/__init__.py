"""jexp: a JAX functional experiment suite.

The package, from the commands down to the primitives (every import runs that way):

- ``jexp.cli``: the ``jexp`` command: ``commands`` (argparse), ``runner`` (one experiment run:
  context, staged artifacts, checkpoints, timing), ``configs`` (``--KEY=VALUE`` and config.json),
  ``report``, ``speed`` and ``realtime_speed`` (the README's results), ``digit_commands``
  (predict-digit, eval-digits).
- ``jexp.experiments``: one short script per experiment (``jexp run NAME``), the ``registry`` that
  lists them, and what several share (``base``, ``grid_study``, ``robust_study``).
- ``jexp.serve``: ``jexp serve``, the models in a web page: ``models`` (what a request computes,
  compiled at start), ``app`` (the Starlette application and its ``Limits``), ``server`` (binding,
  uvicorn) and the page in ``static/``.
- ``jexp.camera``: real-time emotion recognition (``realtime``, ``jexp camera``'s loop) and its end-to-end
  check on videos of known faces (``facevideo``).
- ``jexp.attacks``: adversarial examples: the sheet's ``generator`` attack, ``pgd`` / FGSM, the
  (sample, target) grid of the sheet (``pairs``) and the ``robustness`` checks against gradient masking.
- ``jexp.plots``: figures by subject: ``studies`` (many runs), ``classifiers`` (one model),
  ``attack_figures``.
- ``jexp.io``: files other tools read: Keras ``.h5`` models (``keras_h5``) and a run's ``artifacts``.
- ``jexp.nn``: networks and their training: ``nets`` (Keras-like layer specs), ``convolution``,
  ``architectures``, ``mlp``, ``activations``, ``train`` (a whole epoch in one ``jit``, many runs with ``vmap``),
  ``grid``, ``augment``, ``checkpoint``, ``gradients``, ``evaluate``, ``calibration``, ``embedding``; the numpy-only
  ``numpy_mlp`` and ``toy``; ``sequence_mlp``; ``theory``.
- ``jexp.data``: data sets in their original formats: ``files`` (verified files and downloads),
  ``datasets`` (the splits every reader returns), ``mnist`` (IDX), ``cifar10``, ``svhn_mat``,
  ``fer2013``, ``sequences``, ``ee599_hdf5``; pictures of digits (``digit_pictures``) and the
  out-of-distribution sets (``digit_sets``, ``face_sets``).
- ``jexp.runtime``: how a run executes: its PRNG keys by purpose (``rng``), progress bars,
  ``timing``, the ``machine``, JAX's ``compile_cache``, kernel ``profiling`` and ``distributed``
  (many processes or hosts through JAX's own runtime).

``help(jexp.<sub-package>)`` lists its modules; each module's docstring says what it holds.
"""
__version__ = "0.1.0"
