"""Image generators."""

from __future__ import annotations

import keras

from keras_attngan.layers import conv_block, conv_transpose_block, residual_block


def resnet_generator(
    channels: int = 3,
    ngf: int = 64,
    n_blocks: int = 9,
    n_downsampling: int = 2,
    norm: str = "instance",
    output_channels: int | None = None,
    output_activation: str = "tanh",
    dilation: int = 1,
    first_padding: str = "reflect",
    name: str = "resnet_generator",
) -> keras.Model:
    """The ResNet generator of Johnson et al. as the CycleGAN reference builds it.

    c7s1-ngf, d(2ngf), d(4ngf), ``n_blocks`` residual blocks R(4ngf), u(2ngf), u(ngf),
    c7s1-output with ``output_activation``. 9 blocks for 256 px, 6 for 128 px. Takes any
    height and width divisible by ``2 ** n_downsampling``. ``first_padding="zero"`` for
    inputs with constant code channels (a StarGAN-style domain code): reflected, such a
    channel stays constant and its border information is lost.
    """
    inputs = keras.Input((None, None, channels), name="image")
    x = conv_block(inputs, ngf, 7, padding=first_padding, norm=norm)
    filters = ngf
    for _ in range(n_downsampling):
        filters *= 2
        x = conv_block(x, filters, 3, strides=2, padding="zero", norm=norm, pad_amount=1)
    for _ in range(n_blocks):
        x = residual_block(x, filters, norm=norm, dilation=dilation)
    for _ in range(n_downsampling):
        filters //= 2
        x = conv_transpose_block(x, filters, norm=norm)
    x = conv_block(
        x, output_channels or channels, 7, padding="reflect", norm="none",
        act=output_activation,
    )
    return keras.Model(inputs, x, name=name)
