"""Moved to ``keras_attngan.benchmarks.tasks``; this name stays importable (the same
module object, so attributes set on one are seen through the other)."""

import sys as _sys

from keras_attngan.benchmarks import tasks as _moved

_sys.modules[__name__] = _moved
