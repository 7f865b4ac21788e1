"""Adversarial examples and robustness: ``generator`` (the sheet's attack: many generator networks
optimised at once), ``pgd`` (L∞ PGD and FGSM, for attacks, evaluation and adversarial training),
``pairs`` (every sample against every target class, by both) and ``robustness`` (accuracy under
strong attacks, and the checks that tell real robustness from gradient masking)."""
