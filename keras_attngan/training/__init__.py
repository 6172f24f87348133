"""Training machinery: strategies, callbacks and evaluation during training."""

from keras_attngan.training import callbacks, evaluation
from keras_attngan.training.evaluation import PeriodicEvaluation
from keras_attngan.training.strategy import cluster_workers, is_chief, strategy

# ``kag.callbacks`` is the callbacks module: make the evaluation callback reachable there
# too (kag.callbacks.PeriodicEvaluation), beside the ones default() assembles.
if not hasattr(callbacks, "PeriodicEvaluation"):
    callbacks.PeriodicEvaluation = PeriodicEvaluation

__all__ = ["PeriodicEvaluation", "callbacks", "cluster_workers", "evaluation", "is_chief",
           "strategy"]
