"""The CIFAR-10 attack experiment end to end on synthetic batches (jexp.experiments.adversarial_cifar)."""
import json

import numpy as np


from jexp.cli import commands


def test_cifar_attack_experiment_on_synthetic_data(cifar_dir, tmp_path, capsys):
    out = tmp_path / "artifacts"
    args = ["run", "adversarial_cifar", "--quick", "--no-progress", f"--out={out}", "--max_rounds=3"]
    assert commands.main(args) == 0, capsys.readouterr().err
    folder = out / "adversarial_cifar" / "quick"
    m = json.loads((folder / "metrics.json").read_text())
    assert m["data"]["train_files"] == ["data_batch_1.bin", "data_batch_2.bin"] and len(m["generators"]) == 10
    assert (folder / "cifar.h5").exists() and (folder / "grid.png").exists()
    text = (folder / "results.md").read_text()
    assert "test_batch_first1000.bin" in text and "2 test images × every target" in text
    assert m["many"]["attacks"] == 18 and len(m["many_samples"]) == 2 and (folder / "per_target.png").exists()
    saved = np.load(folder / "generators_cifar.npz")
    assert saved["images"].shape == (20, 32, 32, 3) and set(saved["samples"]) == set(m["many_samples"])
