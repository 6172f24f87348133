"""VGG19 feature extractors (SAT's attention branch and perceptual loss).

ImageNet weights come from ``keras.applications`` (downloaded on first use and cached),
or from a local weights file. ``weights=None`` is random initialisation, on purpose
(tests); there is no silent fallback when a download fails.
"""

from __future__ import annotations

import os

import keras
from keras import ops

#: the VGG19 layers SAT's perceptual self-regularisation compares: the last convolution
#: of each of the first three blocks (conv1_2, conv2_2, conv3_3), the usual choice since
#: Johnson et al.'s perceptual losses; conv3_3 is also where the attention branch cuts.
PERCEPTUAL_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be loaded."""


def vgg19(weights: str | None = "imagenet", option: str = "vgg_weights") -> keras.Model:
    """VGG19 without its classifier. ``weights``: "imagenet", a path to a
    ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` file, or None (random)."""
    if weights not in (None, "imagenet") and not os.path.exists(weights):
        raise WeightsUnavailableError(
            f"No VGG19 weights file at {weights!r} (the {option} option).")
    try:
        return keras.applications.VGG19(include_top=False, weights=weights,
                                        input_shape=(None, None, 3))
    except Exception as error:
        if weights != "imagenet":
            raise
        raise WeightsUnavailableError(
            "Could not download the VGG19 ImageNet weights "
            f"({type(error).__name__}: {error}). Without network access pass "
            f"{option}=PATH to a local vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 "
            f"(--set {option}=PATH on the command line); {option}=None trains from "
            "random initialisation, which is not the paper's setting."
        ) from error


@keras.saving.register_keras_serializable(package="keras_attngan")
class VGGPreprocess(keras.layers.Layer):
    """[-1, 1] RGB -> what VGG19 expects (0..255 BGR minus the ImageNet means)."""

    def call(self, images):
        pixels = (images + 1.0) * 127.5
        mean = ops.convert_to_tensor([103.939, 116.779, 123.68], dtype=images.dtype)
        return ops.flip(pixels, axis=-1) - mean


def vgg_features(layer_names, weights: str | None = "imagenet", name: str = "vgg_features",
                 option: str = "vgg_weights") -> keras.Model:
    """A model from [-1, 1] images to the outputs of ``layer_names`` (one, or a list)."""
    base = vgg19(weights, option)
    single = isinstance(layer_names, str)
    names = [layer_names] if single else list(layer_names)
    last = max(base.layers.index(base.get_layer(n)) for n in names)
    inputs = keras.Input((None, None, 3), name="image")
    x = VGGPreprocess(name="vgg_preprocess")(inputs)
    outputs = {}
    for layer in base.layers[1:last + 1]:
        x = layer(x)
        if layer.name in names:
            outputs[layer.name] = x
    result = outputs[names[0]] if single else [outputs[n] for n in names]
    return keras.Model(inputs, result, name=name)
