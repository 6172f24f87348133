"""The benchmarks behind ``attngan bench``: ``speed`` (training step, data pipeline,
export, feature extraction), ``quality`` (train on a generated task, score against its
ground truth) and ``tasks`` (the generated tasks). Import the one you need:
``from keras_attngan.benchmarks import quality``."""
