"""Evaluation during training: KID or FID on a held-out set every N epochs, logged to
TensorBoard, with the best checkpoint kept."""

from __future__ import annotations

import json
import os
from typing import Any

import keras
import tensorflow as tf

from keras_attngan.data.sources import load_source
from keras_attngan.metrics import scoring
from keras_attngan.metrics.features import FeatureExtractor, feature_extractor
from keras_attngan.training.strategy import is_chief

BEST_MODEL, BEST_RECORD = "best.keras", "best.json"


class PeriodicEvaluation(keras.callbacks.Callback):
    """Every ``every`` epochs, translates the held-out ``data_a`` (``direction`` a2b;
    ``data_b`` for b2a) and computes ``metric`` ("kid", reported as its mean, or "fid")
    against the other side's real images with ``kag.metrics.evaluate``.

    The value goes into the epoch's logs as ``eval_kid`` / ``eval_fid`` (so ``History``,
    ``TerminateOnNaN`` and ``ModelCheckpoint(monitor=...)`` see it), and to TensorBoard
    as ``eval/kid`` in ``log_dir/eval``. When it is the lowest so far, the model is saved
    to ``best_path`` (default ``log_dir/best.keras``) and the epoch and value to
    ``best.json`` beside it, which a resumed run reads back, so an earlier better model
    is not overwritten. The feature network (``network``, or InceptionV3 with
    ``weights``) and the data sources are set up here, so an unusable network or data
    set stops the run before it starts; the real images' features are computed once,
    when training starts. Held-out sets should hold at least ``kid_subset_size`` images per side.
    """

    def __init__(self, data_a, data_b, every: int = 1, metric: str = "kid",
                 direction: str | None = None, log_dir: str | None = None,
                 best_path: str | None = None,
                 network: FeatureExtractor | keras.Model | str | None = None,
                 weights: str | None = "imagenet", batch_size: int = 16,
                 kid_subsets: int = 10, kid_subset_size: int = 50, seed: int = 0,
                 verbose: int = 1, option: str = "weights"):
        super().__init__()
        if metric not in ("kid", "fid"):
            raise ValueError(f"metric must be 'kid' or 'fid'; got {metric!r}.")
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive number of epochs; got {every!r}.")
        # Sources are read and checked once, here, so bad data fails before training.
        self.data_a, self.data_b = (load_source(d) if d is not None else None
                                    for d in (data_a, data_b))
        self.every, self.metric, self.direction = int(every), metric, direction
        self.log_dir = log_dir
        self.best_path = best_path or (os.path.join(log_dir, BEST_MODEL) if log_dir
                                       else None)
        self.batch_size, self.seed, self.verbose = batch_size, seed, verbose
        self.kid_subsets, self.kid_subset_size = kid_subsets, kid_subset_size
        # Built here, so an unusable network (offline, bad path) stops before training.
        self.extractor: FeatureExtractor = feature_extractor(network, weights, option)
        self.real_features = None
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = self._read_best()
        self._writer = None

    @property
    def log_name(self) -> str:
        """The name the metric is logged under (``eval_kid``, ``eval_fid``)."""
        return f"eval_{self.metric}"

    def _record_path(self) -> str | None:
        return os.path.join(os.path.dirname(os.path.abspath(self.best_path)), BEST_RECORD) \
            if self.best_path else None

    def _read_best(self) -> dict[str, Any] | None:
        path = self._record_path()
        if path and os.path.exists(path):
            with open(path) as f:
                record = json.load(f)
            if record.get("metric") == self.metric:
                return record
        return None

    def on_train_begin(self, logs=None):
        if self.real_features is None:
            direction = self.direction or self.model.directions[0]
            real = self.data_b if direction[-1] == "b" else self.data_a
            if real is None:
                raise ValueError(f"Evaluating {direction} needs the held-out images of "
                                 f"domain {direction[-1].upper()}.")
            self.real_features = scoring.real_image_features(
                real, self.model.image_size, self.extractor, self.batch_size,
                progress=False)

    def _evaluate(self) -> dict[str, Any]:
        return scoring.evaluate(
            self.model, self.data_a, self.data_b, direction=self.direction,
            metrics=[self.metric], network=self.extractor, batch_size=self.batch_size,
            kid_subsets=self.kid_subsets, kid_subset_size=self.kid_subset_size,
            seed=self.seed, grid=0, progress=False, real_features=self.real_features)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        report = self._evaluate()
        result = report["metrics"][self.metric]
        value = result["mean"] if self.metric == "kid" else result["value"]
        entry = {"epoch": epoch + 1, "metric": self.metric, "value": value}
        if self.metric == "kid":
            entry["std"] = result["std"]
        self.history.append(entry)
        if logs is not None:
            logs[self.log_name] = value
        improved = self.best is None or value < self.best["value"]
        if is_chief():
            self._log(epoch + 1, value)
            if improved and self.best_path:
                self.model.save(self.best_path)
                with open(self._record_path(), "w") as f:
                    json.dump({**entry, "model": os.path.abspath(self.best_path),
                               "feature_network": self.extractor.description}, f, indent=2)
        if improved:
            self.best = entry
        if self.verbose:
            shown = f"{100 * value:.3f} (x100)" if self.metric == "kid" else f"{value:.3f}"
            print(f"\nattngan: epoch {epoch + 1}: held-out {self.metric.upper()} {shown}"
                  + (f"; best so far, saved to {self.best_path}" if improved and
                     self.best_path else f"; best {self.best['value']:.4g} at epoch "
                     f"{self.best['epoch']}"))

    def _log(self, step: int, value: float) -> None:
        if not self.log_dir:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "eval"))
        with self._writer.as_default():
            tf.summary.scalar(f"eval/{self.metric}", value, step=step)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
