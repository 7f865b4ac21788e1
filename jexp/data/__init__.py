"""Data sets in their original file formats, read from a data directory the user names.

``files`` finds, fetches (through tensorflow-datasets) and verifies the files; ``datasets`` holds the
splits every reader returns. One reader per format: ``mnist`` (IDX: MNIST, Fashion-MNIST),
``cifar10`` (binary batches), ``svhn_mat`` (SVHN's MATLAB files), ``fer2013`` (csv, image folders,
npz), ``sequences`` (the EE599 human/machine sequences, HDF5), ``ee599_hdf5`` (the EE599 course's
MNIST files). ``digit_pictures`` brings any picture of a digit to MNIST's convention; ``digit_sets``
and ``face_sets`` build the out-of-distribution checks of the digit and emotion models."""
