"""Callbacks: sample grids, and the default set a training run uses
(``default(model, log_dir)``). The paper schedules are the model's own
(``EpochSchedule``, which ``fit`` adds by itself); it is re-exported here."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_attngan.models.base import EpochSchedule, to_model_range
from keras_attngan.training.strategy import is_chief


class BackupError(ValueError):
    """A run's backup that cannot be read."""


class RunBackup(keras.callbacks.Callback):
    """Backups from which a killed run resumes exactly.

    Each backup is a folder ``backup_dir/state-NNNNNN`` with the weights, every
    optimiser's state and the schedule's variables (``model.weights.h5``), the image
    pools (``pools.npz``) and where the run was (``meta.json``: the epoch in progress and
    the batches it has done, 0 at an epoch's end). It is written under a temporary name
    and renamed, then ``latest.json`` is replaced atomically, and only then is the older
    backup removed: a kill at any moment leaves a complete backup to resume from.

    Saves at every epoch's end and, with ``save_freq`` a number, every that many steps.
    On ``fit``'s start the latest backup is loaded: the run continues at its epoch, and
    the batches that epoch had done are consumed without training
    (``model.skip_batches``), so the run ends with the steps of an uninterrupted one.
    """

    LATEST = "latest.json"

    def __init__(self, backup_dir: str, save_freq: int | str = "epoch"):
        super().__init__()
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"save_freq must be 'epoch' or a positive number of steps; got "
                             f"{save_freq!r}.")
        self.backup_dir, self.save_freq = backup_dir, save_freq
        self._epoch, self._batch, self._since_save = 0, 0, 0
        self.restored: dict[str, Any] | None = None

    # ----------------------------------------------------------------- reading
    @classmethod
    def read_latest(cls, backup_dir: str) -> dict[str, Any] | None:
        """``latest.json`` of ``backup_dir`` ({"state", "epoch", "batch", "steps"}), or
        None when there is no backup yet."""
        path = os.path.join(backup_dir, cls.LATEST)
        if not os.path.exists(path):
            return None
        try:
            with open(path) as f:
                latest = json.load(f)
            latest["epoch"], latest["batch"] = int(latest["epoch"]), int(latest["batch"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BackupError(f"The backup index {path} is unreadable ({error}); remove "
                              f"{backup_dir} to start again, or train into another folder."
                              ) from None
        return latest

    def on_train_begin(self, logs=None):
        latest = self.read_latest(self.backup_dir)
        if latest is None:
            return
        state = os.path.join(self.backup_dir, latest["state"])
        try:
            self.model.load_weights(os.path.join(state, "model.weights.h5"))
            pools = os.path.join(state, "pools.npz")
            if os.path.exists(pools):
                with np.load(pools) as saved:
                    for name, pool in self.model.pools().items():
                        pool.set_state({k: saved[f"{name}/{k}"] for k in ("images", "count")
                                        if f"{name}/{k}" in saved})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise BackupError(
                f"The backup in {state} does not fit this model or is damaged ({error}). "
                f"Resume with the model and options that wrote it, or remove "
                f"{self.backup_dir} to start again.") from None
        self.model._initial_epoch = latest["epoch"]
        self.model.skip_batches(latest["batch"])
        self._epoch, self._batch = latest["epoch"], latest["batch"]
        self.restored = latest

    # ----------------------------------------------------------------- writing
    def on_epoch_begin(self, epoch, logs=None):
        if epoch != self._epoch:
            self._batch = 0
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        done = batch + 1
        if done <= self._batch:  # a batch the resumed epoch had done: skipped, not trained
            return
        if getattr(self.model, "stopped_on_nan", False):
            return  # the last backup keeps the run as it was before the NaN
        self._since_save += done - self._batch
        self._batch = done
        if self.save_freq != "epoch" and self._since_save >= self.save_freq:
            self.save(self._epoch, self._batch)

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model, "stopped_on_nan", False):
            return  # the last backup keeps the run as it was before the NaN
        self.save(epoch + 1, 0)
        self._epoch, self._batch = epoch + 1, 0

    def save(self, epoch: int, batch: int) -> str:
        """Writes a backup of the run at (epoch in progress, batches done)."""
        self._since_save = 0
        os.makedirs(self.backup_dir, exist_ok=True)
        steps = int(keras.ops.convert_to_numpy(self.model.generator_optimizer.iterations))
        name = f"state-{steps:09d}-{epoch:05d}-{batch:06d}"
        staging = tempfile.mkdtemp(prefix=".saving-", dir=self.backup_dir)
        self.model.save_weights(os.path.join(staging, "model.weights.h5"))
        pools = {f"{name_}/{k}": v for name_, pool in self.model.pools().items()
                 for k, v in pool.get_state().items()}
        np.savez(os.path.join(staging, "pools.npz"), **pools)
        from keras_attngan import __version__
        from keras_attngan.models.formats import FORMAT_VERSION

        meta = {"state": name, "epoch": epoch, "batch": batch, "steps": steps,
                "format_version": FORMAT_VERSION, "package_version": __version__}
        with open(os.path.join(staging, "meta.json"), "w") as f:
            json.dump(meta, f)
        final = os.path.join(self.backup_dir, name)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(staging, final)
        index = os.path.join(self.backup_dir, self.LATEST)
        with open(index + ".tmp", "w") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(index + ".tmp", index)
        for entry in os.listdir(self.backup_dir):  # older backups and unfinished ones
            if entry != name and (entry.startswith("state-") or entry.startswith(".saving-")):
                shutil.rmtree(os.path.join(self.backup_dir, entry), ignore_errors=True)
        return final


def logged_steps(directory: str, tag_prefix: str) -> set[int]:
    """The steps at which the event files in ``directory`` hold a summary whose tag
    starts with ``tag_prefix`` (what earlier processes of a resumed run wrote)."""
    steps: set[int] = set()
    if not os.path.isdir(directory):
        return steps
    for name in sorted(os.listdir(directory)):
        if not name.startswith("events."):
            continue
        try:
            for event in tf.compat.v1.train.summary_iterator(os.path.join(directory, name)):
                if any(v.tag.startswith(tag_prefix) for v in event.summary.value):
                    steps.add(int(event.step))
        except tf.errors.DataLossError:  # a record cut short by a kill: the rest is lost
            pass
    return steps


PENDING_SCALARS = ".json.pending"


def _write_scalars(record: dict[str, Any], train_writer, val_writer) -> None:
    """One epoch's pending scalars to TensorBoard, as Keras' callback writes them:
    ``epoch_NAME`` at the epoch's step, ``val_`` ones in the validation writer."""
    scalars = record["scalars"]
    for writer, part in ((train_writer, {k: v for k, v in scalars.items()
                                         if not k.startswith("val_")}),
                         (val_writer, {k[4:]: v for k, v in scalars.items()
                                       if k.startswith("val_")})):
        if part:
            with writer.as_default():
                for name, value in part.items():
                    tf.summary.scalar(f"epoch_{name}", value, step=record["epoch"])
            writer.flush()


def publish_pending_scalars(log_dir: str, backed_up_epochs: int) -> None:
    """Epoch scalars a killed process left pending in ``log_dir/train``: those of the
    ``backed_up_epochs`` epochs its backup holds are written, unless the event files hold
    them already (a kill between the write and the file's removal); those of an epoch
    being redone are dropped. Called when a run resumes (or finds itself finished)."""
    scalar_dir = os.path.join(log_dir, "train")
    leftovers = sorted(n for n in os.listdir(scalar_dir) if n.endswith(PENDING_SCALARS)) \
        if os.path.isdir(scalar_dir) else []
    if not leftovers:
        return
    done, writers = logged_steps(scalar_dir, "epoch_"), {}

    def writer(name):
        if name not in writers:
            writers[name] = tf.summary.create_file_writer(os.path.join(log_dir, name))
        return writers[name]

    for name in leftovers:
        path = os.path.join(scalar_dir, name)
        number = int(name[len(".epoch_"):-len(PENDING_SCALARS)])
        if number < backed_up_epochs and number not in done:
            with open(path) as f:
                record = json.load(f)
            has_val = any(k.startswith("val_") for k in record["scalars"])
            _write_scalars(record, writer("train"), writer("validation") if has_val else None)
        os.remove(path)
    for w in writers.values():
        w.close()


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard whose epoch scalars are written once their epoch is backed up.

    At an epoch's end the scalars are kept in ``train/.epoch_NNNNNN.json.pending``; they
    are written and flushed when the next epoch starts or training ends, which in
    ``default()``'s order is after ``RunBackup`` has committed that epoch. When a resumed
    run starts, ``publish_pending_scalars`` writes those of epochs its backup holds and
    drops those of an epoch being redone. So every epoch is logged exactly once,
    at its own step, however many kills (buffered events die with a killed process).
    """

    def __init__(self, log_dir: str, **kwargs):
        kwargs.setdefault("update_freq", "epoch")
        kwargs.setdefault("write_graph", False)
        super().__init__(log_dir, **kwargs)
        self._pending_dir = os.path.join(log_dir, "train")
        self._pending: list[str] = []
        self._checked_leftovers = False

    def _pending_path(self, epoch: int) -> str:
        return os.path.join(self._pending_dir, f".epoch_{epoch:06d}{PENDING_SCALARS}")

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        if not self._checked_leftovers:  # what a killed process left: its backup's epochs
            self._checked_leftovers = True
            publish_pending_scalars(self.log_dir, epoch)
        self._publish()

    def on_epoch_end(self, epoch, logs=None):
        values = {k: keras.ops.convert_to_numpy(v) for k, v in (logs or {}).items()}
        scalars = {k: float(v) for k, v in values.items() if np.ndim(v) == 0}
        if self.write_steps_per_second:
            scalars["steps_per_second"] = self._compute_steps_per_second()
        os.makedirs(self._pending_dir, exist_ok=True)
        path = self._pending_path(epoch)
        with open(path + ".tmp", "w") as f:
            json.dump({"epoch": epoch, "scalars": scalars}, f)
        os.replace(path + ".tmp", path)
        self._pending.append(path)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    def _publish(self) -> None:
        for path in self._pending:
            with open(path) as f:
                record = json.load(f)
            has_val = any(k.startswith("val_") for k in record["scalars"])
            _write_scalars(record, self._train_writer, self._val_writer if has_val else None)
            os.remove(path)
        self._pending = []

    def on_train_end(self, logs=None):
        self._publish()
        super().on_train_end(logs)


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


class TerminateOnNaN(keras.callbacks.Callback):
    """Stops training at the first batch whose losses are not finite, says which, and
    keeps ``RunBackup`` from saving the broken state. (Keras' own TerminateOnNaN looks
    only at a "loss" entry, which these models, with one loss per network, do not
    log.)"""

    def on_train_batch_end(self, batch, logs=None):
        names = getattr(self.model, "loss_names", ())
        broken = [name for name in names if name in (logs or {})
                  and not np.all(np.isfinite(keras.ops.convert_to_numpy(logs[name])))]
        if broken:
            print(f"attngan: batch {batch + 1}: {', '.join(broken)} not finite; training "
                  "stopped (the last backup holds the run before it).")
            self.model.stopped_on_nan = True
            self.model.stop_training = True


def write_png(path: str, image: np.ndarray) -> None:
    """Writes a uint8 image as a PNG, creating its folder."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(image))


PENDING_GRID = ".png.pending"


def _log_grid(writer, path: str, epoch: int) -> None:
    grid = tf.io.decode_png(tf.io.read_file(path))
    with writer.as_default():
        # the epoch index, the step Keras' TensorBoard gives epoch scalars
        tf.summary.image("samples", grid[None], step=epoch)
    writer.flush()


def publish_pending_grids(png_dir: str, log_dir: str | None,
                          backed_up_epochs: int) -> str | None:
    """Sample grids a killed process left pending in ``png_dir``: those of the
    ``backed_up_epochs`` epochs its backup holds are logged to ``log_dir/images`` (unless
    the event files hold them already: a kill between the log and the rename) and
    renamed; those of an epoch being redone are removed. Returns the last published
    path. Called when a run resumes (or finds itself finished)."""
    leftovers = sorted(n for n in os.listdir(png_dir) if n.endswith(PENDING_GRID)) \
        if os.path.isdir(png_dir) else []
    if not leftovers:
        return None
    images = os.path.join(log_dir, "images") if log_dir else None
    logged = logged_steps(images, "samples") if images else set()
    writer, last = None, None
    for name in leftovers:
        path = os.path.join(png_dir, name)
        epoch = int(name[len("epoch_"):-len(PENDING_GRID)]) - 1  # files count from 1
        if epoch < backed_up_epochs:
            if images and epoch not in logged:
                writer = writer or tf.summary.create_file_writer(images)
                _log_grid(writer, path, epoch)
            last = path[:-len(".pending")]
            os.replace(path, last)
        else:
            os.remove(path)
    if writer is not None:
        writer.close()
    return last


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, translates fixed sample images and writes the grid as a PNG in
    ``png_dir`` (epoch_0001.png, ...) and as an image summary in ``log_dir``.

    Columns: input | translation | [mask] | [reconstruction], as the model's
    ``sample_rows`` gives them; one line per sample, direction a2b first.

    The grid is written as ``epoch_NNNN.png.pending`` at the epoch's end and published
    (renamed, and logged to TensorBoard) when the next epoch starts or training ends, so
    that in ``default()``'s order the run's backup is committed in between: a run killed
    before that commit redoes the epoch and its grid, one killed after it publishes the
    pending grid when it resumes. No grid is lost or written twice.
    """

    def __init__(self, samples_a, samples_b, png_dir: str, log_dir: str | None = None,
                 every: int = 1):
        super().__init__()
        # uint8 samples are scaled to [-1, 1] like translate's input; floats must be there
        self.samples_a, self.samples_b = (to_model_range(s)[0] for s in (samples_a,
                                                                          samples_b))
        self.png_dir, self.log_dir, self.every = png_dir, log_dir, max(1, int(every))
        self._writer = None
        self._pending: list[tuple[int, str]] = []
        self._checked_leftovers = False
        self.last_path: str | None = None

    def grid(self) -> np.ndarray:
        """The grid of the model's sample rows for the fixed inputs, uint8."""
        return image_grid(self.model.sample_rows(self.samples_a, self.samples_b))

    def on_epoch_begin(self, epoch, logs=None):
        if not self._checked_leftovers:  # grids a killed process left pending
            self._checked_leftovers = True
            self.last_path = publish_pending_grids(self.png_dir, self.log_dir,
                                                   epoch) or self.last_path
        self._publish()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        path = os.path.join(self.png_dir, f"epoch_{epoch + 1:04d}{PENDING_GRID}")
        write_png(path, self.grid())
        self._pending.append((epoch, path))

    def _publish(self) -> None:
        # image summary first, then the rename: a kill in between leaves the grid pending,
        # and publish_pending_grids renames it without logging it twice
        for epoch, pending in self._pending:
            if self.log_dir:
                if self._writer is None:
                    self._writer = tf.summary.create_file_writer(
                        os.path.join(self.log_dir, "images"))
                _log_grid(self._writer, pending, epoch)
            final = pending[:-len(".pending")]
            os.replace(pending, final)
            self.last_path = final
        self._pending = []

    def on_train_end(self, logs=None):
        self._publish()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class MaskIoU(keras.callbacks.Callback):
    """Every ``every`` epochs, the IoU of the model's masks on held-out ``images`` with
    their ground-truth object ``masks`` (``kag.metrics.mask_iou``, both at 0.5), added to
    the epoch's logs as ``mask_iou_a`` (``mask_iou_b`` for ``direction="b2a"``), so it
    reaches ``history`` and TensorBoard (put it before the TensorBoard callback). Beside
    it, where the mask goes: its mean on the objects (``mask_objects_a``) and on the
    rest (``mask_background_a``); a mask that leans to the objects below 0.5 shows there
    before the IoU moves."""

    def __init__(self, images, masks, direction: str = "a2b", every: int = 1,
                 batch_size: int = 16):
        super().__init__()
        self.images, self.masks = np.asarray(images), np.asarray(masks)
        if len(self.images) != len(self.masks):
            raise ValueError(f"MaskIoU: {len(self.images)} images but {len(self.masks)} "
                             "masks; pass one ground-truth mask per image.")
        self.direction, self.every, self.batch_size = direction, int(every), batch_size
        self.key = f"mask_iou_{direction[0]}"

    def on_train_begin(self, logs=None):
        if not getattr(self.model, "has_attention", False):
            raise ValueError(f"MaskIoU: {type(self.model).__name__} has no attention mask.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        from keras_attngan.metrics import mask_iou
        from keras_attngan.metrics.image import mask_values

        out = self.model.translate(self.images, direction=self.direction,
                                   batch_size=self.batch_size)
        logs[self.key] = float(mask_iou(out["mask"], self.masks))
        predicted, objects = mask_values(out["mask"]), mask_values(self.masks) > 0.5
        domain = self.direction[0]
        for name, where in (("objects", objects), ("background", ~objects)):
            if where.any():
                logs[f"mask_{name}_{domain}"] = float(predicted[where].mean())


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

    - ``backup/``: ``RunBackup`` (weights, optimiser state, schedule variables, image
      pools, epoch and batch, written atomically), so a run killed at any point resumes
      from its last backup when started again with the same folder, and ends with the
      epochs and steps of an uninterrupted run; ``backup_freq`` is "epoch" or a number of
      steps (backups are also written at every epoch's end);
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
    # Order at an epoch's end: the schedule's logs, the sample grid and TensorBoard's
    # scalars (both left pending), the backup (committed), then model.keras. Pending
    # grids and scalars are published when the next epoch starts: a kill before the
    # commit redoes the epoch and drops them, one after it publishes them on resume.
    callbacks: list[keras.callbacks.Callback] = [
        EpochSchedule(),
        TerminateOnNaN(),
    ]
    if samples is not None:
        a, b = sample_batch(samples)
        callbacks.append(SampleGrid(a, b, os.path.join(log_dir, "samples"), log_dir,
                                    every=sample_every))
    callbacks += [TensorBoard(log_dir),
                  RunBackup(os.path.join(log_dir, "backup"), save_freq=backup_freq)]
    if checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(os.path.join(log_dir, "model.keras")))
    return callbacks
