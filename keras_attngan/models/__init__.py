"""The translation GANs: ``build(name, **hparams)``, ``load(path)`` and the classes."""

from keras_attngan.models.base import ImagePool, TranslationGAN
from keras_attngan.models.aggan import AGGAN
from keras_attngan.models.cyclegan import CycleGAN
from keras_attngan.models.dagan import DAGAN
from keras_attngan.models.sat import SAT, AdaptiveLambda
from keras_attngan.models.uag import UAG
from keras_attngan.models.unit import UNIT
from keras_attngan.models.registry import MODELS, available, build, get_class, load, name_of

__all__ = [
    "AGGAN", "AdaptiveLambda", "CycleGAN", "DAGAN", "SAT", "ImagePool", "UAG", "UNIT", "MODELS", "TranslationGAN", "available", "build", "get_class",
    "load", "name_of",
]
