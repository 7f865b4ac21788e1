"""jexp: a JAX functional experiment suite.

Library modules, one concern each: ``data`` (original-format data sets), ``activations``,
``models`` (flax linen), ``train`` (jit/vmap training core), ``gradients``, ``grid`` (many MLPs
at once), ``checkpoint`` (orbax), ``plots``, ``artifacts``, ``experiment`` and ``cli``.
"""
__version__ = "0.1.0"
