"""Domain-adaptation accuracy: how well a classifier trained on translated source images
(with the source labels) does on the target domain (SAT's and DA-GAN's digit metrics)."""

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


def domain_adaptation_accuracy(train_images: np.ndarray, train_labels: np.ndarray,
                               test_images: np.ndarray, test_labels: np.ndarray,
                               epochs: int = 5, n_classes: int = 10,
                               verbose: int = 0) -> float:
    """Trains ``digit_classifier`` on (translated) uint8 ``train_images`` and returns its
    accuracy on the target domain's ``test_images``."""
    net = digit_classifier(train_images.shape[1], n_classes)
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    net.fit(train_images, train_labels, epochs=epochs, batch_size=128, verbose=verbose)
    return float(net.evaluate(test_images, test_labels, verbose=0)[1])
