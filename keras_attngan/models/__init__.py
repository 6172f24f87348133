"""The translation GANs: ``build(name, **hparams)``, ``load(path)`` and the classes."""

from keras_attngan.models.base import (
    EpochSchedule, ImagePool, Milestone, ScheduleWarning, TranslationGAN,
)
from keras_attngan.models.aggan import AGGAN
from keras_attngan.models.aggan_multidomain import AGGANMultiDomain
from keras_attngan.models.cyclegan import CycleGAN
from keras_attngan.models.dagan import DAGAN
from keras_attngan.models.sat import SAT, adaptive_lambda_update
from keras_attngan.models.uag import UAG
from keras_attngan.models.unit import UNIT
from keras_attngan.models.unit_da import UNITDA
from keras_attngan.models.registry import MODELS, available, build, get_class, load, name_of

__all__ = [
    "AGGAN", "AGGANMultiDomain", "CycleGAN", "DAGAN", "EpochSchedule", "Milestone", "ScheduleWarning", "SAT", "ImagePool", "UAG", "UNIT", "UNITDA", "MODELS",
    "TranslationGAN", "adaptive_lambda_update", "available", "build", "get_class", "load",
    "name_of",
]
