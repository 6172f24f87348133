"""Feature networks for KID, FID and the inception score, and streaming feature
computation over image sets of any length.

The papers' networks: InceptionV3's pool3 (2048-d, after global average pooling) for
KID and FID, and its logits for the inception score. Here that is
``keras.applications.InceptionV3`` with ImageNet weights (downloaded by Keras on first
use, or read from a path), or the frozen Inception graph the reference FID and IS code
load (``classify_image_graph_def.pb``), by path. Numbers from different networks are not
comparable, and FID from Keras' InceptionV3 is not the figure the reference graph gives:
every report says which network produced the features (``FeatureExtractor.description``).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_attngan.data.sources import Source, load_source
from keras_attngan.networks.vgg import WeightsUnavailableError

INCEPTION_SIZE = 299
#: what ``weights=None`` is called in reports: its numbers mean nothing outside tests.
RANDOM_INIT = "random init (tests only)"
#: tensor names in the reference Inception graph (inception-2015-12-05's
#: classify_image_graph_def.pb, which Heusel et al.'s FID and Salimans et al.'s IS code
#: load): 0..255 RGB images of any size in, pool3 out; the logits are pool3 times the
#: "softmax/logits/MatMul" weights (the IS code's computation, which the graph's own
#: batch-1 reshape would otherwise prevent).
GRAPH_INPUT, GRAPH_POOL3, GRAPH_LOGITS_MATMUL = "ExpandDims:0", "pool_3:0", \
    "softmax/logits/MatMul"


class FeatureExtractor:
    """A feature network: float images in [-1, 1] (N, H, W, 3) -> {"features": (N, D)
    and, when the network has them, "logits": (N, K)}.

    ``model``: a Keras model (or any callable on a float32 batch) whose output is one
    tensor (the features), a pair (features, logits) or a dict with "features" (or
    "pool3") and optionally "logits"; spatial outputs (N, h, w, D) are averaged over
    h and w. It receives images in [-1, 1], InceptionV3's own input range (its
    ``preprocess_input``). Images are resized (bilinear) to ``image_size`` first: the
    model's input size when it has one, else as given (None: left as they come).
    ``description`` names the network in reports.
    """

    def __init__(self, model: keras.Model | Callable, image_size: int | None = None,
                 description: str | None = None, weights: str | None = None):
        if not callable(model):
            raise TypeError(f"The feature network must be a Keras model or a callable; got "
                            f"a {type(model).__name__}.")
        if image_size is None and isinstance(model, keras.Model):
            try:
                shape = model.input_shape
            except (AttributeError, ValueError):
                shape = None
            if isinstance(shape, tuple) and len(shape) == 4:
                if shape[-1] not in (None, 3):
                    raise ValueError(f"The feature network takes {shape[-1]}-channel images; "
                                     "it must take RGB images (N, H, W, 3).")
                if shape[1] is not None and shape[1] == shape[2]:
                    image_size = int(shape[1])
        self.model = model
        self.image_size = image_size
        self.weights = weights
        name = getattr(model, "name", type(model).__name__)
        self.description = description or (
            f"Keras model {name!r}" + (f" at {image_size} px" if image_size else ""))
        self._step = tf.function(self._features, reduce_retracing=True)

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.description})"

    def _features(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.image_size is not None:
            images = tf.image.resize(images, (self.image_size, self.image_size), "bilinear")
        if isinstance(self.model, keras.Model):
            out = self.model(images, training=False)
        else:
            out = self.model(images)
        if isinstance(out, Mapping):
            key = "features" if "features" in out else "pool3" if "pool3" in out else None
            if key is None:
                raise ValueError("A feature network returning a dict must have a "
                                 f"'features' (or 'pool3') entry; got {sorted(out)}.")
            result = {"features": out[key]}
            if "logits" in out:
                result["logits"] = out["logits"]
        elif isinstance(out, (tuple, list)):
            if len(out) != 2:
                raise ValueError("A feature network returning a sequence must return "
                                 f"(features, logits); got {len(out)} outputs.")
            result = {"features": out[0], "logits": out[1]}
        else:
            result = {"features": out}
        for key, value in list(result.items()):
            value = tf.cast(value, tf.float32)
            if value.shape.rank == 4:
                value = tf.reduce_mean(value, axis=[1, 2])
            elif value.shape.rank != 2:
                value = tf.reshape(value, [tf.shape(value)[0], -1])
            result[key] = value
        return result

    def __call__(self, images) -> dict[str, np.ndarray]:
        """Features of one batch (float [-1, 1] or uint8), as numpy arrays."""
        x = _batch_to_model_range(images)
        return {k: v.numpy() for k, v in self._step(tf.constant(x)).items()}


def inception_v3(weights: str | None = "imagenet", option: str = "weights"
                 ) -> FeatureExtractor:
    """InceptionV3 (Szegedy et al. 2016) from ``keras.applications``, giving pool3
    (2048-d, after global average pooling) as "features" and the classifier's 1,000
    ImageNet logits as "logits", at 299 px.

    ``weights``: "imagenet" (downloaded by Keras on first use, then cached in
    ``~/.keras/models``), a path to Keras' ``inception_v3_weights_tf_dim_ordering_tf_
    kernels.h5`` (the file with the classifier, not ``_notop``), a path to the reference
    FID graph ``classify_image_graph_def.pb`` (see ``frozen_graph``), or None: random
    initialisation, for tests only, recorded as such. Offline without a path, the error
    names the option to pass (``option``: what the caller calls it).
    """
    if weights is not None and weights != "imagenet":
        weights = os.fspath(weights)
        if not os.path.exists(weights):
            raise WeightsUnavailableError(
                f"No InceptionV3 weights file at {weights!r} (given as "
                f"{'weights=' if option == 'weights' else option}): pass Keras' inception_v3_weights_tf_dim_ordering_tf_kernels.h5, "
                "the reference graph classify_image_graph_def.pb, 'imagenet' or none.")
        if weights.endswith(".pb"):
            return frozen_graph(weights)
    try:
        base = keras.applications.InceptionV3(include_top=True, weights=weights,
                                              classifier_activation=None)
    except Exception as error:
        if weights != "imagenet":
            raise WeightsUnavailableError(
                f"Could not load InceptionV3 weights from {weights!r} "
                f"({type(error).__name__}: {error}). The file must be Keras' "
                "inception_v3_weights_tf_dim_ordering_tf_kernels.h5 (with the classifier; "
                "the _notop file has no logits).") from error
        raise WeightsUnavailableError(
            "Could not download the InceptionV3 ImageNet weights for KID/FID/IS "
            f"({type(error).__name__}: {error}). Without network access, give a local "
            "copy of inception_v3_weights_tf_dim_ordering_tf_kernels.h5 (from the "
            "keras-applications releases; Keras caches it in ~/.keras/models) or of the "
            "reference FID graph classify_image_graph_def.pb with "
            f"{_option_text(option)}; 'none' (random initialisation) is for tests only and "
            "its numbers mean nothing.") from error
    pool3 = base.get_layer("avg_pool").output
    model = keras.Model(base.inputs, {"features": pool3, "logits": base.output},
                        name="inception_v3_features")
    if weights is None:
        _seeded_glorot(model)
        source = f"{RANDOM_INIT}, seed 0"
    elif weights == "imagenet":
        source = "ImageNet weights"
    else:
        source = f"weights {weights}"
    return FeatureExtractor(
        model, INCEPTION_SIZE, weights=weights,
        description=f"InceptionV3 (keras.applications, {source}): pool3 2048-d + logits, "
                    f"{INCEPTION_SIZE} px")


def _seeded_glorot(model: keras.Model, seed: int = 0) -> None:
    """Re-draws every kernel of ``model`` (Glorot uniform, as Keras' default) from a fixed
    numpy seed, so random-init figures repeat from run to run without touching the
    global random state; biases and normalisation statistics keep their constant
    initial values."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if len(shape) < 2:
            continue
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        variable.assign(rng.uniform(-limit, limit, shape).astype(variable.dtype))


def _option_text(option: str) -> str:
    if option == "weights":
        return "weights=PATH (--inception-weights PATH on the command line)"
    return f"{option} PATH"


def frozen_graph(path: str, input_name: str = GRAPH_INPUT, pool3_name: str = GRAPH_POOL3,
                 logits_matmul: str | None = GRAPH_LOGITS_MATMUL) -> FeatureExtractor:
    """A frozen TensorFlow GraphDef as the feature network; by default the reference
    Inception graph of the original FID and inception-score code
    (``classify_image_graph_def.pb`` from inception-2015-12-05.tgz), whose pool3 gives
    the official FID figures. Images go in as 0..255 RGB at 299 px at ``input_name``
    (the graph resizes to its own input size); "features" is ``pool3_name`` flattened,
    "logits" is that times the weights at input 1 of the ``logits_matmul`` op (1,008
    classes in the reference graph; None: no logits)."""
    path = os.fspath(path)
    graph_def = tf.compat.v1.GraphDef()
    try:
        with open(path, "rb") as f:
            graph_def.ParseFromString(f.read())
    except (OSError, Exception) as error:  # protobuf's DecodeError has no public base
        raise WeightsUnavailableError(f"{path!r} is not a readable frozen TensorFlow graph "
                                      f"({type(error).__name__}: {error}).") from error

    def imported(images):
        tf.compat.v1.import_graph_def(graph_def, input_map={input_name: images}, name="g")
        graph = tf.compat.v1.get_default_graph()
        pool = graph.get_tensor_by_name(f"g/{pool3_name}")
        pool = tf.reshape(pool, [tf.shape(pool)[0], -1])
        out = {"features": pool}
        if logits_matmul:
            weights = graph.get_operation_by_name(f"g/{logits_matmul}").inputs[1]
            out["logits"] = tf.matmul(pool, weights)
        return out

    try:
        wrapped = tf.compat.v1.wrap_function(
            imported, [tf.TensorSpec([None, None, None, 3], tf.float32)])
    except (KeyError, ValueError) as error:
        raise WeightsUnavailableError(
            f"{path!r} does not have the tensors this feature network reads "
            f"({input_name}, {pool3_name}, {logits_matmul}): {error}") from error
    # Only what the outputs need: the graph's own batch-1 head (pool_3/_reshape, softmax)
    # would fail on batches once shapes are known.
    pruned = wrapped.prune(wrapped.inputs[0], wrapped.structured_outputs)

    def network(images):
        return pruned((images + 1.0) * 127.5)

    return FeatureExtractor(
        network, INCEPTION_SIZE, weights=path,
        description=f"frozen graph {os.path.basename(path)} ({path}): {pool3_name}"
                    + (" + logits" if logits_matmul else "") + f", {INCEPTION_SIZE} px")


def feature_extractor(network: FeatureExtractor | keras.Model | str | None = None,
                      weights: str | None = "imagenet", option: str = "weights"
                      ) -> FeatureExtractor:
    """The feature network a metric runs on: ``network`` as a ``FeatureExtractor``, a
    Keras model, a ``.keras`` file or a frozen graph ``.pb``; or, with ``network=None``,
    InceptionV3 with ``weights`` ("imagenet", a path, or None for random init)."""
    if isinstance(network, FeatureExtractor):
        return network
    if network is None:
        return inception_v3(weights, option=option)
    if isinstance(network, (str, os.PathLike)):
        path = os.fspath(network)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No feature network at {path!r}.")
        if path.endswith(".pb"):
            return frozen_graph(path)
        if not path.endswith(".keras"):
            raise ValueError(f"A feature network file must be a .keras model or a frozen "
                             f".pb graph; got {path!r}.")
        model = keras.saving.load_model(path, compile=False)
        return FeatureExtractor(model, description=f"Keras model {model.name!r} from "
                                                   f"{path}")
    if callable(network):
        return FeatureExtractor(network)
    raise TypeError(f"network must be a FeatureExtractor, a Keras model, a path or None; "
                    f"got a {type(network).__name__}.")


# ---------------------------------------------------------------------- streaming
def _batch_to_model_range(images) -> np.ndarray:
    """A batch (N, H, W, 3) of uint8 or float [-1, 1] images -> float32 [-1, 1]."""
    x = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"Expected a batch of images (N, H, W, 3); got shape {x.shape}.")
    if x.shape[-1] != 3:
        raise ValueError(
            f"Feature networks take RGB images (N, H, W, 3); got {x.shape[-1]} channel(s) "
            f"in shape {x.shape}. Convert grayscale with np.repeat(x, 3, axis=-1) (the "
            "package's data sources do this for you), drop alpha with x[..., :3].")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 127.5 - 1.0
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"Images must be uint8 in [0, 255] or float in [-1, 1]; got dtype "
                        f"{x.dtype}.")
    if np.isnan(x).any():
        raise ValueError("The images contain NaN values.")
    if x.size and (x.min() < -1.001 or x.max() > 1.001):
        raise ValueError(f"Float images must lie in [-1, 1]; these span [{x.min():.3g}, "
                         f"{x.max():.3g}]. Pass uint8 images for 0..255 data.")
    return x.astype(np.float32)


def image_batches(images, batch_size: int = 32, image_size: int | None = None
                  ) -> tuple[Iterable, int | None]:
    """(iterable of image batches, image count or None) from a numpy array (N, H, W, C),
    a tf.data.Dataset of images or of batches, any ``kag.data`` source (a folder, a
    tfds "name:split", a ``Source``), or an iterable of batches. Sources are resized
    to ``image_size`` (when given) in the pipeline, so nothing holds the whole set."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(f"Expected images (N, H, W, C); got shape {images.shape}.")
        return ((images[i:i + batch_size] for i in range(0, len(images), batch_size)),
                len(images))
    if isinstance(images, tf.data.Dataset):
        rank = images.element_spec.shape.rank if hasattr(images.element_spec, "shape") \
            else None
        if rank is None:
            raise ValueError("Expected a tf.data.Dataset of image tensors (H, W, C) or "
                             f"batches (N, H, W, C); got elements {images.element_spec}.")
        count = int(images.cardinality())
        count = None if count < 0 else count
        if rank == 3:
            return images.batch(batch_size).prefetch(2), count
        return images.prefetch(2), None
    if isinstance(images, (str, os.PathLike, Source)):
        source = load_source(images)
        data = source.images()
        if image_size is not None:
            data = data.map(lambda x: tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
                x, (image_size, image_size), "bicubic")), 0, 255), tf.uint8),
                num_parallel_calls=tf.data.AUTOTUNE)
        return data.batch(batch_size).prefetch(2), source.size
    if isinstance(images, Iterable):
        return images, None
    raise TypeError(f"Cannot read images from a {type(images).__name__}; pass a numpy "
                    "array, a tf.data.Dataset, a folder or an iterable of batches.")


def compute_features(images, network: FeatureExtractor | keras.Model | str | None = None,
                     batch_size: int = 32, progress: bool = True, total: int | None = None,
                     weights: str | None = "imagenet", outputs: Sequence[str] = ("features",),
                     image_size: int | None = None) -> dict[str, np.ndarray]:
    """Features of an image set, computed batch by batch: only the features (and one
    batch of images) are held, so memory stays flat in the number of images (10,000
    images at 299 px would be 10 GB as float32; their 2048-d features are 80 MB).

    ``images``: anything ``image_batches`` takes (uint8 or float [-1, 1], RGB).
    ``network``: see ``feature_extractor`` (default InceptionV3 with ``weights``).
    ``outputs``: the entries to keep, "features" and/or "logits". A progress bar shows
    the images done (of ``total``, when known). Images of another size than the
    network's input are resized to it, with a warning that says so.
    """
    extractor = feature_extractor(network, weights)
    batches, count = image_batches(images, batch_size, image_size)
    total = total if total is not None else count
    # Without a terminal (logs, CI) one line every 10 s instead of one per batch.
    interval = 0.05 if sys.stdout.isatty() else 10.0
    bar = keras.utils.Progbar(total, unit_name="image", interval=interval) if progress \
        else None
    kept: dict[str, list[np.ndarray]] = {name: [] for name in outputs}
    done, warned = 0, False
    for batch in batches:
        x = _batch_to_model_range(batch)
        if (not warned and extractor.image_size is not None
                and x.shape[1:3] != (extractor.image_size,) * 2):
            warnings.warn(f"Resizing {x.shape[1]}x{x.shape[2]} images to "
                          f"{extractor.image_size}x{extractor.image_size} (bilinear) for "
                          f"the feature network, {extractor.description}.", stacklevel=2)
            warned = True
        result = {k: v.numpy() for k, v in extractor._step(tf.constant(x)).items()}
        for name in outputs:
            if name not in result:
                raise ValueError(f"The feature network {extractor.description} has no "
                                 f"{name!r} output (it gives {sorted(result)}).")
            kept[name].append(result[name])
        done += len(x)
        if bar is not None:
            bar.update(done)
    if done == 0:
        raise ValueError("No images to compute features of: the image set is empty.")
    return {name: np.concatenate(parts) for name, parts in kept.items()}


def softmax(logits) -> np.ndarray:
    """Class probabilities from logits (N, K), in float64 (for ``inception_score``)."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def describe(extractor: FeatureExtractor) -> dict[str, Any]:
    """What reports record about the feature network."""
    return {"description": extractor.description, "image_size": extractor.image_size,
            "weights": extractor.weights,
            "random_init": RANDOM_INIT in extractor.description}
