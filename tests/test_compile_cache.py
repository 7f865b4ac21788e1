"""JAX's persistent compilation cache for the commands (jexp.runtime.compile_cache)."""


def test_the_compile_cache_goes_where_the_environment_says_or_nowhere(monkeypatch, tmp_path):
    import jax

    from jexp.runtime import compile_cache
    before = jax.config.jax_compilation_cache_dir
    try:
        monkeypatch.setenv("JEXP_NO_COMPILE_CACHE", "1")
        assert compile_cache.enable() is None and jax.config.jax_compilation_cache_dir == before
        monkeypatch.setenv("JEXP_NO_COMPILE_CACHE", "0")
        monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert compile_cache.enable() == str(tmp_path / "jexp" / "xla") == jax.config.jax_compilation_cache_dir
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "own"))
        assert compile_cache.enable() == str(tmp_path / "own")
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
