"""Evaluation metrics the papers report."""

from keras_attngan.metrics.image import pixel_accuracy, psnr

__all__ = ["pixel_accuracy", "psnr"]
