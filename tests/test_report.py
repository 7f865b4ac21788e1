from pathlib import Path

from jexp import report

ROOT = Path(__file__).resolve().parents[1]


def test_readme_results_are_generated_from_the_committed_artifacts():
    text = (ROOT / "README.md").read_text()
    generated = report.render(ROOT / "artifacts").replace(str(ROOT / "artifacts"), "artifacts")
    assert generated in text, "README results are stale: run `jexp report` and commit README.md"


def test_full_runs_are_committed_with_five_or_more_seeds():
    for name in ("ex1b", "ex1c", "ex1d"):
        cfg = (ROOT / "artifacts" / name / "config.json").read_text()
        assert '"quick": false' in cfg and '"seeds": 5' in cfg
