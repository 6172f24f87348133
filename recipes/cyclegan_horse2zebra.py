"""CycleGAN horse -> zebra with the reference settings (Zhu et al. 2017).

    python recipes/cyclegan_horse2zebra.py
    python recipes/cyclegan_horse2zebra.py --data-a horse2zebra/trainA \\
        --data-b horse2zebra/trainB          # local folders, offline

256 px crops of 286 px images, batch 1, 200 epochs (100 constant + 100 linear decay),
Adam 2e-4 (beta_1 0.5), LSGAN, lambda_cycle 10, lambda_identity 0.5, pool 50. The data
defaults to tensorflow-datasets' cycle_gan/horse2zebra (downloaded on first use). Any
`attngan train` option given on the command line overrides the recipe's.

Metric (UAG's): KID x100 on the held-out test split, from InceptionV3 features (ImageNet
weights, downloaded by Keras), every 10 epochs in TensorBoard (best.keras kept) through
the --eval-* options below. Score the final model for the table with
`attngan evaluate --checkpoint RUN --data-a cycle_gan/horse2zebra:testA
--data-b cycle_gan/horse2zebra:testB --metrics kid` (and --direction b2a).
"""

import sys

from keras_attngan import cli

RECIPE = ["train", "--model", "cyclegan",
          "--data-a", "cycle_gan/horse2zebra:trainA", "--data-b", "cycle_gan/horse2zebra:trainB",
          "--image-size", "256", "--load-size", "286", "--batch-size", "1",
          "--epochs", "200", "--decay-start", "100", "--seed", "0",
          "--eval-data-a", "cycle_gan/horse2zebra:testA",
          "--eval-data-b", "cycle_gan/horse2zebra:testB",
          "--eval-every", "10", "--eval-metric", "kid",
          "--out", "runs/cyclegan_horse2zebra"]

if __name__ == "__main__":
    cli.main(RECIPE + sys.argv[1:])
