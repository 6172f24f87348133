"""UNIT satellite photo -> map, the paper's unpaired protocol on the pix2pix maps data
(Liu, Breuel, Kautz 2017, Sec. 4): the 1096 training photos are domain 1, the 1098
validation maps domain 2; translated validation photos are scored against their true
maps by pixel accuracy (a pixel is right when every channel is within 16 of the
truth), which the paper reports as 0.600.

    python recipes/unit_maps.py --maps-dir maps/ [--out runs/unit_maps] [--image-size 256]

The data: maps.tar.gz from the pix2pix datasets page (Isola et al.), unpacked so that
``maps/train`` and ``maps/val`` hold the 1200x600 side-by-side images (photo left, map
right). Without them the recipe stops and says so. Run it again with the same --out to
resume; --evaluate-only scores the saved model.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import tensorflow as tf

import keras_attngan as kag
from keras_attngan.data import DataError


def half(folder: str, side: str) -> kag.data.Source:
    """The left (photo) or right (map) halves of the side-by-side images in ``folder``."""
    source = kag.data.load_source(folder)

    def decode(path):
        image = kag.data.decode_image(tf.io.read_file(path))
        width = tf.shape(image)[1] // 2
        return image[:, :width] if side == "left" else image[:, width:2 * width]

    source.decode = decode
    source.description = f"{folder} ({side} halves)"
    return source


def maps_sources(maps_dir: str):
    folders = {split: os.path.join(maps_dir or "", split) for split in ("train", "val")}
    if not maps_dir or not all(os.path.isdir(f) for f in folders.values()):
        raise DataError(
            f"No maps data in {maps_dir!r}: pass --maps-dir with train/ and val/ folders of "
            "the pix2pix maps images (maps.tar.gz from the pix2pix datasets page)."
        )
    return (half(folders["train"], "left"), half(folders["val"], "right"),
            half(folders["val"], "left"))


def evaluate(model, val_photos: kag.data.Source, val_maps: kag.data.Source,
             image_size: int) -> float:
    photos = kag.data.unpaired(val_photos, val_maps, image_size=image_size, augment=False,
                               shuffle=False, batch_size=1)
    scores = []
    for photo, true_map in photos:
        predicted = model.translate(photo.numpy(), "a2b")["image"]
        scores.append(kag.metrics.pixel_accuracy(predicted, true_map.numpy()))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps-dir", default=None)
    parser.add_argument("--out", default="runs/unit_maps")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--evaluate-only", action="store_true")
    args = parser.parse_args()

    train_photos, val_maps, val_photos = maps_sources(args.maps_dir)
    if args.evaluate_only:
        model = kag.models.load(os.path.join(args.out, "model.keras"))
    else:
        dataset = kag.data.unpaired(train_photos, val_maps, image_size=args.image_size,
                                    load_size=round(args.image_size * 286 / 256),
                                    batch_size=1, seed=0)
        samples = kag.data.unpaired(train_photos, val_maps, image_size=args.image_size,
                                    augment=False, shuffle=False)
        with kag.training.strategy().scope():
            model = kag.models.build("unit", image_size=args.image_size)
            model.compile()
        model.fit(dataset, epochs=args.epochs, callbacks=kag.callbacks.default(
            model, args.out, samples=samples, epochs=args.epochs))
        model.save(os.path.join(args.out, "model.keras"))
    accuracy = evaluate(model, val_photos, val_maps, args.image_size)
    print(f"pixel accuracy (tolerance 16) on {val_photos.size} validation photos: "
          f"{accuracy:.3f} (the paper: 0.600)")


if __name__ == "__main__":
    main()
