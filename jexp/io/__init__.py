"""Files that other tools read: ``keras_h5`` (Keras ``.h5`` models written and read with h5py alone,
and ``load_classifier``, any such file as a classifier function) and ``artifacts`` (a run's outputs:
staged, then swapped in whole; strict JSON; the results pages' Markdown)."""
