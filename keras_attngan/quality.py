"""Moved to ``keras_attngan.benchmarks.quality``; this name stays importable (the same
module object, so attributes set on one are seen through the other)."""

import sys as _sys

from keras_attngan.benchmarks import quality as _moved

_sys.modules[__name__] = _moved
