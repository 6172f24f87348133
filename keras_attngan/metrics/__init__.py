"""Evaluation metrics the papers report."""

from keras_attngan.metrics.image import paired_pixel_accuracy, pixel_accuracy, psnr

__all__ = ["paired_pixel_accuracy", "pixel_accuracy", "psnr"]
