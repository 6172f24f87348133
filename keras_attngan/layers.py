"""Building blocks shared by every network: padding, normalisation, conv and residual blocks.

The blocks are small functions that add layers to a functional graph, so the networks
built from them save and load as plain Keras functional models.
"""

from __future__ import annotations

import keras
from keras import layers, ops

PACKAGE = "keras_attngan"

# N(0, 0.02), the initialisation of the CycleGAN/pix2pix reference and of DCGAN before it.
def weight_init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring the image at its border (no edge repeat).

    Reflection padding avoids the dark frame that zero padding leaves in generated images.
    """

    def __init__(self, padding: int | tuple[int, int] = 1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = (padding, padding)
        self.padding = tuple(int(p) for p in padding)

    def call(self, x):
        ph, pw = self.padding
        return ops.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        ph, pw = self.padding
        return (n, None if h is None else h + 2 * ph, None if w is None else w + 2 * pw, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class InstanceNormalization(layers.Layer):
    """Instance normalisation without affine parameters, as the CycleGAN reference uses.

    The same function as ``keras.layers.GroupNormalization(groups=-1, center=False,
    scale=False)``, written for TFLite: GroupNormalization reshapes to 5-D, which TFLite
    runs about 2x slower, and ``ops.moments`` becomes SQUARED_DIFFERENCE, which int8
    TFLite runs slowly (``attngan bench export``); Keras runs all three alike.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def normalize(self, x):
        dtype = x.dtype
        x = ops.cast(x, "float32")  # float16 squares overflow
        centred = x - ops.mean(x, axis=(1, 2), keepdims=True)
        variance = ops.mean(centred * centred, axis=(1, 2), keepdims=True)
        return ops.cast(centred * ops.rsqrt(variance + self.epsilon), dtype)

    def call(self, x):
        return self.normalize(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def instance_norm(name: str | None = None) -> layers.Layer:
    """Instance normalisation without affine parameters (see ``InstanceNormalization``)."""
    return InstanceNormalization(name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SwitchableInstanceNorm(InstanceNormalization):
    """Instance normalisation (no affine) that a training schedule can turn off without
    retracing the step: ``enabled`` is a non-trainable 0/1 weight (UAG's discriminators
    drop instance norm in their second stage)."""

    def build(self, input_shape):
        self.enabled = self.add_weight(shape=(), initializer="ones", trainable=False,
                                       name="enabled")

    def call(self, x):
        enabled = ops.cast(self.enabled, x.dtype)
        return enabled * self.normalize(x) + (1.0 - enabled) * x


def normalization(kind: str, name: str | None = None) -> layers.Layer | None:
    """'instance', 'switchable_instance', 'batch' or 'none'."""
    if kind == "instance":
        return instance_norm(name)
    if kind == "switchable_instance":
        return SwitchableInstanceNorm(name=name)
    if kind == "batch":
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    if kind in ("none", None):
        return None
    raise ValueError(f"Unknown normalisation {kind!r}; use 'instance', 'batch' or 'none'.")


def activation(kind: str | None, name: str | None = None) -> layers.Layer | None:
    """'relu', 'leaky_relu' (slope 0.2, as every discriminator here), 'tanh', 'sigmoid'."""
    if kind in (None, "none", "linear"):
        return None
    if kind == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.2, name=name)
    if kind in ("relu", "tanh", "sigmoid"):
        return layers.Activation(kind, name=name)
    raise ValueError(f"Unknown activation {kind!r}.")


def norm_act(x, norm: str, act: str | None):
    """Normalisation then activation, each left out when 'none'."""
    for layer in (normalization(norm), activation(act)):
        if layer is not None:
            x = layer(x)
    return x


def _pad(x, amount: int, padding: str):
    if amount == 0 or padding == "same":
        return x
    if padding == "reflect":
        return ReflectionPadding2D(amount)(x)
    if padding == "zero":
        return layers.ZeroPadding2D(amount)(x)
    raise ValueError(f"Unknown padding {padding!r}; use 'reflect', 'zero' or 'same'.")


def conv_block(
    x,
    filters: int,
    kernel_size: int,
    strides: int = 1,
    padding: str = "reflect",
    norm: str = "instance",
    act: str | None = "relu",
    dilation: int = 1,
    pad_amount: int | None = None,
    use_bias: bool = True,
    bias_init: float = 0.0,
):
    """Pad -> Conv2D -> norm -> activation; ``bias_init`` starts the bias there.

    ``padding`` 'reflect' or 'zero' pads explicitly by ``pad_amount`` (default: half the
    dilated kernel, so stride 1 keeps the size) and convolves 'valid', which reproduces the
    reference's PyTorch padding exactly; 'same' leaves it to Keras.
    """
    if pad_amount is None:
        pad_amount = dilation * (kernel_size - 1) // 2
    x = _pad(x, pad_amount, padding)
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same" if padding == "same" else "valid",
        dilation_rate=dilation,
        use_bias=use_bias,
        kernel_initializer=weight_init(),
        bias_initializer=keras.initializers.Constant(bias_init),
    )(x)
    return norm_act(x, norm, act)


def conv_transpose_block(
    x, filters: int, kernel_size: int = 3, strides: int = 2, norm: str = "instance",
    act: str | None = "relu",
):
    """Transposed convolution that multiplies the size by ``strides``, then norm and act."""
    x = layers.Conv2DTranspose(
        filters, kernel_size, strides=strides, padding="same",
        kernel_initializer=weight_init(),
    )(x)
    return norm_act(x, norm, act)


def residual_block(x, filters: int | None = None, norm: str = "instance", dilation: int = 1,
                   padding: str = "reflect"):
    """x + (conv3-norm-relu-conv3-norm)(x); ``dilation`` > 1 gives SAT's dilated blocks."""
    filters = filters or x.shape[-1]
    y = conv_block(x, filters, 3, padding=padding, norm=norm, act="relu", dilation=dilation)
    y = conv_block(y, filters, 3, padding=padding, norm=norm, act=None, dilation=dilation)
    return layers.Add()([x, y])
