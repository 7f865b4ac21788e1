"""Networks and their training, as pure functions.

``nets`` builds ``Sequential`` linen models from Keras-like layer specs (and a trained net as a
classifier function), its convolutions computed by ``convolution`` (Winograd F(2×2, 3×3) and im2col
as matmuls); ``architectures`` holds the suite's networks; ``mlp`` the MLP studies' model
(several activations in one program); ``activations`` (LeCun's among them). ``train`` trains a whole
epoch inside one ``jit`` and many runs at once with ``vmap``; ``grid`` trains every (depth,
activation, seed) of an MLP study; ``augment`` distorts batches on device; ``checkpoint`` saves and
resumes with orbax; ``gradients`` gives exact per-layer gradient statistics; ``evaluate`` batched
outputs and confusion counts; ``calibration`` temperature scaling and the expected calibration error; ``embedding`` PCA and kNN. Written out by hand in numpy:
``numpy_mlp`` (EE599's backprop) and ``toy`` (the toy convnet). ``sequence_mlp`` is the
human-vs-machine classifier; ``theory`` the numeric companions of docs/theory.md."""
