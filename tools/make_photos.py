"""Makes the quality benchmark's background photographs (keras_attngan/benchmarks/photos)
from the CC0 and public-domain photographs scikit-image ships, without installing it:

    pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage
    python tools/make_photos.py /tmp/skimage/scikit_image-0.26.0-*.whl

Each photograph is scaled so that its shorter side is 160 px and stored as RGB PNG."""

import sys
import zipfile

import numpy as np
import tensorflow as tf

#: name in the wheel -> (name here, split); licences in photos/LICENSES.md
PHOTOS = {
    "astronaut.png": ("astronaut", "tuning"), "coffee.png": ("coffee", "tuning"),
    "brick.png": ("brick", "tuning"), "grass.png": ("grass", "tuning"),
    "chelsea.png": ("chelsea", "held-out"), "rocket.jpg": ("rocket", "held-out"),
    "gravel.png": ("gravel", "held-out"),
}
SHORT_SIDE = 160


def main(wheel: str, out: str = "keras_attngan/benchmarks/photos") -> None:
    with zipfile.ZipFile(wheel) as archive:
        for source, (name, split) in PHOTOS.items():
            image = tf.io.decode_image(archive.read(f"skimage/data/{source}"),
                                       expand_animations=False)
            image = image[..., :3] if image.shape[-1] >= 3 else tf.tile(image, (1, 1, 3))
            h, w = image.shape[:2]
            scale = SHORT_SIDE / min(h, w)
            small = tf.image.resize(tf.cast(image, tf.float32),
                                    (round(h * scale), round(w * scale)), antialias=True)
            small = tf.cast(tf.clip_by_value(tf.round(small), 0, 255), tf.uint8)
            tf.io.write_file(f"{out}/{split}-{name}.png", tf.io.encode_png(small))
            print(name, split, tuple(small.shape), np.asarray(small).mean().round(1))


if __name__ == "__main__":
    main(*sys.argv[1:])
