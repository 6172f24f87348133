"""Domain-adaptation accuracy, the digit metrics of SAT (Yang et al. 2018, Table 3) and
DA-GAN (Ma et al. 2018, Table 1), in its two forms:

- ``domain_adaptation_accuracy``: train a classifier on the translated source images
  with the source labels and test it on real labelled target images (SAT; DA-GAN's
  SVHN -> MNIST adaptation);
- ``translated_accuracy``: classify the translations with a classifier trained on the
  real target domain and score them against the source labels (a translation that kept
  its digit is classified as that digit: DA-GAN's Table 1(a)).
"""

from __future__ import annotations

import keras
import numpy as np


def digit_classifier(image_size: int = 32, n_classes: int = 10) -> keras.Model:
    """A small CNN for digit-sized images (uint8 input)."""
    return keras.Sequential([
        keras.Input((image_size, image_size, 3)),
        keras.layers.Rescaling(1 / 127.5, offset=-1),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dropout(0.3),
        keras.layers.Dense(128, activation="relu"), keras.layers.Dense(n_classes),
    ], name="digit_classifier")


def _labelled(images, labels, what: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{what} images must be uint8 RGB (N, H, W, 3); got dtype "
                         f"{images.dtype}, shape {images.shape}. Translations in [-1, 1]: "
                         "np.round((x + 1) * 127.5).astype('uint8').")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what} labels must be {len(images)} integers, one per image; got "
                         f"shape {labels.shape}, dtype {labels.dtype}.")
    return images, labels


def train_classifier(images, labels, epochs: int = 5, n_classes: int = 10,
                     verbose: int = 0) -> keras.Model:
    """``digit_classifier`` trained on uint8 ``images`` and integer ``labels``."""
    images, labels = _labelled(images, labels, "training")
    net = digit_classifier(images.shape[1], n_classes)
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    net.fit(images, labels, epochs=epochs, batch_size=128, verbose=verbose)
    return net


def classifier_accuracy(classifier: keras.Model, images, labels,
                        batch_size: int = 256) -> float:
    """The fraction of ``images`` that ``classifier`` (logits or probabilities out)
    puts in their ``labels``' class."""
    images, labels = _labelled(images, labels, "test")
    scores = classifier.predict(images, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(scores, axis=-1) == labels))


def domain_adaptation_accuracy(train_images: np.ndarray, train_labels: np.ndarray,
                               test_images: np.ndarray, test_labels: np.ndarray,
                               epochs: int = 5, n_classes: int = 10,
                               verbose: int = 0) -> float:
    """Trains ``digit_classifier`` on (translated) uint8 ``train_images`` with their
    source labels and returns its accuracy on the target domain's ``test_images``."""
    net = train_classifier(train_images, train_labels, epochs, n_classes, verbose)
    return classifier_accuracy(net, test_images, test_labels)


def translated_accuracy(translated_images, source_labels, classifier: keras.Model | None =
                        None, target_images=None, target_labels=None, epochs: int = 5,
                        n_classes: int = 10, verbose: int = 0) -> float:
    """The accuracy of a target-domain classifier on the translations, against the
    source labels (DA-GAN, Table 1(a)). ``classifier``: a trained target-domain
    classifier; without one, ``digit_classifier`` is trained on ``target_images`` and
    ``target_labels`` (real target data) first."""
    if classifier is None:
        if target_images is None or target_labels is None:
            raise ValueError("translated_accuracy needs a target-domain classifier, or "
                             "target_images and target_labels to train one.")
        classifier = train_classifier(target_images, target_labels, epochs, n_classes,
                                      verbose)
    return classifier_accuracy(classifier, translated_images, source_labels)


def classify_accuracy(model, images, labels, domain: str = "b",
                      batch_size: int = 256) -> float:
    """The accuracy of a model's own classifier (``model.classify``, e.g. ``unit_da``'s
    head on its shared discriminator features) on uint8 ``images`` of ``domain`` against
    their ``labels``: UNIT's Table 2 figure with the target test set."""
    if not callable(getattr(model, "classify", None)):
        raise TypeError(f"{type(model).__name__} has no classify(); classify_accuracy "
                        "needs a model with a classifier head (unit_da).")
    images, labels = _labelled(images, labels, "test")
    scores = model.classify(images, domain, batch_size=batch_size)
    return float(np.mean(np.argmax(scores, axis=-1) == labels))
