"""Evaluation metrics the papers report."""

from keras_attngan.metrics.adaptation import digit_classifier, domain_adaptation_accuracy
from keras_attngan.metrics.image import paired_pixel_accuracy, pixel_accuracy, psnr

__all__ = [
    "digit_classifier", "domain_adaptation_accuracy", "paired_pixel_accuracy",
    "pixel_accuracy", "psnr",
]
