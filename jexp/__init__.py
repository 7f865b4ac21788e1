"""jexp: a JAX functional experiment suite.

Library modules, one concern each: ``data`` (original-format data sets), ``activations``,
``models`` (the MLP studies' linen MLP), ``nets`` (Sequential linen models from Keras-like layer
specs), ``keras_h5`` (Keras .h5 files), ``train`` (jit/vmap training core), ``augment`` (on-device
digit augmentation), ``digits`` (picture preprocessing, prediction), ``digit_sets`` (out-of-MNIST
checks), ``adversarial`` (generator attacks, PGD, FGSM), ``advplots``, ``cifar10`` (CIFAR-10 binary batches), ``fer2013`` (FER2013 faces: csv, npz, image folders), ``camera`` (live emotion recognition), ``toy`` (hand-written backprop in numpy), ``npmlp`` (the numpy-only MLP), ``embedding``
(PCA, kNN), ``sequences`` (human vs machine), ``theory``, ``gradients``, ``grid`` (many MLPs at
once), ``checkpoint`` (orbax), ``plots`` (studies of many runs), ``evalplots`` (single
classifiers), ``evaluate`` (batched outputs, confusion counts), ``artifacts``, ``experiment``, ``cli`` and
``digit_commands``.
"""
__version__ = "0.1.0"
