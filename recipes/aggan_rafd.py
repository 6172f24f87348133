"""AGGAN multi-domain facial expressions on RaFD (Tang et al. 2019: one attention-guided
generator for RaFD's 8 expressions, m = 8, compared with StarGAN and GANimation).

    python recipes/aggan_rafd.py --rafd-dir RaFD/ [--out runs/aggan_rafd] [--resume]

RaFD needs a licence (https://rafd.socsci.ru.nl): the recipe reads your copy. The first
run writes square face crops into ``<out>/data/<expression>/`` (one folder per domain,
the expression read from RaFD's file names, Rafd090_01_Caucasian_female_angry_frontal.jpg)
and trains ``attngan train --model aggan_multidomain --data <out>/data`` on them; later
runs reuse the crops. Without the data the recipe stops and says what is missing.

The protocol, from the authors' multi-domain code (StarGAN's RaFD setup): 128 px images
with horizontal flips, batch 16, 200,000 iterations (turned into epochs here: 200,000 x
16 / number of images), the rate constant for the first half and decaying linearly to 0
over the second, Adam 1e-4 (0.5, 0.999), lambda_cls 1, lambda_rec 10. Chosen where we
could not follow: RaFD's 681 x 1024 portraits are cropped to the top square (the face)
and resized to 256 px before the pipeline's resize (StarGAN crops its own copy; its
crop is not in the code we saw); all images given are trained on (StarGAN holds out 10 %
for testing: split your copy first and score the held-out part); the loss choices are
the aggan_multidomain docstring's (least squares, AGGAN's pixel and attention terms).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import tensorflow as tf

import keras_attngan as kag
from keras_attngan import cli
from keras_attngan.data import DataError

ITERATIONS, BATCH = 200_000, 16


def prepare(rafd_dir: str | None, out: str, size: int = 256) -> int:
    """Writes square crops of the RaFD images in ``rafd_dir`` to ``out/<expression>/``;
    returns the number of images (reusing crops written before)."""
    if os.path.isdir(out) and any(os.scandir(out)):
        return len(kag.data.domain_files(out)[0])
    if not rafd_dir or not os.path.isdir(rafd_dir):
        raise DataError(f"No RaFD images in {rafd_dir!r}: pass --rafd-dir with your copy of "
                        "RaFD (it needs a licence: https://rafd.socsci.ru.nl).")
    paths, labels, names = kag.data.domain_files(rafd_dir)
    for path, label in zip(paths, labels):
        image = kag.data.decode_image(tf.io.read_file(path))
        side = min(int(image.shape[0]), int(image.shape[1]))
        left = (int(image.shape[1]) - side) // 2
        face = tf.image.resize(image[:side, left:left + side], (size, size))
        target = os.path.join(out, names[label], os.path.basename(path))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tf.io.write_file(os.path.splitext(target)[0] + ".png", tf.io.encode_png(
            tf.cast(tf.clip_by_value(tf.round(face), 0, 255), tf.uint8)))
    return len(paths)


def recipe(data: str, images: int, out: str) -> list[str]:
    """The ``attngan train`` arguments of the paper's run on ``images`` images."""
    epochs = max(2, math.ceil(ITERATIONS * BATCH / max(images, 1)))
    return ["train", "--model", "aggan_multidomain", "--data", data,
            "--image-size", "128", "--load-size", "128", "--batch-size", str(BATCH),
            "--epochs", str(epochs), "--decay-start", str(epochs // 2), "--lr", "1e-4",
            "--seed", "0", "--set", "n_domains=8", "--out", out]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rafd-dir", default=None)
    parser.add_argument("--out", default="runs/aggan_rafd")
    args, rest = parser.parse_known_args(argv)
    data = os.path.join(args.out, "data")
    count = prepare(args.rafd_dir, data)
    cli.main(recipe(data, count, args.out) + rest)


if __name__ == "__main__":
    main(sys.argv[1:])
