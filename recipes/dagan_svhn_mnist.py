"""DA-GAN SVHN -> MNIST (Ma, Fu, Chen, Mei 2018, Sec. 4, Table 1(a)): translate labelled
SVHN digits into MNIST's style with the deep attention encoder (and the geometric
regularisation of Sec. 3.1 from the SVHN labels), then score the translations as the
paper's Table 1(a) does: a classifier trained on real MNIST is applied to the translated
SVHN test digits, against their SVHN labels (the paper: 93.6-94.6%). Both data sets come
from tensorflow-datasets (downloaded on first use; offline the error says so).

    python recipes/dagan_svhn_mnist.py [--out runs/dagan_svhn_mnist] [--epochs 20]

Follows the paper: 32 px digits, batch 64, Adam 2e-4 at a constant rate, SVHN train
against MNIST train, no flips or crops (a mirrored digit is another digit). Chosen
where the paper is silent: 20 epochs, the classifier (kag.metrics.digit_classifier,
5 epochs on MNIST train), lambda_class 10 (see the DA-GAN docstring).
"""

from __future__ import annotations

import argparse

import numpy as np

import keras_attngan as kag

SIZE = 32


def digits(name: str, split: str, count: int | None = None, data_dir: str | None = None):
    """uint8 RGB (N, 32, 32, 3) digits and labels from a tensorflow-datasets split."""
    return kag.data.load_tfds_arrays(name, split, SIZE, count, data_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/dagan_svhn_mnist")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--count", type=int, default=None, help="images per domain")
    args = parser.parse_args()

    svhn, svhn_labels = digits("svhn_cropped", "train", args.count)
    mnist, mnist_labels = digits("mnist", "train", args.count)
    svhn_test, svhn_test_labels = digits("svhn_cropped", "test")
    dataset = kag.data.unpaired(svhn, mnist, image_size=SIZE, load_size=SIZE, augment=False,
                                batch_size=64, seed=0, labels_a=svhn_labels)
    with kag.training.strategy().scope():
        model = kag.models.build("dagan", image_size=SIZE, n_classes=10)
        model.compile()
    model.fit(dataset, epochs=args.epochs, callbacks=kag.callbacks.default(
        model, args.out, samples=(svhn[:4], mnist[:4])))
    translated = model.translate(svhn_test, batch_size=256)["image"]
    translated = np.clip(np.round((translated + 1) * 127.5), 0, 255).astype(np.uint8)
    accuracy = kag.metrics.translated_accuracy(
        translated, svhn_test_labels, target_images=mnist, target_labels=mnist_labels,
        verbose=2)
    print(f"accuracy of an MNIST-trained classifier on translated SVHN test digits: "
          f"{accuracy:.2%} (the paper: 93.6-94.6%)")


if __name__ == "__main__":
    main()
