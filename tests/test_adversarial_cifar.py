"""The CIFAR-10 attack experiment end to end on synthetic batches (jexp.experiments.adversarial_cifar)."""
import json


from jexp.cli import commands


def test_cifar_attack_experiment_on_synthetic_data(cifar_dir, tmp_path, capsys):
    out = tmp_path / "artifacts"
    args = ["run", "adversarial_cifar", "--quick", "--no-progress", f"--out={out}", "--max_rounds=3"]
    assert commands.main(args) == 0, capsys.readouterr().err
    folder = out / "adversarial_cifar" / "quick"
    m = json.loads((folder / "metrics.json").read_text())
    assert m["data"]["train_files"] == ["data_batch_1.bin", "data_batch_2.bin"] and len(m["generators"]) == 10
    assert (folder / "cifar.h5").exists() and (folder / "grid.png").exists()
    assert "test_batch_first1000.bin" in (folder / "results.md").read_text()
