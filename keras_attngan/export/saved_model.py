"""SavedModel export in the layout TF Serving loads (``export/NAME/VERSION``).

Signatures (one per direction, the first also as ``serving_default``):

- ``a2b`` / ``b2a``: ``images`` uint8 (N, H, W, 3), any H and W from ``size_multiple`` up
  to ``max_side`` -> ``image`` uint8 (N, H, W, 3) and, for attention models, ``mask``
  float32 (N, H, W, 1) in [0, 1].
- ``translate_bytes`` (first direction): ``image_bytes``, a batch of encoded
  JPEG/PNG/GIF/BMP strings (TF Serving's REST ``{"b64": ...}``) -> ``image_bytes`` (and
  ``mask_bytes``), PNG-encoded strings; the ``_bytes`` suffix makes TF Serving's REST
  API return them base64-encoded.

Multi-domain models (``aggan_multidomain``) take the target domain as a second input in
every signature: ``target_domain`` int32 (N,), one domain index per image (``images``
or ``image_bytes``), checked against ``n_domains``.

Bad input fails inside the signature with a message that names the problem: wrong rank
or channel count, empty batches or images, sides over ``max_side`` (a guard against
decompression bombs), bytes that are not an image.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import keras
import tensorflow as tf

from keras_attngan.layers import convolutions_for

DEFAULT_MAX_SIDE = 4096
# JPEG, PNG, GIF, BMP, WebP (RIFF) magic numbers
_IMAGE_MAGIC = (b"\xff\xd8", b"\x89PNG", b"GIF8", b"BM", b"RIFF")


def check_images(images: tf.Tensor, size_multiple: int, max_side: int) -> tf.Tensor:
    """Asserts that ``images`` is a non-empty uint8 RGB batch of a servable size.

    The signatures take any rank, so that a wrong one is refused here with the shape it
    had (a rank fixed in the signature makes TF report a bare shape mismatch)."""
    rank = tf.rank(images)
    checks = [
        tf.debugging.Assert(tf.equal(rank, 4), [
            "images must be a batch (N, H, W, 3) of uint8 RGB images: 4 dimensions; got "
            "a tensor of shape", tf.shape(images), "(one image (H, W, 3) goes in as "
            "images[None])"], summarize=8),
    ]
    with tf.control_dependencies(checks):
        shape = tf.shape(images)
        shape = tf.concat([shape, tf.ones([tf.maximum(0, 4 - rank)], tf.int32)], 0)[:4]
        checks += [
            tf.debugging.Assert(tf.equal(shape[3], 3), [
                "images must have 3 channels (RGB) last; convert grayscale or RGBA "
                "first; got shape", tf.shape(images)], summarize=8),
            tf.debugging.Assert(shape[0] > 0, [
                "the batch of images is empty; got shape", tf.shape(images)], summarize=8),
            tf.debugging.Assert(tf.reduce_min(shape[1:3]) >= size_multiple, [
                f"images must be at least {size_multiple} px high and wide "
                "(zero-size or tiny image); got shape", tf.shape(images)], summarize=8),
            tf.debugging.Assert(tf.reduce_max(shape[1:3]) <= max_side, [
                f"images larger than {max_side} px on a side are refused (max_side); "
                "resize them first; got shape", tf.shape(images)], summarize=8),
        ]
    with tf.control_dependencies(checks):
        return tf.ensure_shape(tf.reshape(images, shape), [None, None, None, 3])


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] float -> uint8, rounded."""
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def check_domains(target_domain: tf.Tensor, images: tf.Tensor, n_domains: int) -> tf.Tensor:
    """``target_domain`` (N,) int32, one index in [0, n_domains) per image, or an error
    that says what is wrong."""
    target_domain = tf.cast(target_domain, tf.int32)
    checks = [
        tf.debugging.assert_equal(tf.rank(target_domain), 1, message=(
            "target_domain must be a vector (N,): one domain index per image")),
        tf.debugging.assert_equal(tf.shape(target_domain)[0], tf.shape(images)[0], message=(
            "target_domain must hold one domain index per image")),
        tf.debugging.Assert(tf.reduce_all((target_domain >= 0) & (target_domain < n_domains)),
                            [f"target_domain must lie in 0..{n_domains - 1}; got",
                             target_domain]),
    ]
    with tf.control_dependencies(checks):
        return tf.ensure_shape(tf.reshape(target_domain, [-1]), [None])


def translate_uint8(model, images: tf.Tensor, direction: str,
                    **options) -> dict[str, tf.Tensor]:
    """uint8 batch -> {"image": uint8, "mask": float32}, padded to the strides and cropped
    back, as ``TranslationGAN.translate`` does in numpy. ``options`` go to the model
    (``target_domain`` for multi-domain models)."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    multiple = model.size_multiple
    x = tf.cast(images, tf.float32) / 127.5 - 1.0
    x = tf.pad(x, [[0, 0], [0, (-height) % multiple], [0, (-width) % multiple], [0, 0]],
               "SYMMETRIC")
    out = model._translate(x, direction, training=False, **options)
    result = {"image": to_uint8(tf.cast(out["image"], tf.float32)[:, :height, :width])}
    if "mask" in out:
        result["mask"] = tf.cast(out["mask"], tf.float32)[:, :height, :width]
    return result


def _check_bytes(data: tf.Tensor) -> tf.Tensor:
    known = tf.reduce_any(tf.stack(
        [tf.equal(tf.strings.substr(data, 0, len(magic)), magic) for magic in _IMAGE_MAGIC]))
    check = tf.debugging.Assert(known, ["image_bytes holds data that is not a JPEG, PNG, "
                                        "GIF, BMP or WebP image (first bytes:",
                                        tf.strings.substr(data, 0, 8), ")"])
    with tf.control_dependencies([check]):
        return tf.identity(data)


def _ends_with(tail: tf.Tensor, marker: bytes) -> tf.Tensor:
    """Whether the uint8 vector ``tail`` contains ``marker``."""
    n = len(marker)
    size = tf.shape(tail)[0] - n + 1
    if_found = tf.ones([tf.maximum(size, 0)], tf.bool)
    for i, byte in enumerate(marker):
        if_found = tf.logical_and(if_found, tf.equal(tail[i:i + tf.maximum(size, 0)], byte))
    return tf.reduce_any(if_found)


def _decode(data: tf.Tensor) -> tf.Tensor:
    """Encoded bytes -> uint8 (H, W, 3). Truncated files are refused with a message that
    says so (TF's decoders fail with their own terse message): a JPEG must hold its
    end-of-image marker and a PNG its IEND chunk within the last 64 bytes."""
    data = _check_bytes(data)
    raw = tf.io.decode_raw(data, tf.uint8)
    tail = raw[tf.maximum(tf.shape(raw)[0] - 64, 0):]
    kind = tf.strings.substr(data, 0, 2)
    jpeg_ok = tf.logical_or(tf.not_equal(kind, b"\xff\xd8"), _ends_with(tail, b"\xff\xd9"))
    png_ok = tf.logical_or(tf.not_equal(kind, b"\x89P"), _ends_with(tail, b"IEND"))
    check = tf.debugging.Assert(tf.logical_and(jpeg_ok, png_ok), [
        "image_bytes holds a truncated image (a JPEG without its end-of-image marker or a "
        "PNG without its IEND chunk):", tf.strings.length(data), "bytes; send the whole "
        "file"])
    with tf.control_dependencies([check]):
        return tf.io.decode_image(data, channels=3, expand_animations=False)


def saved_model(model: keras.Model, path: str, directions: tuple[str, ...] | None = None,
                max_side: int = DEFAULT_MAX_SIDE, verbose: bool = False,
                overwrite: bool = False, precision: str = "float32") -> str:
    """Writes ``model`` as a SavedModel at ``path`` (e.g. "export/uag/1") with the
    signatures above, for TF Serving. Returns the path.

    An existing, non-empty ``path`` (another version, or another model) is refused with
    ``FileExistsError`` unless ``overwrite``; the export is written beside it first and
    replaces it only once complete. ``precision``: what the served graph computes in
    (float32 whatever the model trained in, unless asked: "bfloat16" for a GPU server;
    ``models/precision.py``)."""
    from keras_attngan.models import precision as precisions

    concrete, _ = precisions.resolve(precision)
    # served on any machine: each convolution chooses its algorithm where it runs
    with precisions.computing_in(model, concrete), convolutions_for(model, "any_device"):
        return _saved_model(model, path, directions, max_side, verbose, overwrite)


def _saved_model(model, path, directions, max_side, verbose, overwrite) -> str:
    path = os.fspath(path)
    if os.path.isfile(path):
        raise FileExistsError(f"{path!r} is a file; a SavedModel is written to a folder.")
    if os.path.isdir(path) and os.listdir(path) and not overwrite:
        raise FileExistsError(
            f"{path!r} exists and is not empty; pass overwrite=True to replace it, or "
            "export to a new version folder.")
    directions = tuple(directions or model.directions)
    unknown = set(directions) - set(model.directions)
    if unknown:
        raise ValueError(f"{type(model).__name__} translates {model.directions}; cannot "
                         f"export {sorted(unknown)}.")
    # No archive.track(model): add_endpoint keeps just the variables the signatures use,
    # so the export holds the translation networks without the discriminators and the
    # image pools (CycleGAN at 256 px: 92 MB instead of 205 MB).
    archive = keras.export.ExportArchive()
    spec = tf.TensorSpec(None, tf.uint8, name="images")  # any rank: check_images says
    n_domains = int(getattr(model, "n_domains", 0) or 0)
    domain_spec = [tf.TensorSpec(None, tf.int32, name="target_domain")] if n_domains else []
    for direction in directions:
        if n_domains:
            def translate(images, target_domain, direction=direction):
                images = check_images(images, model.size_multiple, max_side)
                domains = check_domains(target_domain, images, n_domains)
                return translate_uint8(model, images, direction, target_domain=domains)
        else:
            def translate(images, direction=direction):
                images = check_images(images, model.size_multiple, max_side)
                return translate_uint8(model, images, direction)

        archive.add_endpoint(direction, tf.function(translate),
                             input_signature=[spec] + domain_spec)

    def translate_bytes(image_bytes, target_domain=None):
        if n_domains:
            target_domain = check_domains(target_domain, image_bytes, n_domains)
            items = (image_bytes, target_domain)
        else:
            items = image_bytes

        def one(item):
            data, options = (item[0], {"target_domain": item[1][None]}) if n_domains \
                else (item, {})
            image = _decode(data)
            image = check_images(image[None], model.size_multiple, max_side)
            out = translate_uint8(model, image, directions[0], **options)
            encoded = {"image_bytes": tf.io.encode_png(out["image"][0])}
            if "mask" in out:
                encoded["mask_bytes"] = tf.io.encode_png(to_uint8(out["mask"][0] * 2.0 - 1.0))
            return encoded

        outputs = {"image_bytes": tf.TensorSpec([], tf.string)}
        if model.has_attention:
            outputs["mask_bytes"] = tf.TensorSpec([], tf.string)
        return tf.map_fn(one, items, fn_output_signature=outputs)

    archive.add_endpoint("translate_bytes", tf.function(translate_bytes),
                         input_signature=[tf.TensorSpec([None], tf.string,
                                                        name="image_bytes")] + domain_spec)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=parent)
    try:
        archive.write_out(staging, verbose=verbose)
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
