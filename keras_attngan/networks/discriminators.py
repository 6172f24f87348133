"""Discriminators."""

from __future__ import annotations

import keras

from keras_attngan.layers import conv_block


def patch_discriminator(
    channels: int = 3,
    ndf: int = 64,
    n_layers: int = 3,
    norm: str = "instance",
    name: str = "patch_discriminator",
) -> keras.Model:
    """PatchGAN discriminator (pix2pix/CycleGAN): one real/fake logit per image patch.

    C64 (no norm), C128, C256 with stride 2, C512 stride 1, then a 1-channel conv; 4x4
    kernels, zero padding 1, LeakyReLU 0.2. ``n_layers=3`` sees 70x70 patches. The output is
    a raw score map (no sigmoid): the adversarial losses take logits or LSGAN scores.
    """
    inputs = keras.Input((None, None, channels), name="image")
    x = conv_block(inputs, ndf, 4, strides=2, padding="zero", pad_amount=1, norm="none",
                   act="leaky_relu")
    mult = 1
    for n in range(1, n_layers):
        mult = min(2**n, 8)
        x = conv_block(x, ndf * mult, 4, strides=2, padding="zero", pad_amount=1, norm=norm,
                       act="leaky_relu")
    mult = min(2**n_layers, 8)
    x = conv_block(x, ndf * mult, 4, strides=1, padding="zero", pad_amount=1, norm=norm,
                   act="leaky_relu")
    x = conv_block(x, 1, 4, strides=1, padding="zero", pad_amount=1, norm="none", act=None)
    return keras.Model(inputs, x, name=name)
