"""TFLite export for phones: builtin ops only, fixed input size, checked against Keras.

The model takes ``image`` float32 (1, S, S, 3) in [-1, 1] and returns ``image`` in
[-1, 1] and, for attention models, ``mask`` in [0, 1]. Every export runs the converted
model in LiteRT's interpreter (``ai-edge-litert``, XNNPACK) on sample images before it is
written and compares it with the Keras model: float32 max abs difference <= 1e-3,
float16 <= 1e-2, dynamic-range and int8 PSNR >= 30 dB. An export that misses its bound
raises ``ExportCheckError`` with the measured figure and writes nothing.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterable

import keras
import numpy as np
import tensorflow as tf

from keras_attngan.layers import convolutions_for

QUANTIZATIONS = (None, "float16", "dynamic", "int8")
MAX_ABS_DIFF = {None: 1e-3, "float16": 1e-2}
MIN_PSNR_DB = {"dynamic": 30.0, "int8": 30.0}


class ExportCheckError(RuntimeError):
    """The exported model's outputs are too far from the Keras model's."""


def sample_images(image_size: int, count: int = 8, seed: int = 0) -> np.ndarray:
    """Demo images (both domains) resized to ``image_size``, in [-1, 1]: inputs for the
    export check and int8 calibration when the user gives none."""
    from keras_attngan.data import builtin

    a, b = builtin.demo(n=(count + 1) // 2, size=64, seed=seed)
    images = np.concatenate([a, b])[:count].astype("float32")
    images = tf.image.resize(images, (image_size, image_size), "bicubic").numpy()
    return np.clip(images, 0, 255) / 127.5 - 1.0


def _to_batches(data, image_size: int) -> np.ndarray:
    x = np.asarray(data)
    if x.dtype == np.uint8:
        x = x.astype("float32") / 127.5 - 1.0
    if x.ndim != 4 or x.shape[1:] != (image_size, image_size, 3):
        raise ValueError(f"Sample images must be (N, {image_size}, {image_size}, 3); got "
                         f"{x.shape}.")
    return x.astype("float32")


def convert(model: keras.Model, quantization: str | None = None, image_size: int = 256,
            direction: str | None = None,
            representative_data: Iterable | np.ndarray | None = None) -> bytes:
    """The TFLite flatbuffer of ``model``'s ``direction`` translation (builtin ops),
    traced in float32 whatever the model trained in (``quantization`` makes it smaller)."""
    from keras_attngan.models.precision import computing_in

    with computing_in(model, "float32"):
        return _convert(model, quantization, image_size, direction, representative_data)


def _convert(model, quantization, image_size, direction, representative_data) -> bytes:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}; got {quantization!r}.")
    direction = direction or model.directions[0]
    if image_size % model.size_multiple:
        raise ValueError(f"image_size={image_size} is not a multiple of "
                         f"{model.size_multiple}.")

    image_spec = tf.TensorSpec([1, image_size, image_size, 3], tf.float32, name="image")
    if _n_domains(model):  # multi-domain: the target domain is the second input
        @tf.function(input_signature=[image_spec, tf.TensorSpec([1], tf.int32,
                                                                name="target_domain")])
        def translate(image, target_domain):
            out = model._translate(image, direction, training=False,
                                   target_domain=target_domain)
            return {key: tf.cast(out[key], tf.float32) for key in ("image", "mask")
                    if key in out}
    else:
        @tf.function(input_signature=[image_spec])
        def translate(image):
            out = model._translate(image, direction, training=False)
            return {key: tf.cast(out[key], tf.float32) for key in ("image", "mask")
                    if key in out}

    # Through a SavedModel, which the converter freezes: converting the concrete function
    # directly keeps Keras variables as TFLite resource variables that the interpreter
    # never initialises (NaN outputs).
    with tempfile.TemporaryDirectory() as tmp, convolutions_for(model, "direct"):
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", translate)
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        return _configure(converter, quantization, image_size, representative_data,
                          _n_domains(model)).convert()


def _n_domains(model) -> int:
    """The number of domains of a multi-domain model (its export takes the target
    domain as an input), else 0."""
    return int(getattr(model, "n_domains", 0) or 0)


def _configure(converter, quantization, image_size, representative_data, n_domains=0):
    # Builtin ops only: phones' runtimes often lack the Select TF ops.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        calibration = _to_batches(representative_data if representative_data is not None
                                  else sample_images(image_size), image_size)

        def representative():
            for i, image in enumerate(calibration):
                if n_domains:  # calibrate on every target domain in turn
                    yield {"image": image[None],
                           "target_domain": np.array([i % n_domains], np.int32)}
                else:
                    yield [image[None]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter


class TFLiteTranslator:
    """Runs an exported .tflite translator in LiteRT's interpreter (XNNPACK on CPU)."""

    def __init__(self, model: bytes | str, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(model, (str, os.PathLike)):
            if not os.path.exists(model):
                raise FileNotFoundError(f"No TFLite model at {model!r}.")
            self.interpreter = Interpreter(model_path=os.fspath(model),
                                           num_threads=num_threads)
        else:
            self.interpreter = Interpreter(model_content=model, num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner()
        inputs = self.runner.get_input_details()
        self.image_size = int(inputs["image"]["shape"][1])
        #: whether the model takes a target domain (a multi-domain export)
        self.takes_domain = "target_domain" in inputs
        self.output_names = tuple(self.runner.get_output_details())

    def __call__(self, images: np.ndarray, target_domain=None) -> dict[str, np.ndarray]:
        """Images (N, S, S, C) or one (S, S, C), S the model's fixed size: uint8 in
        [0, 255] (scaled to [-1, 1] here) or float in [-1, 1]; C 1, 3 or 4 (grayscale
        and RGBA become RGB) -> {"image" [-1, 1], "mask" [0, 1]?} with the input's
        batch shape, one image at a time. Anything else raises ``ValueError`` or
        ``TypeError`` naming what it got. A multi-domain model needs ``target_domain``:
        an int for every image, or one per image."""
        from keras_attngan.models.base import to_model_range

        x, single = to_model_range(images)
        size = self.image_size
        if x.shape[1:3] != (size, size):
            raise ValueError(
                f"This TFLite model has a fixed input size: (N, {size}, {size}, 3) images; "
                f"got {x.shape[1]}x{x.shape[2]} px (shape {np.shape(images)}). Resize "
                "them first, or export another size (attngan export --image-size).")
        inputs = [{} for _ in x]
        if self.takes_domain:
            if target_domain is None:
                raise ValueError("This TFLite model translates to a target domain: pass "
                                 "target_domain (an int, or one per image).")
            domains = np.broadcast_to(np.asarray(target_domain, np.int32), (len(x),))
            inputs = [{"target_domain": domains[i:i + 1]} for i in range(len(x))]
        elif target_domain is not None:
            raise ValueError("This TFLite model takes no target_domain.")
        outputs: dict[str, list] = {}
        for image, extra in zip(x, inputs):
            for key, value in self.runner(image=image[None], **extra).items():
                outputs.setdefault(key, []).append(value)
        merged = {key: np.concatenate(parts) for key, parts in outputs.items()}
        return {key: value[0] for key, value in merged.items()} if single else merged


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two [-1, 1] images (peak-to-peak 2)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(4.0 / mse)


def check(model: keras.Model, flatbuffer: bytes, quantization: str | None,
          images: np.ndarray, direction: str) -> dict[str, Any]:
    """Compares the TFLite model with Keras on ``images``; raises when out of bounds."""
    options = {}
    if _n_domains(model):  # each image to another domain
        options["target_domain"] = np.arange(len(images)) % _n_domains(model)
    expected = model._translate(tf.constant(images), direction, training=False,
                                **{k: tf.constant(v) for k, v in options.items()})
    got = TFLiteTranslator(flatbuffer)(images, **options)
    report: dict[str, Any] = {"quantization": quantization or "float32",
                              "samples": len(images)}
    for key in got:
        reference = np.asarray(expected[key], np.float32)
        if not np.all(np.isfinite(got[key])):
            raise ExportCheckError(f"The {report['quantization']} TFLite model gives "
                                   f"non-finite {key} values; not written.")
        report[f"{key}_max_abs_diff"] = float(np.abs(got[key] - reference).max())
        report[f"{key}_psnr_db"] = psnr(got[key], reference)
    if quantization in MAX_ABS_DIFF:
        bound = MAX_ABS_DIFF[quantization]
        measured = report["image_max_abs_diff"]
        if measured > bound:
            raise ExportCheckError(
                f"The {report['quantization']} TFLite model differs from Keras by up to "
                f"{measured:.3g} (bound {bound:g}); not written.")
    else:
        bound = MIN_PSNR_DB[quantization]
        measured = report["image_psnr_db"]
        if measured < bound:
            raise ExportCheckError(
                f"The {quantization} TFLite model reaches {measured:.1f} dB PSNR against "
                f"the float32 Keras output (bound {bound:g} dB); not written. Try "
                "quantization='float16', or representative_data from your domain.")
    return report


def tflite(model: keras.Model, path: str, quantization: str | None = None,
           image_size: int = 256, direction: str | None = None,
           representative_data: Iterable | np.ndarray | None = None,
           check_images: np.ndarray | None = None,
           overwrite: bool = False) -> dict[str, Any]:
    """Converts, checks against Keras, and writes ``path``. Returns the check's report
    (max abs difference and PSNR per output, file size). An existing ``path`` is
    refused with ``FileExistsError`` unless ``overwrite``."""
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path!r} exists; pass overwrite=True to replace it.")
    direction = direction or model.directions[0]
    flatbuffer = convert(model, quantization, image_size, direction, representative_data)
    images = _to_batches(check_images if check_images is not None
                         else sample_images(image_size, count=4, seed=1), image_size)
    from keras_attngan.models.precision import computing_in

    with computing_in(model, "float32"):  # the check compares with float32 Keras
        report = check(model, flatbuffer, quantization, images, direction)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.partial"
    with open(partial, "wb") as f:
        f.write(flatbuffer)
    os.replace(partial, path)
    report.update(path=path, bytes=len(flatbuffer), direction=direction,
                  image_size=image_size)
    return report
