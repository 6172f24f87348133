"""CycleGAN horse -> zebra with the paper's settings (Zhu et al. 2017, Sec. 7 / reference).

    python recipes/cyclegan_horse2zebra.py --out runs/cyclegan_h2z
    python recipes/cyclegan_horse2zebra.py --data-a horse2zebra/trainA \
        --data-b horse2zebra/trainB --out runs/cyclegan_h2z      # local folders, offline

256 px crops of 286 px images, batch 1, 200 epochs (100 constant + 100 linear decay),
Adam 2e-4 (beta_1 0.5), LSGAN, lambda_cycle 10, lambda_identity 0.5, pool 50. The default
data is tensorflow-datasets' cycle_gan/horse2zebra (downloaded on first use).
"""

import argparse

import keras_attngan as kag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-a", default="cycle_gan/horse2zebra:trainA")
    parser.add_argument("--data-b", default="cycle_gan/horse2zebra:trainB")
    parser.add_argument("--out", default="runs/cyclegan_horse2zebra")
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()

    sources = [kag.data.load_source(spec) for spec in (args.data_a, args.data_b)]
    dataset = kag.data.unpaired(*sources, image_size=256, load_size=286, batch_size=1, seed=0)
    samples = kag.data.unpaired(*sources, image_size=256, augment=False, shuffle=False)
    with kag.training.strategy().scope():
        model = kag.models.build("cyclegan", image_size=256)
        model.compile()
    callbacks = kag.callbacks.default(model, args.out, samples=samples, epochs=args.epochs,
                                      decay_start=args.epochs // 2)
    model.fit(dataset, epochs=args.epochs, callbacks=callbacks)
    model.save(f"{args.out}/model.keras")


if __name__ == "__main__":
    main()
