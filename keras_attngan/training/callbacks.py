"""Callbacks: sample grids, and the default set a training run uses
(``default(model, log_dir)``). The paper schedules are the model's own
(``EpochSchedule``, which ``fit`` adds by itself); it is re-exported here."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_attngan.models.base import EpochSchedule
from keras_attngan.training.strategy import is_chief


def image_grid(rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """Sample rows ({column: images in [-1, 1]}) -> one uint8 picture.

    Each sample image gets a line: its columns side by side (input | translation | ...).
    """
    lines = []
    for row in rows:
        columns = [np.asarray(keras.ops.convert_to_numpy(v), np.float32) for v in row.values()]
        for i in range(columns[0].shape[0]):
            lines.append(np.concatenate([c[i] for c in columns], axis=1))
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=1)
             for line in lines]
    grid = np.concatenate(lines, axis=0)
    return np.clip(np.round((grid + 1.0) * 127.5), 0, 255).astype(np.uint8)


def write_png(path: str, image: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(image))


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, translates fixed sample images and writes the grid as a PNG in
    ``png_dir`` (epoch_0001.png, ...) and as an image summary in ``log_dir``.

    Columns: input | translation | [mask] | [reconstruction], as the model's
    ``sample_rows`` gives them; one line per sample, direction a2b first.
    """

    def __init__(self, samples_a, samples_b, png_dir: str, log_dir: str | None = None,
                 every: int = 1):
        super().__init__()
        self.samples_a = np.asarray(samples_a, np.float32)
        self.samples_b = np.asarray(samples_b, np.float32)
        self.png_dir, self.log_dir, self.every = png_dir, log_dir, max(1, int(every))
        self._writer = None
        self.last_path: str | None = None

    def grid(self) -> np.ndarray:
        return image_grid(self.model.sample_rows(self.samples_a, self.samples_b))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        grid = self.grid()
        self.last_path = os.path.join(self.png_dir, f"epoch_{epoch + 1:04d}.png")
        write_png(self.last_path, grid)
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir,
                                                                          "images"))
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=epoch + 1)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def sample_batch(dataset_or_arrays, count: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` images of each side, from an unpaired dataset or (a, b)."""
    if isinstance(dataset_or_arrays, tf.data.Dataset):
        a_parts, b_parts, have = [], [], 0
        for a, b in dataset_or_arrays:
            a_parts.append(a.numpy())
            b_parts.append(b.numpy())
            have += a.shape[0]
            if have >= count:
                break
        return np.concatenate(a_parts)[:count], np.concatenate(b_parts)[:count]
    a, b = dataset_or_arrays
    return np.asarray(a)[:count], np.asarray(b)[:count]


def default(
    model: keras.Model,
    log_dir: str,
    samples=None,
    backup_freq: int | str = "epoch",
    checkpoint: bool = True,
    sample_every: int = 1,
) -> list[keras.callbacks.Callback]:
    """The callbacks of a training run in folder ``log_dir``.

    - ``backup/``: BackupAndRestore (weights, optimiser state, schedule variables, epoch),
      so a run killed at any point resumes from its last backup when started again with
      the same folder; ``backup_freq`` is "epoch" or a number of steps;
    - the model's paper schedule (``EpochSchedule``; ``fit`` would add it anyway, and
      never twice): stages, curricula and the learning rate, logged in ``history``;
    - TensorBoard scalars (``train/``) and sample grids (``images/``), and the same grid
      as ``samples/epoch_NNNN.png`` (needs ``samples``: an unpaired dataset or (a, b));
    - ``model.keras`` after every epoch; TerminateOnNaN.

    On workers other than the chief of a multi-worker run, files go to a temporary folder.
    """
    if not is_chief():
        log_dir = tempfile.mkdtemp(prefix="attngan_worker_")
    os.makedirs(log_dir, exist_ok=True)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.BackupAndRestore(os.path.join(log_dir, "backup"),
                                         save_freq=backup_freq, delete_checkpoint=False,
                                         double_checkpoint=True),
        EpochSchedule(),
        keras.callbacks.TerminateOnNaN(),
    ]
    if samples is not None:
        a, b = sample_batch(samples)
        callbacks.append(SampleGrid(a, b, os.path.join(log_dir, "samples"), log_dir,
                                    every=sample_every))
    if checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(os.path.join(log_dir, "model.keras")))
    callbacks.append(keras.callbacks.TensorBoard(log_dir, update_freq="epoch",
                                                 write_graph=False))
    return callbacks
