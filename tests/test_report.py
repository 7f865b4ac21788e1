"""The README's results and every committed results.md regenerated from the artifacts; an experiment's
docstring figures tied to its committed run (jexp.cli.report)."""
import json
import re
from pathlib import Path

import pytest

from jexp.cli import report
from jexp.experiments import registry

ROOT = Path(__file__).resolve().parents[1]


def test_readme_results_are_generated_from_the_committed_artifacts():
    text = (ROOT / "README.md").read_text()
    generated = report.render(ROOT / "artifacts").replace(str(ROOT / "artifacts"), "artifacts")
    assert generated in text, "README results are stale: run `jexp report` and commit README.md"


def test_full_runs_are_committed_with_five_or_more_seeds():
    for name in ("ex1b", "ex1c", "ex1d"):
        saved = json.loads((ROOT / "artifacts" / name / "config.json").read_text())
        assert saved["quick"] is False and saved["config"]["seeds"] >= 5
        runs = json.loads((ROOT / "artifacts" / name / "metrics.json").read_text())["runs"]
        cfg = saved["config"]
        assert len(runs) == cfg["seeds"] * len(cfg["depths"]) * len(cfg["activations"])


@pytest.mark.parametrize("name", registry.names())
def test_committed_results_are_regenerated_byte_for_byte_from_metrics(name):
    """Every experiment's results.md is ``results_md(config, metrics)``: a hand edit of a committed
    results.md, or a results text the code would not write from its metrics.json, fails here."""
    import inspect
    module = registry.load(name)
    assert list(inspect.signature(module.results_md).parameters) == ["cfg", "metrics"]
    folder = ROOT / "artifacts" / name
    if not (folder / "results.md").exists():
        pytest.skip(f"{name} has no committed full run")
    assert report.results_from(name, folder) == (folder / "results.md").read_text()


def measured_figures(doc: str) -> list[str]:
    """The decimal numbers and percentages of a docstring's "Measured:" paragraph."""
    if "Measured:" not in doc:
        return []
    part = re.split(r"\n[A-Z][a-z]+:", doc.split("Measured:", 1)[1])[0]
    return re.findall(r"\d+\.\d+|\d+(?= ?%)", part)


@pytest.mark.parametrize("name", [n for n in registry.names() if "Measured:" in registry.load(n).__doc__])
def test_the_figures_a_docstring_reports_are_those_of_the_committed_run(name):
    """A measured figure in an experiment's docstring is one its committed results.md (a function of
    metrics.json) shows, to the digit: a docstring cannot drift from the run it describes."""
    figures = measured_figures(registry.load(name).__doc__)
    results = ROOT / "artifacts" / name / "results.md"
    assert figures, f"{name}: a Measured paragraph without figures"
    text = results.read_text()
    missing = [f for f in figures if not re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", text)]
    assert not missing, f"{name}: docstring figures not in {results}: {missing}"


def test_the_docstring_check_catches_a_figure_the_run_does_not_show():
    doc = "X.\n\nMeasured: (seed 0)\n          88.45 % test accuracy, 12 % else.\nDefaults: 99.9 %"
    assert measured_figures(doc) == ["88.45", "12"]
    text = (ROOT / "artifacts" / "fashion_confusion" / "results.md").read_text()
    assert re.search(r"(?<![\d.])88\.45(?![\d])", text) and not re.search(r"(?<![\d.])88\.46(?![\d])", text)
    assert stated_seconds("X.\n\nCommand:  jexp run x   (about 2.5 min on a 2-core CPU)\nSetting:  ~9 s") == 150
    assert stated_seconds("X.\n\nCommand:  jexp run x   (hours on a 2-core CPU)\nSetting:  about 9 s") is None


def test_the_readmes_notebook_examples_run(fake_data_dir, tmp_path, monkeypatch, capsys):
    """The README's Python blocks, as a notebook user would paste them (on synthetic MNIST, one epoch
    instead of several, a drawn 7 for the photo): the names they import exist and work together."""
    import cv2
    import numpy as np
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text.split("## Code map")[0], re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    seven = np.full((300, 200), 255, np.uint8)
    cv2.line(seven, (40, 50), (160, 50), 0, 18)
    cv2.line(seven, (160, 50), (80, 260), 0, 18)
    cv2.imwrite("photo_of_a_7.jpg", seven)
    scope = {}
    exec(re.sub(r"epochs=\d+", "epochs=1", blocks[0]), scope)
    assert scope["history"]["test_acc"].shape == (8, 2)  # 8 seeds, epochs 0 and 1
    exec(re.sub(r"epochs=\d+", "epochs=1", blocks[1]), scope)
    assert scope["history"]["test_acc"].shape == (2,) and (tmp_path / "my_cnn.h5").exists()
    assert capsys.readouterr().out.strip() in {f"[{d}]" for d in range(10)}  # the photo's digit, as an array


SPREAD = 2.5  # machines of one kind here differ up to 2.5× in absolute time


def stated_seconds(doc: str) -> float | None:
    """The duration a docstring's "Command:" paragraph states ("about 2 min"), in seconds."""
    command = re.split(r"\n[A-Z][a-z]+:", doc.split("Command:", 1)[1])[0]
    m = re.search(r"(?:about|~)\s*(\d+(?:\.\d+)?)\s*(s|min)\b", command)
    return None if m is None else float(m.group(1)) * (60 if m.group(2) == "min" else 1)


@pytest.mark.parametrize("name", registry.names())
def test_the_time_a_docstring_states_is_that_of_the_committed_run(name):
    """A run time in an experiment's docstring is its committed run's timing.json within the spread
    between machines; an experiment whose run recorded no time states none."""
    stated = stated_seconds(registry.load(name).__doc__)
    timing = ROOT / "artifacts" / name / "timing.json"
    if not timing.exists():
        assert stated is None, f"{name}: states {stated} s, but its committed run recorded no time"
        return
    recorded = json.loads(timing.read_text())["seconds"]
    assert stated is not None and 1 / SPREAD <= stated / recorded <= SPREAD, (name, stated, recorded)


def test_the_readmes_first_screen_sets_up_runs_one_experiment_and_names_its_figure():
    """A new user's first screen: the CI's own test command, then one experiment from activation to
    the figure it writes (a committed file), and the full job's duration."""
    first = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in first and "jexp run all" in first and re.search(r"≈ \d+ h", first)
    assert ". .venv/bin/activate" in first and "export JEXP_DATA_DIR=" in first
    run = re.search(r"^jexp run (\w+) +# -> (artifacts/\S+\.md) and (artifacts/\S+\.png)$", first, re.M)
    assert run, "the first screen runs one experiment and names its figure"
    name, results, figure = run.groups()
    assert name in registry.names() and (ROOT / results).exists() and (ROOT / figure).exists()
    assert json.loads((ROOT / "artifacts" / name / "timing.json").read_text())["seconds"] < 5 * 60
