"""Where images come from: tfds names, folders, numpy arrays, tf.data datasets.

Each source becomes a ``Source``: a tf.data.Dataset of uint8 RGB images (H, W, 3) of any
size, and its length. Everything that can be wrong with a source is found here, before
training starts.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Any, Callable

import numpy as np
import tensorflow as tf

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


class DataError(ValueError):
    """A data source that cannot be used for training, with what to do about it."""


@dataclasses.dataclass
class Source:
    """``items`` (cheap to shuffle: file paths, or the images themselves) and ``decode``,
    which turns an item into a uint8 (H, W, 3) image."""

    items: tf.data.Dataset
    size: int
    description: str
    skipped: list[str] = dataclasses.field(default_factory=list)  # corrupt files left out
    files: list[str] | None = None  # for folders: the image paths, in dataset order
    decode: Callable[[tf.Tensor], tf.Tensor] | None = None

    def images(self) -> tf.data.Dataset:
        """The decoded images, in order."""
        if self.decode is None:
            return self.items
        return self.items.map(self.decode, num_parallel_calls=tf.data.AUTOTUNE)


def load_source(spec: Any, *, skip_corrupt: bool = False, validate: bool = True,
                data_dir: str | None = None) -> Source:
    """Turns one side's specification into a ``Source``.

    ``spec``: a tfds "name:split" string (e.g. "cycle_gan/horse2zebra:trainA"), a folder of
    images (searched recursively), a uint8 numpy array (N, H, W, C) with C in 1/3/4, or a
    tf.data.Dataset of images (tensors, (image, label) tuples or dicts with "image").
    """
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, tf.data.Dataset):
        return _from_dataset(spec)
    if isinstance(spec, np.ndarray):
        return _from_array(spec)
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        if os.path.isdir(path):
            return _from_folder(path, skip_corrupt=skip_corrupt, validate=validate)
        if os.path.exists(path):
            raise DataError(f"{path!r} is a file; pass a folder of images, one per domain.")
        if ":" in path:
            return _from_tfds(path, data_dir=data_dir)
        raise DataError(
            f"{path!r} is neither a folder nor a tensorflow-datasets name with a split "
            "(like 'cycle_gan/horse2zebra:trainA')."
        )
    raise DataError(
        f"Cannot read images from a {type(spec).__name__}; pass a folder, a tfds "
        "'name:split', a uint8 numpy array (N, H, W, C) or a tf.data.Dataset."
    )


# ------------------------------------------------------------------------- folders
def list_images(folder: str) -> list[str]:
    """The image files under ``folder`` (sub-folders included, hidden files left out),
    sorted."""
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        files.extend(os.path.join(root, n) for n in sorted(names)
                     if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith("."))
    return files


def decode_image(contents: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF (first frame)/WebP bytes -> uint8 RGB (H, W, 3)."""
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _read_and_decode(path: tf.Tensor) -> tf.Tensor:
    return decode_image(tf.io.read_file(path))


def _from_folder(folder: str, skip_corrupt: bool, validate: bool) -> Source:
    files = list_images(folder)
    if not files:
        raise DataError(
            f"No images in {folder!r} (looked for {', '.join(IMAGE_EXTENSIONS)} in it and "
            "its sub-folders)."
        )
    skipped: list[str] = []
    if validate:
        bad = find_corrupt(files)
        if bad and not skip_corrupt:
            shown = "\n  ".join(bad[:10]) + ("\n  ..." if len(bad) > 10 else "")
            raise DataError(
                f"{len(bad)} of {len(files)} image files in {folder!r} cannot be decoded:\n"
                f"  {shown}\nRemove or fix them, or pass skip_corrupt=True "
                "(--skip-corrupt) to leave them out."
            )
        if bad:
            warnings.warn(
                f"Skipped {len(bad)} corrupt image(s) of {len(files)} in {folder!r}: "
                f"{', '.join(os.path.basename(b) for b in bad[:5])}"
                + (" ..." if len(bad) > 5 else ""),
                stacklevel=3,
            )
            bad_set = set(bad)
            files = [f for f in files if f not in bad_set]
            skipped = bad
            if not files:
                raise DataError(f"Every image in {folder!r} is corrupt.")
    return Source(tf.data.Dataset.from_tensor_slices(files), len(files), folder, skipped,
                  files, decode=_read_and_decode)


def find_corrupt(files: list[str]) -> list[str]:
    """The files that do not decode, found with a parallel pass over all of them."""
    def check(path):
        image = _read_and_decode(path)
        tf.debugging.assert_positive(tf.size(image))
        return path

    readable = tf.data.Dataset.from_tensor_slices(files).map(
        check, num_parallel_calls=tf.data.AUTOTUNE
    ).ignore_errors()
    good = {p.decode() for p in readable.as_numpy_iterator()}
    return [f for f in files if f not in good]


def side_by_side(folder: str, side: str, skip_corrupt: bool = False) -> Source:
    """The left or right halves of paired side-by-side images (pix2pix's maps, facades:
    input left, target right), for unpaired experiments built from paired data."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right'; got {side!r}.")
    source = _from_folder(folder, skip_corrupt=skip_corrupt, validate=True)

    def decode(path):
        image = _read_and_decode(path)
        width = tf.shape(image)[1] // 2
        return image[:, :width] if side == "left" else image[:, width:2 * width]

    source.decode = decode
    source.description = f"{folder} ({side} halves)"
    return source


def maps_unpaired(maps_dir: str | None) -> tuple[Source, Source, Source]:
    """The pix2pix maps data in UNIT's and SAT's unpaired protocol: (training photos,
    validation maps, validation photos), from ``maps_dir`` with train/ and val/ folders
    of side-by-side images (photo left, map right)."""
    folders = {split: os.path.join(maps_dir or "", split) for split in ("train", "val")}
    if not maps_dir or not all(os.path.isdir(f) for f in folders.values()):
        raise DataError(
            f"No maps data in {maps_dir!r}: pass a folder with train/ and val/ folders of "
            "the pix2pix maps images (maps.tar.gz from the pix2pix datasets page)."
        )
    return (side_by_side(folders["train"], "left"), side_by_side(folders["val"], "right"),
            side_by_side(folders["val"], "left"))


# -------------------------------------------------------------------------- arrays
def check_image_array(array: np.ndarray, what: str = "image array") -> None:
    """Refuses (``DataError``) an array that is not a batch of uint8 images (N, H, W,
    1|3|4)."""
    if array.dtype != np.uint8:
        raise DataError(
            f"The {what} has dtype {array.dtype}; expected uint8 images in [0, 255]. "
            "Convert with (x * 255).round().astype('uint8') from [0, 1] floats."
        )
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise DataError(
            f"The {what} has shape {array.shape}; expected (N, H, W, C) with C = 1, 3 or 4 "
            "(channels last)."
        )
    if 0 in array.shape:
        raise DataError(f"The {what} is empty (shape {array.shape}).")


def _from_array(array: np.ndarray) -> Source:
    check_image_array(array)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    elif array.shape[-1] == 4:
        array = array[..., :3]
    array = np.ascontiguousarray(array)
    return Source(tf.data.Dataset.from_tensor_slices(array), len(array),
                  f"array {array.shape}")


# ------------------------------------------------------------------ tf.data datasets
def to_rgb(image: tf.Tensor) -> tf.Tensor:
    """uint8 (H, W, 1|3|4) -> (H, W, 3)."""
    if image.dtype != tf.uint8:
        raise DataError(f"Dataset images must be uint8; got {image.dtype.name}.")
    if image.shape.rank != 3:
        raise DataError(f"Dataset elements must be (H, W, C) images; got shape {image.shape}.")
    channels = image.shape[-1]
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels in (3, 4):
        return image[..., :3]
    if channels is None:
        image = tf.cond(tf.shape(image)[-1] == 1, lambda: tf.tile(image, [1, 1, 3]),
                        lambda: image[..., :3])
        image.set_shape([None, None, 3])
        return image
    raise DataError(f"Dataset images have {channels} channels; expected 1, 3 or 4.")


def _element_image(element):
    if isinstance(element, dict):
        if "image" not in element:
            raise DataError(f"Dataset elements are dicts without an 'image' key: "
                            f"{sorted(element)}.")
        return element["image"]
    if isinstance(element, tuple):
        return element[0]
    return element


def _from_dataset(dataset: tf.data.Dataset, description: str = "tf.data.Dataset") -> Source:
    images = dataset.map(lambda *e: to_rgb(_element_image(e[0] if len(e) == 1 else e)),
                         num_parallel_calls=tf.data.AUTOTUNE)
    size = int(dataset.cardinality())
    if size == tf.data.INFINITE_CARDINALITY:
        raise DataError("The dataset is infinite (repeat()?); pass one pass of the images.")
    if size == tf.data.UNKNOWN_CARDINALITY:
        size = int(dataset.reduce(np.int64(0), lambda n, _: n + 1))
    if size == 0:
        raise DataError(f"The {description} is empty.")
    return Source(images, size, description)


# ------------------------------------------------------------ tensorflow-datasets
def load_tfds(name: str, split: str, data_dir: str | None = None,
              decoders: dict | None = None) -> tuple[tf.data.Dataset, int]:
    """A tensorflow-datasets split as (dataset of its feature dicts, example count), with
    clear errors for unknown names and failed downloads. For recipes that filter on
    features (CelebA attributes, labels) before handing images to ``unpaired``;
    ``decoders`` as tfds.load's (``{"image": tfds.decode.SkipDecoding()}`` to read the
    other features of a large split quickly)."""
    import tensorflow_datasets as tfds

    spec = f"{name}:{split}"
    try:
        dataset, info = tfds.load(name, split=split, with_info=True, data_dir=data_dir,
                                  shuffle_files=False, decoders=decoders)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise DataError(
            f"Unknown tensorflow-datasets name {name!r} ({spec!r}). Check the name with "
            "tfds.list_builders(), or pass a folder of images instead."
        ) from error
    except (ValueError, KeyError) as error:
        if "split" in str(error).lower():
            raise DataError(f"{spec!r}: unknown split {split!r} ({error}).") from error
        raise
    except Exception as error:  # network errors come in many types
        raise DataError(
            f"Could not download or prepare the tensorflow-datasets dataset {name!r} "
            f"({type(error).__name__}: {error}). Without network access, download it "
            "elsewhere and pass data_dir=, or point --data-a/--data-b at local image "
            "folders instead (e.g. horse2zebra/trainA)."
        ) from error
    try:
        size = int(info.splits[split].num_examples)
    except Exception:  # mock data and some builders have no split metadata
        size = int(dataset.cardinality())
    return dataset, size


def load_tfds_arrays(name: str, split: str, image_size: int, count: int | None = None,
                     data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A labelled tensorflow-datasets split (digits: mnist, svhn_cropped, ...) as uint8 RGB
    images resized to ``image_size`` and their labels, for recipes that train classifiers
    on translations."""
    dataset, _ = load_tfds(name, split, data_dir=data_dir)
    if count:
        dataset = dataset.take(count)
    images, labels = [], []
    for example in dataset.as_numpy_iterator():
        images.append(example["image"])
        labels.append(example["label"])
    resized = tf.image.resize(np.stack(images), (image_size, image_size)).numpy()
    resized = np.clip(np.round(resized), 0, 255).astype(np.uint8)
    if resized.shape[-1] == 1:
        resized = np.repeat(resized, 3, axis=-1)
    return resized, np.asarray(labels)


def _from_tfds(spec: str, data_dir: str | None = None) -> Source:
    name, split = spec.rsplit(":", 1)
    if not name or not split:
        raise DataError(f"{spec!r}: expected 'dataset/config:split'.")
    dataset, size = load_tfds(name, split, data_dir)
    source = _from_dataset(dataset, description=spec)
    return Source(source.items, size if size > 0 else source.size, spec)


def load_labelled(spec: str, image_size: int, count: int | None = None,
                  data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labelled images for models trained with source labels (``unit_da``): uint8 RGB
    (N, image_size, image_size, 3) and int64 labels, from a tfds "name:split" with an
    "label" feature (svhn_cropped:train, mnist:train) or a folder with one sub-folder per
    class (0/ ... 9/; sub-folder names that are not all integers are numbered in sorted
    order)."""
    spec = str(spec)
    if os.path.isdir(spec):
        classes = sorted(d for d in os.listdir(spec) if os.path.isdir(os.path.join(spec, d)))
        if not classes:
            raise DataError(f"{spec!r} has no class sub-folders: labelled source images go "
                            "in one sub-folder per class (0/ ... 9/).")
        numbered = all(c.isdigit() for c in classes)
        if numbered:
            classes = sorted(classes, key=int)
        images, labels = [], []
        for index, name in enumerate(classes):
            for path in list_images(os.path.join(spec, name)):
                image = to_rgb(decode_image(tf.io.read_file(path)))
                images.append(tf.image.resize(image, (image_size, image_size)).numpy())
                labels.append(int(name) if numbered else index)
            if count and len(images) >= count:
                break
        if count:
            images, labels = images[:count], labels[:count]
        if not images:
            raise DataError(f"{spec!r} has no images in its class sub-folders.")
        images = np.clip(np.round(np.stack(images)), 0, 255).astype(np.uint8)
        return images, np.asarray(labels, np.int64)
    if ":" in spec and not os.path.exists(spec):
        name, split = spec.rsplit(":", 1)
        images, labels = load_tfds_arrays(name, split, image_size, count, data_dir)
        return images, labels.astype(np.int64)
    raise DataError(f"{spec!r} is neither a folder with one sub-folder per class nor a "
                    "tfds 'name:split' with labels (e.g. svhn_cropped:train).")
