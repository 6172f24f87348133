"""Deployment: SavedModels for TF Serving, TFLite models for phones."""

from keras_attngan.export.saved_model import saved_model
from keras_attngan.export.tflite import ExportCheckError, TFLiteTranslator, tflite

__all__ = ["ExportCheckError", "TFLiteTranslator", "saved_model", "tflite"]
