"""keras_attngan: unpaired, attention-guided image-to-image translation GANs in Keras 3.

Public API: ``models``, ``data``, ``callbacks``, ``training``, ``metrics``, ``losses``,
``layers``, ``networks``, ``export``.

The submodules load on first use (``kag.models``, ``from keras_attngan import data``),
so that importing the package, and ``attngan --help``, do not start TensorFlow.
"""

import importlib as _importlib
import os as _os
import sys as _sys

# Keras picks its backend once, at first import: set ours before anything imports keras.
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Keep TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) out of users' output;
# an explicit TF_CPP_MIN_LOG_LEVEL wins (the command line reads it from here).
_USER_TF_LOG_LEVEL = _os.environ.get("TF_CPP_MIN_LOG_LEVEL")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _check_backend() -> None:
    keras = _sys.modules.get("keras")
    backend = (keras.backend.backend() if keras is not None and hasattr(keras, "backend")
               else _os.environ.get("KERAS_BACKEND"))
    if backend != "tensorflow":
        raise ImportError(
            "keras_attngan needs the TensorFlow backend of Keras, but Keras is running on "
            f"{backend!r}. Unset KERAS_BACKEND (or set it to 'tensorflow') before "
            "importing keras_attngan."
        )


_check_backend()

__version__ = "0.2.0"

_SUBMODULES = ("data", "export", "inference", "layers", "losses", "metrics", "models",
               "networks", "training")

__all__ = ["callbacks", *_SUBMODULES, "__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = _importlib.import_module(f"keras_attngan.{name}")
    elif name == "callbacks":  # kag.callbacks is keras_attngan.training.callbacks
        module = _importlib.import_module("keras_attngan.training").callbacks
    else:
        raise AttributeError(f"module 'keras_attngan' has no attribute {name!r}")
    globals()[name] = module
    return module


def __dir__():
    return sorted(set(globals()) | set(__all__))
