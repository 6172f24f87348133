"""Multi-domain training data (one model for m domains, e.g. RaFD's 8 expressions):
images with their domain labels, from a folder per domain, RaFD's file names, or arrays."""

from __future__ import annotations

import os
import re
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from keras_attngan.data.pipeline import preprocess
from keras_attngan.data.sources import DataError, decode_image, list_images

#: RaFD's expressions in its file names (Rafd090_01_Caucasian_female_angry_frontal.jpg)
RAFD_EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral",
                    "sad", "surprised")
_RAFD_NAME = re.compile(r"^Rafd\d+_\d+_[A-Za-z]+_[A-Za-z]+_([A-Za-z]+)_[A-Za-z]+\.\w+$")


def domain_files(folder: str) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """(image paths, domain labels, domain names) of ``folder``: one sub-folder of images
    per domain (named in sorted order), or RaFD's flat layout, whose file names carry the
    expression (its 8 expressions, in RaFD_EXPRESSIONS order)."""
    if not os.path.isdir(folder):
        raise DataError(f"No folder {folder!r}: multi-domain data is a folder with one "
                        "sub-folder of images per domain, or RaFD's images.")
    names = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))
                   and not d.startswith("."))
    if names:
        paths, labels = [], []
        for index, name in enumerate(names):
            files = list_images(os.path.join(folder, name))
            if not files:
                raise DataError(f"Domain folder {os.path.join(folder, name)!r} holds no "
                                "images.")
            paths += files
            labels += [index] * len(files)
        if len(names) < 2:
            raise DataError(f"{folder!r} has one domain sub-folder ({names[0]!r}); a "
                            "multi-domain model needs at least two.")
        return paths, np.asarray(labels, np.int64), tuple(names)
    files = list_images(folder)
    parsed = [_RAFD_NAME.match(os.path.basename(f)) for f in files]
    if files and all(parsed):
        expressions = [m.group(1).lower() for m in parsed]
        unknown = sorted(set(expressions) - set(RAFD_EXPRESSIONS))
        if unknown:
            raise DataError(f"{folder!r}: RaFD file names with unknown expressions "
                            f"{unknown}; RaFD's are {', '.join(RAFD_EXPRESSIONS)}.")
        labels = np.asarray([RAFD_EXPRESSIONS.index(e) for e in expressions], np.int64)
        return files, labels, RAFD_EXPRESSIONS
    raise DataError(f"{folder!r} has neither domain sub-folders nor RaFD file names "
                    "(Rafd090_01_Caucasian_female_angry_frontal.jpg): put each domain's "
                    "images in a sub-folder of their own.")


def multidomain(
    source: Any,
    image_size: int = 128,
    load_size: int | None = None,
    batch_size: int = 16,
    augment: bool = True,
    shuffle: bool = True,
    seed: int | None = None,
    n_domains: int | None = None,
) -> tf.data.Dataset:
    """Batches (images, domain labels): float32 in [-1, 1] and int64, for multi-domain
    models (``aggan_multidomain``). ``source``: a folder (see ``domain_files``) or a pair
    (uint8 images (N, H, W, 3), integer labels (N,)). Preprocessing as ``unpaired``:
    resize to ``load_size``, random crop and flip when ``augment``; the last partial
    batch is dropped. ``n_domains``: refuse labels outside [0, n_domains)."""
    load_size = image_size if load_size is None or not augment else load_size
    if isinstance(source, (str, os.PathLike)):
        paths, labels, _ = domain_files(os.fspath(source))
        items = tf.data.Dataset.from_tensor_slices(paths)
        decode = lambda path: decode_image(tf.io.read_file(path))  # noqa: E731
        size = len(paths)
    elif isinstance(source, Sequence) and len(source) == 2:
        images, labels = np.asarray(source[0]), np.asarray(source[1])
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise DataError(f"Multi-domain images must be uint8 RGB (N, H, W, 3); got "
                            f"dtype {images.dtype}, shape {images.shape}.")
        items = tf.data.Dataset.from_tensor_slices(images)
        decode = lambda image: image  # noqa: E731
        size = len(images)
    else:
        raise DataError("Multi-domain data is a folder (one sub-folder per domain, or "
                        "RaFD's images) or a pair (uint8 images, labels); got "
                        f"{type(source).__name__}.")
    labels = np.asarray(labels)
    if labels.shape != (size,) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"Domain labels must be {size} integers, one per image; got shape "
                        f"{labels.shape}, dtype {labels.dtype}.")
    if n_domains is not None and (labels.min() < 0 or labels.max() >= n_domains):
        raise DataError(f"Domain labels span {labels.min()}..{labels.max()}, but the model "
                        f"has n_domains={n_domains}: pass n_domains={labels.max() + 1}.")
    if size < batch_size:
        raise DataError(f"batch_size={batch_size} is larger than the data ({size} images).")
    pairs = tf.data.Dataset.zip((items, tf.data.Dataset.from_tensor_slices(
        labels.astype(np.int64))))
    if shuffle:
        pairs = pairs.shuffle(min(size, 10_000), seed=seed, reshuffle_each_iteration=True)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def prepare(pair, random_seed):
        item, label = pair
        return preprocess(decode(item), random_seed, image_size, load_size, augment), label

    return (tf.data.Dataset.zip((pairs, randoms))
            .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
