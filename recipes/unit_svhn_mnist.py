"""UNIT domain adaptation SVHN -> MNIST (Liu, Breuel, Kautz 2017, Sec. 4, Table 2: 0.9053):
train ``unit_da`` on labelled SVHN digits and unlabelled MNIST digits, then report the
accuracy of its classifier head (on the shared discriminator features, through the MNIST
branch) on the MNIST test set.

    python recipes/unit_svhn_mnist.py [--out runs/unit_svhn_mnist] [--iterations 200000]

Both data sets come from tensorflow-datasets (downloaded on first use; offline the error
names the data set and how to provide it).

The protocol, from the paper and its authors' configuration (exps/unit/svhn2mnist.yaml):
the source is SVHN's "extra" split (531,131 digits), the target MNIST's training split
(60,000, at 32 px, with the inverted copy of each digit: the config's use_inversion;
SVHN digits come in both polarities), the score is the accuracy on MNIST's test split
(10,000 digits; no test digit is seen in training); batch 64 per domain, 200,000
iterations. The paper does not say how many runs its figure averages; the authors'
script reports the best test accuracy over snapshots taken every 100 iterations, which
selects on the test set: this recipe reports the final model's accuracy instead (and the
source-only accuracy of the same head, through the SVHN branch, for reference). No
flips or crops (a mirrored digit is another digit). Chosen where the paper is silent: see
the unit_da docstring (loss weights of the classifier and feature terms).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import keras_attngan as kag

SIZE = 32


def digits(name: str, split: str, count: int | None = None, data_dir: str | None = None):
    """uint8 RGB (N, 32, 32, 3) digits and labels from a tensorflow-datasets split."""
    return kag.data.load_tfds_arrays(name, split, SIZE, count, data_dir)


def with_inversions(images: np.ndarray) -> np.ndarray:
    """The images and their inverted copies (255 - x)."""
    return np.concatenate([images, 255 - images])


def epochs_for(iterations: int, pairs: int, batch_size: int) -> int:
    """Epochs of max(|A|, |B|) pairs that make at least ``iterations`` steps."""
    return max(1, math.ceil(iterations / max(1, pairs // batch_size)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/unit_svhn_mnist")
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--count", type=int, default=None, help="images per domain")
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir")
    args = parser.parse_args()

    svhn, svhn_labels = digits("svhn_cropped", "extra", args.count, args.data_dir)
    mnist, _ = digits("mnist", "train", args.count, args.data_dir)
    mnist = with_inversions(mnist)
    test, test_labels = digits("mnist", "test", data_dir=args.data_dir)
    dataset = kag.data.unpaired(svhn, mnist, image_size=SIZE, augment=False,
                                batch_size=args.batch_size, seed=0, labels_a=svhn_labels)
    epochs = epochs_for(args.iterations, max(len(svhn), len(mnist)), args.batch_size)
    with kag.training.strategy().scope():
        model = kag.models.build("unit_da", image_size=SIZE, n_classes=10)
        model.compile()
    model.fit(dataset, epochs=epochs, callbacks=kag.callbacks.default(
        model, args.out, samples=(svhn[:4], mnist[:4])))
    model.save(f"{args.out}/model.keras")
    accuracy = kag.metrics.classify_accuracy(model, test, test_labels, "b")
    source_only = kag.metrics.classify_accuracy(model, test, test_labels, "a")
    print(f"MNIST test accuracy of the unit_da classifier: {accuracy:.4f} (the paper: "
          f"0.9053); through the SVHN branch (no adaptation): {source_only:.4f}")


if __name__ == "__main__":
    main()
