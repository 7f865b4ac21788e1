"""How a run executes, below everything else: ``rng`` (every PRNG key derived once, by purpose, from
the config's seed), ``progress`` (tqdm bars), ``timing`` (a run's timing.json), ``machine`` (the CPU
or accelerator, in words), ``compile_cache`` (JAX's persistent compilation cache for the commands),
``profiling`` (per-kernel times from JAX's profiler), ``signals`` (SIGTERM stops a command as
Ctrl-C does) and ``distributed`` (a job of many processes or hosts: set-up, gathering results,
which process writes; docs/scale.md)."""
