"""Attention networks: one-channel masks in [0, 1] at the input resolution."""

from __future__ import annotations

import keras
from keras import layers

from keras_attngan.layers import conv_block, residual_block


def attention_net(
    channels: int = 3,
    ngf: int = 32,
    n_blocks: int = 1,
    norm: str = "instance",
    name: str = "attention_net",
) -> keras.Model:
    """UAG's attention network (Mejjati et al. 2018, appendix).

    c7s2-32-R, c3s2-64-R, ``n_blocks`` residual blocks r64, nearest up x2, c3s1-64-R,
    nearest up x2, c3s1-32-R, c7s1-1-Sigmoid; instance norm after every layer but the
    last. The appendix lists the first layer as c7s1-32, but two x2 up-samplings after a
    single stride-2 layer would double the resolution: the authors' code strides the
    first convolution by 2, and so do we. The 3x3 decoder convolutions follow the
    appendix (the authors' code has 1x1 there through an argument-order slip). Takes sides
    divisible by 4.
    """
    inputs = keras.Input((None, None, channels), name="image")
    x = conv_block(inputs, ngf, 7, strides=2, padding="reflect", norm=norm)
    x = conv_block(x, 2 * ngf, 3, strides=2, padding="zero", pad_amount=1, norm=norm)
    for _ in range(n_blocks):
        x = residual_block(x, 2 * ngf, norm=norm)
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = conv_block(x, 2 * ngf, 3, padding="reflect", norm=norm)
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = conv_block(x, ngf, 3, padding="reflect", norm=norm)
    x = conv_block(x, 1, 7, padding="reflect", norm="none", act="sigmoid")
    return keras.Model(inputs, x, name=name)
