"""AGGAN neutral -> smiling faces on CelebA (Tang et al. 2019, the paper's CelebA
setting): 1,000 + 1,000 training images split by the "Smiling" attribute, 80 epochs with
linear decay after 40, batch 1, Adam 1e-4, the paper's loss weights and curriculum.

    python recipes/aggan_celeba_smile.py [--out runs/aggan_celeba_smile] [--image-size 128]

CelebA comes from tensorflow-datasets (celeb_a): the first run downloads it, which needs
network access; offline it stops with an error that says so. Run it again with the same
--out to resume.
"""

import argparse

import keras_attngan as kag


def domains(count: int = 1000, data_dir: str | None = None):
    """(neutral, smiling) tf.data datasets of ``count`` CelebA training images each."""
    celeba, _ = kag.data.load_tfds("celeb_a", "train", data_dir=data_dir)

    def side(smiling: bool):
        chosen = celeba.filter(lambda e: e["attributes"]["Smiling"] == smiling)
        return chosen.take(count).map(lambda e: e["image"]).cache()

    return side(False), side(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/aggan_celeba_smile")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--decay-start", type=int, default=40)
    parser.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir")
    args = parser.parse_args()

    neutral, smiling = domains(data_dir=args.data_dir)
    sources = [kag.data.load_source(d) for d in (neutral, smiling)]
    dataset = kag.data.unpaired(*sources, image_size=args.image_size,
                                load_size=round(args.image_size * 286 / 256), batch_size=1,
                                seed=0)
    samples = kag.data.unpaired(*sources, image_size=args.image_size, augment=False,
                                shuffle=False)
    with kag.training.strategy().scope():
        model = kag.models.build("aggan", image_size=args.image_size)
        model.compile()
    callbacks = kag.callbacks.default(model, args.out, samples=samples, epochs=args.epochs,
                                      decay_start=args.decay_start)
    model.fit(dataset, epochs=args.epochs, callbacks=callbacks)
    model.save(f"{args.out}/model.keras")


if __name__ == "__main__":
    main()
