"""Unpaired tf.data pipelines and the embedded demo dataset."""

from keras_attngan.data import builtin
from keras_attngan.data.multidomain import RAFD_EXPRESSIONS, domain_files, multidomain
from keras_attngan.data.pipeline import preprocess, unpaired
from keras_attngan.data.sources import (
    DataError, Source, decode_image, list_images, load_labelled, load_source, load_tfds,
    load_tfds_arrays, maps_unpaired, side_by_side,
)

__all__ = [
    "DataError", "RAFD_EXPRESSIONS", "Source", "builtin", "decode_image", "domain_files",
    "list_images", "load_labelled", "load_source", "load_tfds", "load_tfds_arrays",
    "maps_unpaired", "multidomain", "preprocess", "side_by_side", "unpaired",
]
