"""AGGAN neutral -> smiling faces on CelebA (Tang, Xu, Sebe, Yan 2019, the paper's CelebA
smile experiment).

    python recipes/aggan_celeba_smile.py [--out runs/aggan_celeba_smile] [--image-size 128]

Follows the paper: 1,000 neutral and 1,000 smiling training faces, drawn uniformly at
random (seeded) from the whole of CelebA's training split by its "Smiling" attribute, and as many test faces
from its test split for evaluation; batch 1, Adam 1e-4 (beta 0.5, 0.999), the paper's
loss weights and the curriculum r = 0.01 for 10 epochs, then 0.5; 200 epochs, the rate
constant for 100 and then linear to 0, as the authors' code (AttentionGAN-v1 train.py)
sets them. Chosen where the paper is silent in our copy: faces centre-cropped to 178 x
178 (the aligned faces' usual crop) and resized to 128 px, horizontal flips as the
authors' code, and no random crop (faces are aligned).

Metric: KID x100 and FID of the translated test faces against real smiling test faces
(kag.metrics.evaluate, InceptionV3 ImageNet features).

CelebA comes from tensorflow-datasets (celeb_a): the first run downloads it, which needs
network access; offline it stops with an error that says so. Run it again with the same
--out to resume.
"""

import argparse

import numpy as np
import tensorflow as tf

import keras_attngan as kag

CROP = 178


def choose(flags: np.ndarray, wanted: bool, count: int, seed: int) -> np.ndarray:
    """The sorted indices of ``count`` examples drawn uniformly, without replacement, from
    those whose attribute ``flags`` equal ``wanted`` (the whole split, not its start)."""
    candidates = np.flatnonzero(np.asarray(flags, bool) == wanted)
    if len(candidates) < count:
        raise ValueError(f"only {len(candidates)} faces with Smiling={wanted}; asked for "
                         f"{count}.")
    return np.sort(np.random.default_rng(seed).choice(candidates, count, replace=False))


def domains(count: int = 1000, split: str = "train", data_dir: str | None = None,
            seed: int = 0):
    """(neutral, smiling) tf.data datasets of ``count`` CelebA faces each, drawn uniformly
    at random from ``split`` by its "Smiling" attribute, centre-cropped to 178 x 178."""
    import tensorflow_datasets as tfds

    # one pass over the attributes alone (images left encoded), then the chosen faces
    attributes, _ = kag.data.load_tfds("celeb_a", split, data_dir=data_dir,
                                       decoders={"image": tfds.decode.SkipDecoding()})
    smiling = np.fromiter(attributes.map(lambda e: e["attributes"]["Smiling"])
                          .as_numpy_iterator(), bool)
    celeba, _ = kag.data.load_tfds("celeb_a", split, data_dir=data_dir)

    def side(wanted: bool, side_seed: int):
        chosen = tf.constant(choose(smiling, wanted, count, side_seed), tf.int64)
        faces = celeba.enumerate().filter(lambda i, e: tf.reduce_any(tf.equal(i, chosen)))
        return faces.map(lambda i, e: tf.image.resize_with_crop_or_pad(
            e["image"], CROP, CROP)).cache()

    return side(False, seed), side(True, seed + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/aggan_celeba_smile")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--decay-start", type=int, default=100)
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir")
    args = parser.parse_args()

    neutral, smiling = domains(data_dir=args.data_dir)
    sources = [kag.data.load_source(d) for d in (neutral, smiling)]
    # aligned faces: resize without a random crop (load_size = image_size), flips on
    dataset = kag.data.unpaired(*sources, image_size=args.image_size,
                                load_size=args.image_size, batch_size=1, seed=0)
    samples = kag.data.unpaired(*sources, image_size=args.image_size, augment=False,
                                shuffle=False)
    with kag.training.strategy().scope():
        model = kag.models.build("aggan", image_size=args.image_size,
                                 decay_start=args.decay_start)
        model.compile()
    callbacks = kag.callbacks.default(model, args.out, samples=samples)
    model.fit(dataset, epochs=args.epochs, callbacks=callbacks)
    model.save(f"{args.out}/model.keras")
    # CelebA has no true smiling version of a neutral face: the paper's PSNR/MSE need
    # pairs it does not have, so the recipe reports KID and FID on the test faces
    neutral_test, smiling_test = domains(split="test", data_dir=args.data_dir)
    report = kag.metrics.evaluate(model, neutral_test, smiling_test, metrics=["kid", "fid"])
    kid, fid = report["metrics"]["kid"], report["metrics"]["fid"]
    print(f"neutral -> smiling on 1,000 test faces: KID x100 {kid['x100_mean']:.2f} ± "
          f"{kid['x100_std']:.2f}, FID {fid['value']:.1f} "
          f"({report['feature_network']['description']})")


if __name__ == "__main__":
    main()
