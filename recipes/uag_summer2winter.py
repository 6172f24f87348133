"""UAG summer -> winter (Yosemite) without the attention-guided discriminator, as the
paper's appendix does for scene-wide translations: whole-image discriminators
throughout (``masked_discriminator=False``); the attention networks still stop at 30.

    python recipes/uag_summer2winter.py [--data-a DIR --data-b DIR] [--resume]
"""

import sys

from keras_attngan import cli

RECIPE = ["train", "--model", "uag", "--set", "masked_discriminator=false",
          "--data-a", "cycle_gan/summer2winter_yosemite:trainA",
          "--data-b", "cycle_gan/summer2winter_yosemite:trainB",
          "--image-size", "256", "--load-size", "286", "--batch-size", "1",
          "--epochs", "100", "--decay-start", "50", "--lr", "2e-4", "--seed", "0",
          "--out", "runs/uag_summer2winter"]

if __name__ == "__main__":
    cli.main(RECIPE + sys.argv[1:])
