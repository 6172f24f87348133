"""The image pool: a history of generated images that discriminators train on."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf


class ImagePool:
    """History of generated images (Shrivastava et al. 2017) that discriminators train on.

    Until the pool is full each new image is stored and returned; afterwards, with
    probability 0.5, a stored image is returned and replaced by the new one, otherwise the
    new image is returned. The history lives in sync-on-read variables, so each replica
    keeps its own and the pool works inside a compiled ``train_step``. It is not part of
    checkpoints or ``.keras`` files (neither is it in the reference); run backups
    (``callbacks.RunBackup``) save and restore it through ``get_state`` / ``set_state``.
    """

    def __init__(self, size: int, image_shape: Sequence[int], name: str = "image_pool"):
        self.size = int(size)
        if self.size <= 0:
            return
        variable = dict(
            trainable=False,
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.NONE,
        )
        self.images = tf.Variable(
            tf.zeros((self.size, *image_shape), "float32"), name=f"{name}_images", **variable
        )
        self.count = tf.Variable(0, dtype=tf.int32, name=f"{name}_count", **variable)

    def get_state(self) -> dict[str, np.ndarray]:
        """The history as numpy arrays (one replica's: each replica keeps its own)."""
        if self.size <= 0:
            return {}
        return {"images": _first_replica(self.images), "count": _first_replica(self.count)}

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restores a history that ``get_state`` returned (to every replica)."""
        if self.size <= 0 or not state:
            return
        for variable, key in ((self.images, "images"), (self.count, "count")):
            value = np.asarray(state[key])
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"The saved image pool holds {key} of shape {value.shape}; "
                                 f"this model's pool has {tuple(variable.shape)}.")
            for component in getattr(variable, "values", None) or (variable,):
                component.assign(value.astype(variable.dtype.as_numpy_dtype))

    def query(self, images: tf.Tensor) -> tf.Tensor:
        """For each image of the batch, the image itself or one from the history (see
        the class)."""
        if self.size <= 0:
            return images
        dtype = images.dtype
        images = tf.cast(images, "float32")
        count = tf.shape(images)[0]

        def body(i, outputs):
            return i + 1, outputs.write(i, self._query_one(images[i]))

        _, outputs = tf.while_loop(lambda i, _: i < count, body,
                                   (tf.constant(0), tf.TensorArray(tf.float32, size=count)))
        result = outputs.stack()
        result.set_shape(images.shape)
        return tf.cast(result, dtype)

    def _query_one(self, image: tf.Tensor) -> tf.Tensor:
        def put(slot):
            # Sync-on-read variables have no scatter update: assign the updated history.
            history = self.images.read_value()
            return self.images.assign(tf.tensor_scatter_nd_update(history, [[slot]],
                                                                  image[None]))

        def store():
            slot = self.count.read_value()
            with tf.control_dependencies([put(slot)]):
                with tf.control_dependencies([self.count.assign_add(1)]):
                    return tf.identity(image)

        def swap():
            slot = tf.random.uniform((), 0, self.size, dtype=tf.int32)
            old = tf.identity(self.images.read_value()[slot])
            with tf.control_dependencies([old]):
                with tf.control_dependencies([put(slot)]):
                    return tf.identity(old)

        def keep():
            return tf.identity(image)

        def replace_or_keep():
            return tf.cond(tf.random.uniform(()) < 0.5, swap, keep)

        return tf.cond(self.count.read_value() < self.size, store, replace_or_keep)


def _first_replica(variable) -> np.ndarray:
    values = getattr(variable, "values", None)  # a distributed variable's components
    return np.array((values[0] if values else variable).numpy())

