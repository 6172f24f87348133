"""Which of UAG's loss terms moves its attention mask where, epoch by epoch.

Trains UAG on a texture variant of the quality suite (the bench's widths, batch 1) and at
the start and after each epoch, on 32 training images with an object, prints the mean
mask on the objects and on the background (training mode) and, for the adversarial term
of a2b and the cycle term of a (the terms through which the mask of a real image s
reaches the loss), d(term)/d(mask) per pixel, mean over the objects and over the
background: negative where the term asks for a higher mask.

    python tools/uag_mask_gradients.py --variant tune-stripes-photo --steps 1200 [--set k=v]
"""

from __future__ import annotations

import argparse
import json

import keras
import tensorflow as tf

from keras_attngan import losses
from keras_attngan.benchmarks import family
from keras_attngan.benchmarks.quality import TEST_IMAGES, TRAIN_IMAGES, _hparams, train_on_task
from keras_attngan.benchmarks.suite import mask_probe
from keras_attngan.cli.common import parse_set

SIZE = 64


def report(model, xa, objects, tag: str) -> dict:
    """One line of figures for ``model`` now (see the module docstring)."""
    def split(values):
        return [round(float(values[objects].mean()), 4), round(float(values[~objects].mean()), 4)]

    with tf.GradientTape(persistent=True) as tape:  # two terms, one forward pass
        mask_a = model._attention(xa, "a", training=True, real=False)
        tape.watch(mask_a)
        fake_b, raw_b, _ = model._map(xa, "a2b", mask=mask_a, training=True)
        rec_a = model._map(fake_b, "b2a", training=True, real=False)[0]
        terms = {
            "adversarial_a2b": losses.generator_adversarial(model.discriminator_b(
                model._discriminator_input(fake_b, raw_b, mask_a), training=True),
                model.gan_mode),
            "cycle_a": model.lambda_cycle * losses.cycle_consistency(rec_a, xa),
        }
    out = {"at": tag, "mask": split(mask_a.numpy())}
    for name, loss in terms.items():
        out[name] = split(tape.gradient(loss, mask_a).numpy() * mask_a.shape.num_elements())
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="tune-stripes-photo")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    v = family.variant(args.variant)
    task = family.texture_task(v, TRAIN_IMAGES, TEST_IMAGES, SIZE, args.seed)
    images, masks = mask_probe(task, v, SIZE)  # the images the suite's mask_history follows
    xa = tf.constant(images / 127.5 - 1.0, tf.float32)
    objects = masks[..., None] > 0.5
    hparams = _hparams("uag", SIZE, parse_set(args.set))  # the bench's widths

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            report(self.model, xa, objects, "start")

        def on_epoch_end(self, epoch, logs=None):
            report(self.model, xa, objects, f"epoch {epoch + 1}")

    train_on_task("uag", task["a"], task["b"], args.steps, 1, args.seed, callbacks=[Probe()],
                  **hparams)


if __name__ == "__main__":
    main()
