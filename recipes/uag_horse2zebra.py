"""UAG horse -> zebra with the paper's settings (Mejjati et al. 2018).

    python recipes/uag_horse2zebra.py [--data-a DIR --data-b DIR] [--resume]

The paper's and the authors' settings (their configs/exp_01.json and main.py): 256 px
crops of 286 px images with horizontal flips, batch 1, 100 epochs (50 constant + 50
linear decay), Adam 1e-4, LSGAN, lambda_cyc 10; the attention stops and the
discriminators see attended regions (tau 0.1) from epoch 30, an absolute epoch in the
authors' code, so it is given as such (not scaled with --epochs). Deviation: the decay
ramp follows CycleGAN's rule, one epoch off the authors' (see the UAG docstring).
Data: tensorflow-datasets' cycle_gan/horse2zebra (network needed for the first
download; offline the error says how to point at local folders instead).

Metric (UAG's): KID x100 on the held-out test split, from InceptionV3 features (ImageNet
weights, downloaded by Keras), every 10 epochs in TensorBoard (best.keras kept) through
the --eval-* options below. Score the final model for the table with
`attngan evaluate --checkpoint RUN --data-a cycle_gan/horse2zebra:testA
--data-b cycle_gan/horse2zebra:testB --metrics kid` (and --direction b2a).
"""

import sys

from keras_attngan import cli

RECIPE = ["train", "--model", "uag",
          "--data-a", "cycle_gan/horse2zebra:trainA", "--data-b", "cycle_gan/horse2zebra:trainB",
          "--image-size", "256", "--load-size", "286", "--batch-size", "1",
          "--epochs", "100", "--decay-start", "50", "--lr", "1e-4", "--seed", "0",
          "--set", "attention_stop_epoch=30",
          "--eval-data-a", "cycle_gan/horse2zebra:testA",
          "--eval-data-b", "cycle_gan/horse2zebra:testB",
          "--eval-every", "10", "--eval-metric", "kid",
          "--out", "runs/uag_horse2zebra"]

if __name__ == "__main__":
    cli.main(RECIPE + sys.argv[1:])
