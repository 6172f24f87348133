"""unpaired(): two image sources -> a tf.data pipeline of (a_batch, b_batch) pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from keras_attngan.data.sources import DataError, Source, load_source


def preprocess(image: tf.Tensor, seed: tf.Tensor | None, image_size: int, load_size: int,
               augment: bool) -> tf.Tensor:
    """uint8 RGB -> float32 in [-1, 1], as CycleGAN's 'resize_and_crop' + flip.

    Training: resize to ``load_size`` (bicubic), random ``image_size`` crop, random
    horizontal flip. Evaluation: resize to ``image_size`` only.
    """
    image = tf.cast(image, tf.float32)
    if augment:
        image = tf.image.resize(image, (load_size, load_size), method="bicubic")
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        image = tf.image.stateless_random_crop(image, (image_size, image_size, 3), crop_seed)
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    else:
        image = tf.image.resize(image, (image_size, image_size), method="bicubic")
    image = tf.clip_by_value(image, 0.0, 255.0)
    return image / 127.5 - 1.0


def unpaired(
    a: Any,
    b: Any,
    image_size: int = 256,
    load_size: int | None = 286,
    batch_size: int = 1,
    augment: bool = True,
    shuffle: bool = True,
    seed: int | None = None,
    skip_corrupt: bool = False,
    validate: bool = True,
    data_dir: str | None = None,
    shuffle_buffer: int = 10_000,
    labels_a: Any = None,
) -> tf.data.Dataset:
    """Unpaired training pairs: yields (a_batch, b_batch), float32 in [-1, 1].

    ``a``, ``b``: a tfds "name:split", a folder of images, a uint8 array (N, H, W, C) or a
    tf.data.Dataset of images. The two sides are shuffled independently; an epoch is
    max(|A|, |B|) pairs (the shorter side cycles, reshuffled), as in the CycleGAN
    reference. ``batch_size`` is the global batch (split across replicas under
    tf.distribute); the last partial batch is dropped. ``seed`` makes the order and the
    augmentation reproducible. ``augment=False`` is evaluation mode: resize only, and with
    ``shuffle=False`` one pass over each side in order.

    ``labels_a``: integer labels of the A images (same order and count); batches are
    then (a_batch, b_batch, a_labels), for models that use source labels (DA-GAN).

    Every source is checked here, before training: empty folders, corrupt files (named,
    or left out and counted with ``skip_corrupt=True``), arrays of the wrong dtype or
    shape, unknown or undownloadable tfds names.
    """
    if load_size is None or not augment:
        load_size = image_size
    if load_size < image_size:
        raise DataError(f"load_size={load_size} is smaller than image_size={image_size}.")
    if batch_size < 1:
        raise DataError(f"batch_size must be positive; got {batch_size}.")
    sources = [load_source(s, skip_corrupt=skip_corrupt, validate=validate,
                           data_dir=data_dir) for s in (a, b)]
    epoch = max(s.size for s in sources)
    if epoch < batch_size:
        raise DataError(
            f"batch_size={batch_size} is larger than the bigger domain "
            f"({epoch} images): no full batch can be made."
        )
    if labels_a is not None:
        labels_a = np.asarray(labels_a)
        if labels_a.shape != (sources[0].size,) or not np.issubdtype(labels_a.dtype,
                                                                     np.integer):
            raise DataError(f"labels_a must be {sources[0].size} integer labels, one per A "
                            f"image; got shape {labels_a.shape}, dtype {labels_a.dtype}.")
    sides = [
        _side(source, seed=None if seed is None else seed + 1000 * i, image_size=image_size,
              load_size=load_size, augment=augment, shuffle=shuffle,
              shuffle_buffer=shuffle_buffer, labels=labels_a if i == 0 else None)
        for i, source in enumerate(sources)
    ]
    pairs = tf.data.Dataset.zip(tuple(sides)).take(epoch)
    if labels_a is not None:
        pairs = pairs.map(lambda a, b: (a[0], b, a[1]))
    pairs = pairs.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Shard pairs of batches, not files: the two sides are zipped, so file-level sharding
    # does not apply. With the same seed on each worker the shards are disjoint.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return pairs.with_options(options)


def _side(source: Source, seed: int | None, image_size: int, load_size: int, augment: bool,
          shuffle: bool, shuffle_buffer: int, labels=None) -> tf.data.Dataset:
    """One domain's endless stream of preprocessed images (or (image, label) pairs)."""
    items = source.items
    if labels is not None:  # labels travel with their items through the shuffle
        items = tf.data.Dataset.zip((items, tf.data.Dataset.from_tensor_slices(labels)))
    else:
        items = items.map(lambda item: (item, tf.constant(0, tf.int64)))
    if shuffle:
        items = items.shuffle(min(source.size, shuffle_buffer), seed=seed,
                              reshuffle_each_iteration=True)
    items = items.repeat()
    decode = source.decode or (lambda image: image)
    random_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def prepare(item_and_label, random_seed):
        item, label = item_and_label
        image = preprocess(decode(item), random_seed, image_size, load_size, augment)
        return (image, label) if labels is not None else image

    return tf.data.Dataset.zip((items, random_seeds)).map(
        prepare, num_parallel_calls=tf.data.AUTOTUNE)
