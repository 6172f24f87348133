"""SAT satellite photo -> map in the paper's unpaired protocol (Yang et al. 2018): the
1096 training photos against 1098 maps of the held-out split, the G_0-only model the
paper uses for maps, scored by pixel accuracy: a pixel is wrong when its total RGB
difference to the true map exceeds 12 (the paper: 46.72%).

    python recipes/sat_maps.py --maps-dir maps/ [--out runs/sat_maps] [--image-size 256]

Data as for recipes/unit_maps.py: maps.tar.gz from the pix2pix datasets page, unpacked
so that maps/train and maps/val hold the side-by-side images (photo left, map right).
The perceptual regulariser needs the VGG19 ImageNet weights: downloaded on first use, or
--vgg-weights PATH offline. Run it again with the same --out to resume.
"""

from __future__ import annotations

import argparse
import os

import keras_attngan as kag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps-dir", default=None)
    parser.add_argument("--out", default="runs/sat_maps")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--vgg-weights", default="imagenet")
    args = parser.parse_args()

    train_photos, val_maps, val_photos = kag.data.maps_unpaired(args.maps_dir)
    dataset = kag.data.unpaired(train_photos, val_maps, image_size=args.image_size,
                                load_size=round(args.image_size * 286 / 256), batch_size=1,
                                seed=0)
    samples = kag.data.unpaired(train_photos, val_maps, image_size=args.image_size,
                                augment=False, shuffle=False)
    with kag.training.strategy().scope():
        model = kag.models.build("sat", image_size=args.image_size, use_attention=False,
                                 vgg_weights=args.vgg_weights)
        model.compile()
    model.fit(dataset, epochs=args.epochs, callbacks=kag.callbacks.default(
        model, args.out, samples=samples))
    model.save(os.path.join(args.out, "model.keras"))
    accuracy = kag.metrics.paired_pixel_accuracy(model, val_photos, val_maps,
                                                 args.image_size, tolerance=12, mode="sum")
    print(f"pixel accuracy (total RGB difference <= 12) on {val_photos.size} validation "
          f"photos: {accuracy:.2%} (the paper: 46.72%)")


if __name__ == "__main__":
    main()
