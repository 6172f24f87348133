"""Evaluation metrics the papers report, the feature networks they need, and the
evaluation of a trained translator (``evaluate``, behind ``attngan evaluate``).

- distribution metrics on network features: ``kid_from_features`` (Bińkowski et al.
  2018), ``fid_from_features`` (Heusel et al. 2017), ``inception_score`` (Salimans et
  al. 2016);
- feature networks: ``inception_v3`` (keras.applications; weights "imagenet", a path,
  or None), ``frozen_graph`` (the reference FID graph by path), ``feature_extractor``
  (any Keras model), ``compute_features`` (streamed over tf.data, progress bar);
- paired metrics: ``psnr``, ``mse``, ``ssim`` (Wang et al. 2004), ``pixel_accuracy``
  (UNIT's and SAT's maps rules), ``paired_pixel_accuracy``; ``mask_iou``;
- domain-adaptation accuracy: ``domain_adaptation_accuracy`` (train on translations,
  test on the target), ``translated_accuracy`` (target classifier on translations),
  ``classify_accuracy`` (a model's own classifier head on target images: unit_da).
"""

from keras_attngan.metrics.adaptation import (
    classifier_accuracy, classify_accuracy, digit_classifier, domain_adaptation_accuracy,
    train_classifier, translated_accuracy,
)
from keras_attngan.metrics.distribution import (
    fid_from_features, frechet_distance, inception_score, kid_from_features,
    polynomial_mmd2,
)
from keras_attngan.metrics.scoring import (
    METRICS, EvaluationError, SavedModelTranslator, default_metrics, evaluate,
    format_table, load_translator, real_image_features,
)
from keras_attngan.metrics.features import (
    RANDOM_INIT, FeatureExtractor, compute_features, feature_extractor, frozen_graph,
    inception_v3, softmax,
)
from keras_attngan.metrics.image import (
    SAT_TOLERANCE, UNIT_TOLERANCE, mask_iou, mse, paired_pixel_accuracy, pixel_accuracy,
    psnr, ssim,
)

__all__ = [
    "METRICS", "RANDOM_INIT", "SAT_TOLERANCE", "UNIT_TOLERANCE", "EvaluationError",
    "FeatureExtractor", "SavedModelTranslator", "classifier_accuracy", "classify_accuracy", "compute_features",
    "default_metrics", "digit_classifier", "domain_adaptation_accuracy", "evaluate",
    "feature_extractor", "fid_from_features", "format_table", "frechet_distance",
    "frozen_graph", "inception_score", "inception_v3", "kid_from_features",
    "load_translator", "mask_iou", "mse", "paired_pixel_accuracy", "pixel_accuracy",
    "polynomial_mmd2", "psnr", "real_image_features", "softmax", "ssim", "train_classifier",
    "translated_accuracy",
]
