"""UNIT's networks (Liu, Breuel, Kautz 2017): encoder front ends, the residual stacks the
two domains share, decoder back ends, and the plain convolutional discriminator.

The shared layers are separate models so that the two domains' encoders (and
generators) are wired from the same layer objects in Python, and a saved model stores
them once.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_attngan.layers import conv_block, conv_transpose_block, residual_block, weight_init


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
