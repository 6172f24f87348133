"""UNIT domain adaptation MNIST -> USPS and USPS -> MNIST (Liu, Breuel, Kautz 2017, Sec. 4,
Table 2: 0.9597 and 0.9358; CoGAN 0.9565 and 0.9315): train ``unit_da`` on labelled
source digits and unlabelled target digits, then report the accuracy of its classifier
head (through the target branch) on the target's test digits.

    python recipes/unit_mnist_usps.py --usps-dir usps/ [--reverse] [--out runs/unit_mnist_usps]

MNIST comes from tensorflow-datasets (downloaded on first use). USPS is not in
tensorflow-datasets (its catalogue has no USPS): give it as a folder holding train/ and
test/, each with one sub-folder per class (0/ ... 9/), e.g. USPS's 7,291 + 2,007 digits
exported as PNGs. Without it, or offline, the recipe stops and says what is missing.

The protocol: the paper compares with CoGAN's figures, which follow CoGAN's protocol
(after Long et al. 2013): 2,000 MNIST and 1,800 USPS training digits drawn at random
(--mnist-count, --usps-count; 0 takes them all), scored on the target's test split (no
test digit is seen in training). The paper does not say how many iterations or how
many runs it averages; the recipe trains 20,000 iterations of batch 64 (chosen, with
--iterations) and reports the final model, once (--runs N averages N seeds). No flips or
crops (a mirrored digit is another digit). Other choices: see the unit_da docstring.
"""

from __future__ import annotations

import argparse
import math
import os

import keras
import numpy as np

import keras_attngan as kag
from keras_attngan.data import DataError

SIZE = 32


def mnist(split: str, count: int | None = None, data_dir: str | None = None):
    """MNIST digits as uint8 RGB (N, 32, 32, 3) and their labels (``count`` of them drawn
    at random)."""
    images, labels = kag.data.load_tfds_arrays("mnist", split, SIZE, None, data_dir)
    return sample(images, labels, count) if count else (images, labels)


def usps(folder: str | None, split: str, count: int | None = None):
    """USPS digits of ``split`` (train/ or test/ with class sub-folders 0/ ... 9/)."""
    path = os.path.join(folder or "", split)
    if not folder or not os.path.isdir(path):
        raise DataError(f"No USPS digits in {path!r}: pass --usps-dir with train/ and test/ "
                        "sub-folders, each with one sub-folder of images per class "
                        "(0/ ... 9/). tensorflow-datasets has no USPS.")
    images, labels = kag.data.load_labelled(path, SIZE)
    return sample(images, labels, count) if count else (images, labels)


def sample(images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0):
    """``count`` images and their labels drawn at random without replacement."""
    if count >= len(images):
        return images, labels
    chosen = np.random.default_rng(seed).choice(len(images), count, replace=False)
    return images[chosen], labels[chosen]


def adapt(source, source_labels, target, test, test_labels, iterations: int,
          batch_size: int, out: str, seed: int = 0) -> float:
    """Trains unit_da on (source, labels) -> target; the target test accuracy."""
    keras.utils.set_random_seed(seed)
    dataset = kag.data.unpaired(source, target, image_size=SIZE, augment=False,
                                batch_size=batch_size, seed=seed, labels_a=source_labels)
    steps = max(1, max(len(source), len(target)) // batch_size)
    with kag.training.strategy().scope():
        model = kag.models.build("unit_da", image_size=SIZE, n_classes=10)
        model.compile()
    model.fit(dataset, epochs=max(1, math.ceil(iterations / steps)),
              callbacks=kag.callbacks.default(model, out, samples=(source[:4], target[:4])))
    model.save(os.path.join(out, "model.keras"))
    return kag.metrics.classify_accuracy(model, test, test_labels, "b")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--usps-dir", default=None)
    parser.add_argument("--reverse", action="store_true", help="USPS -> MNIST")
    parser.add_argument("--out", default=None)
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mnist-count", type=int, default=2000)
    parser.add_argument("--usps-count", type=int, default=1800)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir")
    args = parser.parse_args()

    usps_train = usps(args.usps_dir, "train", args.usps_count)
    usps_test = usps(args.usps_dir, "test")
    mnist_train = mnist("train", args.mnist_count, args.data_dir)
    mnist_test = mnist("test", None, args.data_dir)
    if args.reverse:
        (source, labels), target, test = usps_train, mnist_train[0], mnist_test
        name, paper = "usps_mnist", 0.9358
    else:
        (source, labels), target, test = mnist_train, usps_train[0], usps_test
        name, paper = "mnist_usps", 0.9597
    out = args.out or f"runs/unit_{name}"
    accuracies = [adapt(source, labels, target, *test, args.iterations, args.batch_size,
                        os.path.join(out, f"run{run}"), seed=run) for run in range(args.runs)]
    print(f"{name}: target test accuracy of the unit_da classifier over {args.runs} run(s): "
          f"{np.mean(accuracies):.4f} +- {np.std(accuracies):.4f} (the paper: {paper})")


if __name__ == "__main__":
    main()
