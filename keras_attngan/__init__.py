"""keras_attngan: unpaired, attention-guided image-to-image translation GANs in Keras 3.

Public API: ``models``, ``data``, ``callbacks``, ``training``, ``metrics``, ``losses``,
``layers``, ``networks``.
"""

import os as _os

# Keras picks its backend once, at first import: set ours before anything imports keras.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Keep TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) out of users' output;
# an explicit TF_CPP_MIN_LOG_LEVEL wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras as _keras  # noqa: E402

if _keras.backend.backend() != "tensorflow":
    raise ImportError(
        "keras_attngan needs the TensorFlow backend of Keras, but Keras is running on "
        f"{_keras.backend.backend()!r}. Unset KERAS_BACKEND (or set it to 'tensorflow') "
        "before importing keras_attngan."
    )

from keras_attngan import (  # noqa: E402
    data, export, layers, losses, metrics, models, networks, training,
)
from keras_attngan.training import callbacks  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "callbacks",
    "data",
    "export",
    "layers",
    "losses",
    "metrics",
    "models",
    "networks",
    "training",
    "__version__",
]
