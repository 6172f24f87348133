"""SAT digits: translate labelled MNIST into a target digit domain (USPS or MNIST-M),
train a classifier on the translations with the MNIST labels, and report its accuracy on
the target domain (Yang et al. 2018: 96.80% on USPS, 98.33% on MNIST-M). The G_0-only
model, as the paper uses for digits, at 32 px.

    python recipes/sat_mnist_usps.py --target-dir usps/ [--out runs/sat_mnist_usps]

MNIST comes from tensorflow-datasets (downloaded on first use; offline the error says
so). The target digits come from a folder holding train/ and test/, each with one
sub-folder per class (0/ ... 9/), e.g. USPS (7,291 + 2,007 digits) exported as PNGs:
train/ is SAT's target side, test/ scores the classifier; no test digit is seen in
training. No flips or crops (a mirrored digit is another digit).

Chosen where the paper is silent: 32 px, batch 64, 20 epochs, G_0 with ngf 32 and six
blocks, the pixel L1 regulariser (VGG19 features of 32 px digits mean little), and the
classifier (kag.metrics.digit_classifier, 5 epochs).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import tensorflow as tf

import keras_attngan as kag
from keras_attngan.data import DataError

SIZE = 32


def mnist(count: int | None = None, data_dir: str | None = None):
    """MNIST training digits as uint8 RGB (N, 32, 32, 3) and their labels."""
    return kag.data.load_tfds_arrays("mnist", "train", SIZE, count, data_dir)


def labelled_folder(folder: str | None):
    """uint8 RGB (N, 32, 32, 3) images and labels from class sub-folders 0/ ... 9/."""
    if not folder or not os.path.isdir(folder):
        raise DataError(f"No target digits in {folder!r}: pass --target-dir with one "
                        "sub-folder of images per class (0/ ... 9/).")
    images, labels = [], []
    for label in range(10):
        for path in kag.data.list_images(os.path.join(folder, str(label))):
            image = kag.data.decode_image(tf.io.read_file(path))
            images.append(tf.image.resize(image, (SIZE, SIZE)).numpy())
            labels.append(label)
    if not images:
        raise DataError(f"{folder!r} has no images in class sub-folders 0/ ... 9/.")
    return np.clip(np.round(np.stack(images)), 0, 255).astype(np.uint8), np.array(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-dir", default=None)
    parser.add_argument("--out", default="runs/sat_mnist_usps")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--mnist-count", type=int, default=None)
    args = parser.parse_args()

    root = args.target_dir or ""
    target_images, _ = labelled_folder(os.path.join(root, "train"))
    test_images, test_labels = labelled_folder(os.path.join(root, "test"))
    source_images, source_labels = mnist(args.mnist_count)
    dataset = kag.data.unpaired(source_images, target_images, image_size=SIZE,
                                load_size=SIZE, augment=False, batch_size=64, seed=0)
    with kag.training.strategy().scope():
        model = kag.models.build("sat", image_size=SIZE, use_attention=False, ngf=32,
                                 ndf=32, n_blocks=6, regularizer="l1", vgg_weights=None)
        model.compile()
    model.fit(dataset, epochs=args.epochs, callbacks=kag.callbacks.default(
        model, args.out, samples=(source_images[:4], target_images[:4])))
    translated = model.translate(source_images, batch_size=256)["image"]
    translated = np.clip(np.round((translated + 1) * 127.5), 0, 255).astype(np.uint8)
    accuracy = kag.metrics.domain_adaptation_accuracy(
        translated, source_labels, test_images, test_labels, verbose=2)
    print(f"target-domain accuracy of a classifier trained on translated MNIST: "
          f"{accuracy:.2%} (the paper: 96.80% on USPS, 98.33% on MNIST-M)")


if __name__ == "__main__":
    main()
