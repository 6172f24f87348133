"""Discriminators."""

from __future__ import annotations

import keras

from keras_attngan.layers import conv_block


def patch_discriminator(
    channels: int = 3,
    ndf: int = 64,
    n_layers: int = 3,
    norm: str = "instance",
    first_norm: bool = False,
    name: str = "patch_discriminator",
) -> keras.Model:
    """PatchGAN discriminator (pix2pix/CycleGAN): one real/fake logit per image patch.

    C64 (no norm unless ``first_norm``), C128, C256 with stride 2, C512 stride 1, then a
    1-channel conv; 4x4 kernels, zero padding 1, LeakyReLU 0.2. ``n_layers=3`` sees 70x70
    patches. The output is a raw score map (no sigmoid): the adversarial losses take
    logits or LSGAN scores.
    """
    inputs = keras.Input((None, None, channels), name="image")
    x = conv_block(inputs, ndf, 4, strides=2, padding="zero", pad_amount=1,
                   norm=norm if first_norm else "none", act="leaky_relu")
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


def global_discriminator(
    channels: int = 3,
    ndf: int = 64,
    norm: str = "batch",
    name: str = "global_discriminator",
) -> keras.Model:
    """AGGAN's discriminator (Tang et al. 2019, Sec. III-D): one score per image.

    C64, C128, C256, C512 with stride 2 and C512 with stride 1 (4x4 convolutions,
    LeakyReLU 0.2, BatchNorm on all but the first and the last), then adaptive average
    pooling and a 1x1 convolution to one output. ``channels`` 4 gives the
    attention-guided discriminator that judges [mask, image] pairs.
    """
    inputs = keras.Input((None, None, channels), name="image")
    x = inputs
    for i, (filters, strides) in enumerate(
            [(ndf, 2), (2 * ndf, 2), (4 * ndf, 2), (8 * ndf, 2), (8 * ndf, 1)]):
        x = conv_block(x, filters, 4, strides=strides, padding="zero", pad_amount=1,
                       norm="none" if i in (0, 4) else norm, act="leaky_relu")
    x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = conv_block(x, 1, 1, padding="same", norm="none", act=None)
    return keras.Model(inputs, keras.layers.Flatten()(x), name=name)


def classifying_discriminator(
    channels: int = 3,
    ndf: int = 64,
    n_layers: int = 6,
    image_size: int = 128,
    n_classes: int = 8,
    name: str = "classifying_discriminator",
) -> keras.Model:
    """StarGAN's discriminator (Choi et al. 2018): ``n_layers`` 4x4 stride-2 convolutions
    doubling from ``ndf`` (LeakyReLU 0.01, no norm), then two heads on the same features:
    a 3x3 convolution to a map of real/fake scores (a PatchGAN) and an
    (image_size / 2**n_layers)-wide 'valid' convolution to ``n_classes`` domain logits.
    Outputs [scores (B, h, w, 1), logits (B, n_classes)]."""
    if image_size % 2**n_layers:
        raise ValueError(f"image_size={image_size} must be a multiple of 2**n_layers="
                         f"{2**n_layers} for the domain head.")
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = inputs
    for i in range(n_layers):
        x = conv_block(x, ndf * 2**i, 4, strides=2, padding="zero", pad_amount=1,
                       norm="none", act=None)
        x = keras.layers.LeakyReLU(negative_slope=0.01)(x)
    scores = conv_block(x, 1, 3, padding="zero", pad_amount=1, norm="none", act=None,
                        use_bias=False)
    logits = conv_block(x, n_classes, image_size // 2**n_layers, padding="zero",
                        pad_amount=0, norm="none", act=None, use_bias=False)
    return keras.Model(inputs, [scores, keras.layers.Flatten()(logits)], name=name)
