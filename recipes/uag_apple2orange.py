"""UAG apple -> orange with the paper's settings (Mejjati et al. 2018).

    python recipes/uag_apple2orange.py [--data-a DIR --data-b DIR] [--resume]

As uag_horse2zebra.py (100 epochs, decay from 50, attention stop at epoch 30, Adam
1e-4: the authors' configs/exp_02.json) on tensorflow-datasets' cycle_gan/apple2orange.

Metric (UAG's): KID x100 on the held-out test split, from InceptionV3 features (ImageNet
weights, downloaded by Keras), every 10 epochs in TensorBoard (best.keras kept) through
the --eval-* options below. Score the final model for the table with
`attngan evaluate --checkpoint RUN --data-a cycle_gan/apple2orange:testA
--data-b cycle_gan/apple2orange:testB --metrics kid` (and --direction b2a).
"""

import sys

from keras_attngan import cli

RECIPE = ["train", "--model", "uag",
          "--data-a", "cycle_gan/apple2orange:trainA",
          "--data-b", "cycle_gan/apple2orange:trainB",
          "--image-size", "256", "--load-size", "286", "--batch-size", "1",
          "--epochs", "100", "--decay-start", "50", "--lr", "1e-4", "--seed", "0",
          "--set", "attention_stop_epoch=30",
          "--eval-data-a", "cycle_gan/apple2orange:testA",
          "--eval-data-b", "cycle_gan/apple2orange:testB",
          "--eval-every", "10", "--eval-metric", "kid",
          "--out", "runs/uag_apple2orange"]

if __name__ == "__main__":
    cli.main(RECIPE + sys.argv[1:])
