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

import keras_attngan as kag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps-dir", default=None)
    parser.add_argument("--out", default="runs/unit_maps")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--evaluate-only", action="store_true")
    args = parser.parse_args()

    train_photos, val_maps, val_photos = kag.data.maps_unpaired(args.maps_dir)
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
            model, args.out, samples=samples))
        model.save(os.path.join(args.out, "model.keras"))
    accuracy = kag.metrics.paired_pixel_accuracy(model, val_photos, val_maps,
                                                 args.image_size, tolerance=16, mode="max")
    print(f"pixel accuracy (tolerance 16) on {val_photos.size} validation photos: "
          f"{accuracy:.3f} (the paper: 0.600)")


if __name__ == "__main__":
    main()
