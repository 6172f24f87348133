"""DA-GAN's networks (Ma et al. 2018): the encoder, the localisation head, the
instance-level generator and the dense-output discriminator."""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_attngan.layers import conv_block, residual_block, weight_init


def downsampling_encoder(channels: int = 3, nf: int = 64, n_downsampling: int = 3,
                         name: str = "encoder") -> keras.Model:
    """E: 4x4 stride-2 convolutions doubling the width (BN, LeakyReLU 0.2; no BN on the
    first), to a feature map at 1 / 2**n_downsampling of the image."""
    inputs = keras.Input((None, None, channels), name="image")
    x = inputs
    for i in range(n_downsampling):
        x = conv_block(x, nf * 2**i, 4, strides=2, padding="zero", pad_amount=1,
                       norm="none" if i == 0 else "batch", act="leaky_relu")
    return keras.Model(inputs, x, name=name)


@keras.saving.register_keras_serializable(package="keras_attngan")
class SpatialSoftArgmax(layers.Layer):
    """(B, h, w, N) score maps -> (B, N, 2) expected (x, y) positions in [0, 1] under a
    softmax over each map's cells: a differentiable arg-max that stays inside the image."""

    def call(self, scores):
        shape = ops.shape(scores)
        height, width, count = shape[1], shape[2], shape[3]
        weights = ops.softmax(ops.reshape(scores, (shape[0], height * width, count)), axis=1)
        ys = (ops.cast(ops.arange(height), scores.dtype) + 0.5) / ops.cast(height, scores.dtype)
        xs = (ops.cast(ops.arange(width), scores.dtype) + 0.5) / ops.cast(width, scores.dtype)
        grid_y, grid_x = ops.meshgrid(ys, xs, indexing="ij")
        cells = ops.stack([ops.reshape(grid_x, (-1,)), ops.reshape(grid_y, (-1,))], axis=-1)
        return ops.einsum("bcn,cd->bnd", weights, cells)


def localisation_head(features: int, n_regions: int, name: str = "f_loc") -> keras.Model:
    """f_loc: a feature map -> N region centres (x_i, y_i) in [0, 1]: a 3x3 convolution
    block, a 1x1 convolution to one score map per region, and a spatial soft-arg-max.
    (The paper leaves f_loc's form open; the soft-arg-max keeps spatial information that
    a pooled, fully-connected head would lose, keeps centres inside the image, and works
    at any image size.)"""
    inputs = keras.Input((None, None, features), name="features")
    x = conv_block(inputs, features, 3, padding="zero", pad_amount=1, norm="none",
                   act="leaky_relu")
    x = layers.Conv2D(n_regions, 1, kernel_initializer=weight_init())(x)
    return keras.Model(inputs, SpatialSoftArgmax()(x), name=name)


def instance_generator(features: int, n_regions: int, channels: int = 3, ngf: int = 64,
                       n_blocks: int = 3, n_upsampling: int = 3,
                       name: str = "generator") -> keras.Model:
    """G: the N instance representations concatenated along channels, residual blocks,
    then nearest-neighbour x2 up-sampling + 3x3 convolution blocks (BN, ReLU), and a 3x3
    convolution to the image (tanh)."""
    inputs = keras.Input((None, None, features * n_regions), name="instances")
    x = conv_block(inputs, ngf * 2**n_upsampling // 2, 3, padding="reflect", norm="batch")
    for _ in range(n_blocks):
        x = residual_block(x, norm="batch")
    filters = x.shape[-1]
    for _ in range(n_upsampling):
        filters = max(ngf // 2, filters // 2)
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = conv_block(x, filters, 3, padding="reflect", norm="batch")
    x = conv_block(x, channels, 3, padding="reflect", norm="none", act="tanh")
    return keras.Model(inputs, x, name=name)


def dense_discriminator(image_size: int, channels: int = 3, ndf: int = 64,
                        n_downsampling: int = 3, name: str = "discriminator") -> keras.Model:
    """Down-sampling blocks (4x4 stride 2, BN, LeakyReLU), then one dense unit."""
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = downsampling_encoder(channels, ndf, n_downsampling, name=f"{name}_blocks")(inputs)
    x = layers.Flatten()(x)
    x = layers.Dense(1, kernel_initializer=weight_init())(x)
    return keras.Model(inputs, x, name=name)
