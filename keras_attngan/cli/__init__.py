"""``attngan train | translate | export | evaluate | demo | bench``: a thin shell over the
library. Each verb is a module of this package that adds its options to the parser,
calls the library and prints; importing it does not start TensorFlow."""

from keras_attngan.cli.app import available, entry_point, main, parser
from keras_attngan.cli.names import METRIC_NAMES, MODEL_NAMES

__all__ = ["METRIC_NAMES", "MODEL_NAMES", "available", "entry_point", "main", "parser"]
