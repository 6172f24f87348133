"""Plain functional sub-networks the models are wired from."""

from keras_attngan.networks.attention import attention_net
from keras_attngan.networks.dagan import (
    dense_discriminator, downsampling_encoder, instance_generator, localisation_head,
)
from keras_attngan.networks.discriminators import (
    classifying_discriminator, global_discriminator, patch_discriminator,
)
from keras_attngan.networks.generators import resnet_generator
from keras_attngan.networks.vgg import PERCEPTUAL_LAYERS, vgg_features
from keras_attngan.networks.unit import (
    conv_discriminator, digit_discriminator_front, digit_discriminator_trunk, feature_head,
    residual_stack, unit_decoder_back, unit_digit_decoder_back, unit_digit_encoder_front,
    unit_digit_shared_decoder, unit_digit_shared_encoder, unit_encoder_front,
)

__all__ = [
    "attention_net", "classifying_discriminator", "conv_discriminator", "global_discriminator", "patch_discriminator",
    "residual_stack", "resnet_generator", "unit_decoder_back", "unit_encoder_front",
    "PERCEPTUAL_LAYERS", "vgg_features", "dense_discriminator", "downsampling_encoder",
    "instance_generator", "localisation_head", "digit_discriminator_front",
    "digit_discriminator_trunk", "feature_head", "unit_digit_decoder_back",
    "unit_digit_encoder_front", "unit_digit_shared_decoder", "unit_digit_shared_encoder",
]
