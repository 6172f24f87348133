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
    layers_from: str = "paper",
    output_bias: float = 0.0,
    name: str = "attention_net",
) -> keras.Model:
    """UAG's attention network (Mejjati et al. 2018, appendix).

    c7s2-32-R, c3s2-64-R, ``n_blocks`` residual blocks r64, nearest up x2, c3s1-64-R,
    nearest up x2, c3s1-32-R, c7s1-1-Sigmoid; instance norm after every layer but the
    last. The appendix lists the first layer as c7s1-32, but two x2 up-samplings after a
    single stride-2 layer would double the resolution: the authors' code strides the
    first convolution by 2, and so do we. Takes sides divisible by 4.

    ``layers_from``: "paper" (the default) gives the appendix's 3x3 decoder and 7x7
    output convolutions; "authors" the 1x1 ones the released code computes there (an
    argument-order slip turns its 3x3 and 7x7 kernels into 1x1); ``models/uag.py`` says
    how they compare. ``output_bias``: the output logit's initial bias (0: the mask
    starts near 0.5).
    """
    if layers_from not in ("paper", "authors"):
        raise ValueError(f"layers_from must be 'paper' or 'authors'; got {layers_from!r}.")
    decoder_kernel, output_kernel = (3, 7) if layers_from == "paper" else (1, 1)
    inputs = keras.Input((None, None, channels), name="image")
    x = conv_block(inputs, ngf, 7, strides=2, padding="reflect", norm=norm)
    x = conv_block(x, 2 * ngf, 3, strides=2, padding="zero", pad_amount=1, norm=norm)
    for _ in range(n_blocks):
        x = residual_block(x, 2 * ngf, norm=norm)
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = conv_block(x, 2 * ngf, decoder_kernel, padding="reflect", norm=norm)
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = conv_block(x, ngf, decoder_kernel, padding="reflect", norm=norm)
    x = conv_block(x, 1, output_kernel, padding="reflect", norm="none", act="sigmoid",
                   bias_init=output_bias)
    return keras.Model(inputs, x, name=name)
