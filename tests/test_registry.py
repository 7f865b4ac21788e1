"""The experiments' registry and the code hash checkpoints are keyed on (jexp.experiments.registry)."""
from pathlib import Path


from jexp.experiments import registry


def test_checkpoints_are_keyed_on_the_code_as_well_as_the_config(monkeypatch, tmp_path):
    v = registry.code_version("ex1b")
    assert v == registry.code_version("ex1b") and len(v) == 12
    assert v != registry.code_version("ex1c")  # the experiment's own script counts
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: real(p) + (b"# edited" if p.name == "train.py" else b""))
    assert registry.code_version("ex1b") != v  # so does every library module
