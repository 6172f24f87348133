"""Training machinery: strategies and callbacks."""

from keras_attngan.training import callbacks
from keras_attngan.training.strategy import cluster_workers, is_chief, strategy

__all__ = ["callbacks", "cluster_workers", "is_chief", "strategy"]
