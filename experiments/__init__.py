"""One short script per experiment; each composes jexp library functions. See `jexp list`."""
EXPERIMENTS = ("ex1b", "ex1c", "ex1d", "digits", "toyconv", "mnist3", "lrsweep", "autoencoder", "ee599_backprop", "fashion_confusion", "fashion_weights", "humanmachine",
               "adversarial", "adversarial_cifar", "robust", "robust_cifar", "emotion", "svhn")
