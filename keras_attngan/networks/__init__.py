"""Plain functional sub-networks the models are wired from."""

from keras_attngan.networks.attention import attention_net
from keras_attngan.networks.discriminators import global_discriminator, patch_discriminator
from keras_attngan.networks.generators import resnet_generator

__all__ = ["attention_net", "global_discriminator", "patch_discriminator", "resnet_generator"]
