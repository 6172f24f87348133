"""UAG summer -> winter (Yosemite) without the attention-guided discriminator, as the
paper's appendix does for scene-wide translations: whole-image discriminators
throughout (``masked_discriminator=False``); the attention networks still stop at epoch
30. 256 px crops of 286 px, flips, batch 1, as the paper. Deviation: 200 epochs (100
constant + 100 linear decay) and Adam 2e-4, as the authors' configs/exp_05.json for this
data set, where the model's paper schedule is 100 epochs (decay from 50) and 1e-4 is
the authors' horse-zebra rate; pass --epochs 100 --decay-start 50 for the paper's.

    python recipes/uag_summer2winter.py [--data-a DIR --data-b DIR] [--resume]

Metric (UAG's): KID x100 on the held-out test split, from InceptionV3 features (ImageNet
weights, downloaded by Keras), every 10 epochs in TensorBoard (best.keras kept) through
the --eval-* options below. Score the final model for the table with
`attngan evaluate --checkpoint RUN --data-a cycle_gan/summer2winter_yosemite:testA
--data-b cycle_gan/summer2winter_yosemite:testB --metrics kid` (and --direction b2a).
"""

import sys

from keras_attngan import cli

RECIPE = ["train", "--model", "uag", "--set", "masked_discriminator=false",
          "--data-a", "cycle_gan/summer2winter_yosemite:trainA",
          "--data-b", "cycle_gan/summer2winter_yosemite:trainB",
          "--image-size", "256", "--load-size", "286", "--batch-size", "1",
          "--epochs", "200", "--decay-start", "100", "--lr", "2e-4", "--seed", "0",
          "--set", "attention_stop_epoch=30",
          "--eval-data-a", "cycle_gan/summer2winter_yosemite:testA",
          "--eval-data-b", "cycle_gan/summer2winter_yosemite:testB",
          "--eval-every", "10", "--eval-metric", "kid",
          "--out", "runs/uag_summer2winter"]

if __name__ == "__main__":
    cli.main(RECIPE + sys.argv[1:])
