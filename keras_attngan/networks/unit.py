"""UNIT's networks (Liu, Breuel, Kautz 2017): encoder front ends, the residual stacks the
two domains share, decoder back ends, and the plain convolutional discriminator.

The shared layers are separate models so that the two domains' encoders (and
generators) are wired from the same layer objects in Python, and a saved model stores
them once.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_attngan.layers import (
    conv_block, conv_transpose_block, norm_act, residual_block, weight_init,
)


def unit_encoder_front(channels: int = 3, ngf: int = 64, n_downsampling: int = 2,
                       n_blocks: int = 4, n_shared: int = 1, norm: str = "instance",
                       act: str = "leaky_relu", name: str = "encoder_front") -> keras.Model:
    """c7s1-ngf, then ``n_downsampling`` 3x3 stride-2 convolutions doubling the width, then
    the domain's own ``n_blocks - n_shared`` residual blocks."""
    inputs = keras.Input((None, None, channels), name="image")
    x = conv_block(inputs, ngf, 7, padding="reflect", norm=norm, act=act)
    filters = ngf
    for _ in range(n_downsampling):
        filters *= 2
        x = conv_block(x, filters, 3, strides=2, padding="zero", pad_amount=1, norm=norm,
                       act=act)
    for _ in range(n_blocks - n_shared):
        x = residual_block(x, filters, norm=norm)
    return keras.Model(inputs, x, name=name)


def residual_stack(filters: int, n_blocks: int, norm: str = "instance",
                   name: str = "shared_blocks") -> keras.Model:
    """``n_blocks`` residual blocks on ``filters`` channels (the identity for 0)."""
    inputs = keras.Input((None, None, filters), name="features")
    x = inputs
    for _ in range(n_blocks):
        x = residual_block(x, filters, norm=norm)
    return keras.Model(inputs, x, name=name)


def unit_decoder_back(filters: int, channels: int = 3, n_upsampling: int = 2,
                      n_blocks: int = 4, n_shared: int = 1, norm: str = "instance",
                      act: str = "leaky_relu", name: str = "decoder_back") -> keras.Model:
    """The domain's own ``n_blocks - n_shared`` residual blocks, then three transposed
    convolutions: ``n_upsampling`` 3x3 stride 2 halving the width, and a 1x1 one to the
    image (tanh)."""
    inputs = keras.Input((None, None, filters), name="features")
    x = inputs
    for _ in range(n_blocks - n_shared):
        x = residual_block(x, filters, norm=norm)
    for _ in range(n_upsampling):
        filters //= 2
        x = conv_transpose_block(x, filters, norm=norm, act=act)
    x = layers.Conv2DTranspose(channels, 1, padding="same", activation="tanh",
                               kernel_initializer=weight_init())(x)
    return keras.Model(inputs, x, name=name)


def conv_discriminator(channels: int = 3, ndf: int = 64, n_layers: int = 5,
                       name: str = "conv_discriminator") -> keras.Model:
    """A stack of ``n_layers`` convolutions: ``n_layers - 1`` 3x3 stride-2 ones (LeakyReLU
    0.2, width doubling up to 8 x ndf) and a 1x1 one to a map of logits."""
    inputs = keras.Input((None, None, channels), name="image")
    x = inputs
    for i in range(n_layers - 1):
        x = conv_block(x, ndf * min(2**i, 8), 3, strides=2, padding="zero", pad_amount=1,
                       norm="none", act="leaky_relu")
    x = conv_block(x, 1, 1, padding="same", norm="none", act=None)
    return keras.Model(inputs, x, name=name)


# ------------------------------------------------- the domain-adaptation (digit) networks
# UNIT's Sec. 4 / appendix networks for 32 px digits, as its authors' code builds them
# (CoVAE32x32 / CoDis32x32): per-domain first encoder layer and last decoder layers, the
# rest shared; discriminators share all but their first layer.

def unit_digit_encoder_front(channels: int = 3, ngf: int = 32,
                             name: str = "encoder_front") -> keras.Model:
    """The domain's own first layer: 5x5 stride-2 convolution, BN, LeakyReLU."""
    inputs = keras.Input((None, None, channels), name="image")
    x = conv_block(inputs, ngf, 5, strides=2, padding="zero", pad_amount=2, norm="batch",
                   act="leaky_relu")
    return keras.Model(inputs, x, name=name)


def unit_digit_shared_encoder(ngf: int = 32, image_size: int = 32,
                              name: str = "shared_encoder") -> keras.Model:
    """5x5 stride 2 (2 ngf), an (image_size/4)-wide 'valid' convolution to a 1x1 map
    (4 ngf), a 1x1 one (8 ngf), each BN + LeakyReLU, and the 1x1 convolution giving the
    latent code's mean (8 ngf)."""
    inputs = keras.Input((image_size // 2, image_size // 2, ngf), name="features")
    x = conv_block(inputs, 2 * ngf, 5, strides=2, padding="zero", pad_amount=2,
                   norm="batch", act="leaky_relu")
    x = conv_block(x, 4 * ngf, image_size // 4, padding="zero", pad_amount=0, norm="batch",
                   act="leaky_relu")
    x = conv_block(x, 8 * ngf, 1, padding="zero", norm="batch", act="leaky_relu")
    mu = conv_block(x, 8 * ngf, 1, padding="zero", norm="none", act=None)
    return keras.Model(inputs, mu, name=name)


def unit_digit_shared_decoder(ngf: int = 32, image_size: int = 32,
                              name: str = "shared_decoder") -> keras.Model:
    """The 1x1 code back to an (image_size/2) map: an (image_size/8)-wide transposed
    convolution (8 ngf), then two 4x4 stride-2 ones (4 ngf, 2 ngf), BN + LeakyReLU."""
    inputs = keras.Input((1, 1, 8 * ngf), name="code")
    x = layers.Conv2DTranspose(8 * ngf, image_size // 8, padding="valid",
                               kernel_initializer=weight_init())(inputs)
    x = norm_act(x, "batch", "leaky_relu")
    for width in (4 * ngf, 2 * ngf):
        x = conv_transpose_block(x, width, 4, norm="batch", act="leaky_relu")
    return keras.Model(inputs, x, name=name)


def unit_digit_decoder_back(ngf: int = 32, channels: int = 3,
                            name: str = "decoder_back") -> keras.Model:
    """The domain's own last layers: a 4x4 stride-2 transposed convolution (ngf, BN,
    LeakyReLU) and a 1x1 one to the image (tanh)."""
    inputs = keras.Input((None, None, 2 * ngf), name="features")
    x = conv_transpose_block(inputs, ngf, 4, norm="batch", act="leaky_relu")
    x = layers.Conv2DTranspose(channels, 1, padding="same", activation="tanh",
                               kernel_initializer=weight_init())(x)
    return keras.Model(inputs, x, name=name)


def digit_discriminator_front(channels: int = 3, ndf: int = 64,
                              name: str = "discriminator_front") -> keras.Model:
    """The domain's own first layer: 5x5 convolution, ReLU, 2x2 max pooling."""
    inputs = keras.Input((None, None, channels), name="image")
    x = conv_block(inputs, ndf, 5, padding="zero", pad_amount=2, norm="none", act="relu")
    return keras.Model(inputs, layers.MaxPooling2D(2)(x), name=name)


def digit_discriminator_trunk(ndf: int = 64, dropout: tuple[float, ...] = (0.1, 0.3, 0.5, 0.5),
                              name: str = "shared_discriminator") -> keras.Model:
    """The discriminators' shared high-level layers: three (5x5 convolution, ReLU, 2x2
    max pooling) blocks widening to 8 ndf, dropout before each and after the last. Its
    output is the "top features" the adaptation loss ties and the classifier reads."""
    inputs = keras.Input((None, None, ndf), name="features")
    x = layers.Dropout(dropout[0])(inputs)
    for width, rate in zip((2 * ndf, 4 * ndf, 8 * ndf), dropout[1:]):
        x = conv_block(x, width, 5, padding="zero", pad_amount=2, norm="none", act="relu")
        x = layers.Dropout(rate)(layers.MaxPooling2D(2)(x))
    return keras.Model(inputs, x, name=name)


def feature_head(ndf: int, size: int, outputs: int, name: str) -> keras.Model:
    """A ``size`` x ``size`` 'valid' convolution over the top features to ``outputs``
    logits per image (the adversarial head: 1; the classifier: n_classes)."""
    inputs = keras.Input((size, size, 8 * ndf), name="features")
    x = layers.Conv2D(outputs, size, padding="valid", kernel_initializer=weight_init())(inputs)
    return keras.Model(inputs, layers.Flatten()(x), name=name)
