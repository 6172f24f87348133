"""Can UAG's attention network find a texture variant's objects, and which inference
rule of its ``RunningInstanceNorm`` keeps what it learnt?

``--train masks``: the attention network alone (UAG's defaults: 1x1 decoder, one
residual block, ``running_instance`` norm), trained on the ground-truth object masks of
the variant's A training images (binary cross-entropy; random crops as the bench takes;
Adam 2e-4, beta_1 0.5, batch 1): what the network can learn when told where the objects
are. ``--train domains``: the same network trained only to tell A images from B images,
its logit map pooled over the image (``--pool gap|max|lseR``): whether A's objects are
what sets the domains apart for it. ``--train uag``: UAG itself, as ``attngan bench
quality`` trains it (3,000 steps unless ``--steps``), then scored by the bench's rules.

Each prints, on the variant's test images (a photograph training never showed, for the
photographed variants), the mask IoU and the mask's mean on the objects and on the
background, and the share of object-free images' pixels above 0.5 (UAG: the full texture
scores), under three inference rules for the attention's norm layers:
``running`` (the package's: the training images' running mean and variance),
``instance`` (each image's own statistics, as in training), and ``centred`` (each
image's own mean, the running variance). For ``--train uag`` also ``cut_T``: the running
rule's translation with the mask cut at T (the raw generator output where the mask
exceeds T, the input elsewhere; ``--save-outputs`` keeps what they need, and
``--score-outputs`` scores them again without training).

    python tools/uag_attention_probe.py --variant tune-stripes-photo --train masks --seed 0
"""

from __future__ import annotations

import argparse
import json

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_attngan import layers as kag_layers
from keras_attngan.benchmarks import family, suite
from keras_attngan.benchmarks.quality import TEST_IMAGES, TRAIN_IMAGES, _uint8
from keras_attngan.metrics import mask_iou
from keras_attngan.models.images import to_model_range
from keras_attngan.networks.attention import attention_net

SIZE = 64
RULES = ("running", "instance", "centred")
CUTS = (0.1, 0.2, 0.3, 0.5)
_rule = ["running"]
_running_call = kag_layers.RunningInstanceNorm.call


def _call(self, x, training=None):
    """``RunningInstanceNorm.call`` with the inference rule in ``_rule``."""
    if training or _rule[0] == "running":
        return _running_call(self, x, training=training)
    values = ops.cast(x, "float32")
    mean = ops.mean(values, axis=(1, 2), keepdims=True)
    if _rule[0] == "instance":
        variance = ops.mean(ops.square(values - mean), axis=(1, 2), keepdims=True)
    else:
        variance = self.moving_variance
    return ops.cast((values - mean) * ops.rsqrt(variance + self.epsilon), x.dtype)


kag_layers.RunningInstanceNorm.call = _call  # a probe: the package itself is unchanged


def _scaled(images):
    return to_model_range(images)[0]


def mask_figures(masks, truth) -> dict:
    """IoU over the images with an object (as the bench counts it), and the mean mask on
    objects / background."""
    chosen = suite._with_object(truth)
    return {"iou": mask_iou(masks[chosen], truth[chosen]),
            **{f"iou_above_{t}": mask_iou(masks[chosen], truth[chosen], t)
               for t in (0.7, 0.9)},
            "on_objects": float(masks[truth > 0.5].mean()),
            "on_background": float(masks[truth <= 0.5].mean())}


def probe_network(variant, train: str, steps: int, seed: int, pool: str) -> dict:
    """The attention network alone, trained on masks or domain labels."""
    keras.utils.set_random_seed(seed)
    task = family.texture_task(variant, TRAIN_IMAGES, TEST_IMAGES, SIZE, seed)
    a, b, truth = _scaled(task["a"]), _scaled(task["b"]), task["a_masks"]
    net = attention_net(3, 32, 1, norm="running_instance", layers_from="authors")
    optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)

    def logits(images):
        p = tf.clip_by_value(net(images, training=True), 1e-6, 1 - 1e-6)
        return tf.math.log(p) - tf.math.log(1 - p)

    def pooled(x):
        if pool == "pixel":  # every pixel labelled with its image's domain
            return x
        if pool == "gap":
            return tf.reduce_mean(x, axis=(1, 2, 3))
        if pool == "max":
            return tf.reduce_max(x, axis=(1, 2, 3))
        r = float(pool[3:])  # lseR: log-mean-exp with sharpness R
        return (tf.reduce_logsumexp(r * x, axis=(1, 2, 3)) - np.log(SIZE * SIZE)) / r

    @tf.function
    def step(x, y_or_b):
        with tf.GradientTape() as tape:
            if train == "masks":
                loss = tf.reduce_mean(keras.losses.binary_crossentropy(
                    y_or_b[..., None], net(x, training=True), axis=-1))
            else:
                la, lb = pooled(logits(x)), pooled(logits(y_or_b))  # (N,) or (N, H, W, 1)
                loss = tf.reduce_mean(
                    tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(la), la)
                    + tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(lb), lb))
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    rng, j, losses = np.random.default_rng(seed), variant.jitter, []
    for _ in range(steps):
        i, k = rng.integers(len(a), size=2)
        (oy, ox), (qy, qx) = rng.integers(0, j + 1, 2), rng.integers(0, j + 1, 2)
        crop = a[i:i + 1, oy:oy + SIZE, ox:ox + SIZE]
        other = (truth[i:i + 1, oy:oy + SIZE, ox:ox + SIZE] if train == "masks"
                 else b[k:k + 1, qy:qy + SIZE, qx:qx + SIZE])
        losses.append(float(step(crop, other)))
    out = {"loss_last_500": float(np.mean(losses[-500:]))}
    test, empty = _scaled(task["test"]), _scaled(task["empty"])
    for rule in RULES:
        _rule[0] = rule
        masks = np.asarray(net(test))[..., 0]  # inference: the statistics stay
        out[rule] = {**mask_figures(masks, task["test_masks"]),
                     "empty_above_half": float((np.asarray(net(empty)) > 0.5).mean())}
    _rule[0] = "running"
    return out


def probe_uag(variant, steps: int, seed: int, settings: dict, save: str | None = None) -> dict:
    """UAG trained as the bench trains it, scored under each inference rule."""
    captured = {}
    train_on_task = suite.train_on_task

    def keep(*args, **kwargs):
        captured["net"], history = train_on_task(*args, **kwargs)
        return captured["net"], history

    suite.train_on_task = keep
    bench = suite.run_variant("uag", variant, seed, steps, **settings)
    suite.train_on_task = train_on_task
    net = captured["net"]
    task = family.texture_task(variant, TRAIN_IMAGES, TEST_IMAGES, SIZE, seed)

    def translate(images):  # eager: the rule is read at each call
        parts = [net._map(_scaled(images[i:i + 16]), "a2b") for i in range(0, len(images), 16)]
        return [np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(3)]

    out = {"bench": {k: v for k, v in bench.items() if k != "mask_history"}}
    for rule in RULES:
        _rule[0] = rule
        (image, raw, mask), (empty_image, empty_raw, empty_mask) = (
            translate(task["test"]), translate(task["empty"]))
        out[rule] = suite.score_texture(variant, task["test"], _uint8(image),
                                        task["test_objects"], task["empty"],
                                        _uint8(empty_image), mask[..., 0], _uint8(raw))
        if rule == "running":  # what the cuts start from
            outputs = {"raw": raw, "mask": mask, "empty_raw": empty_raw,
                       "empty_mask": empty_mask}
    _rule[0] = "running"
    if save:
        np.savez_compressed(save, **outputs)
    return {**out, **score_cuts(variant, task, outputs)}


def score_cuts(variant, task, outputs) -> dict:
    """The running rule's translation with its mask cut at T: the raw generator output
    where the mask exceeds T, the input elsewhere (T = tau = 0.1: what the masked stage's
    discriminators judge; 0.5: where the IoU counts the mask as on)."""
    test, empty = _scaled(task["test"]), _scaled(task["empty"])
    raw, mask = outputs["raw"], outputs["mask"]
    out = {}
    for t in CUTS:
        out[f"cut_{t}"] = suite.score_texture(
            variant, task["test"], _uint8(np.where(mask > t, raw, test)),
            task["test_objects"], task["empty"],
            _uint8(np.where(outputs["empty_mask"] > t, outputs["empty_raw"], empty)),
            mask[..., 0], _uint8(raw))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", required=True)
    parser.add_argument("--train", choices=("masks", "domains", "uag"), default="masks")
    parser.add_argument("--steps", type=int, default=None,
                        help="default: 1,500 for the network alone, 3,000 for uag")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", default="gap",
                        help="domains: gap, max, lseR or pixel (each pixel labelled)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="uag: a model setting, as attngan bench quality takes it")
    parser.add_argument("--save-outputs", metavar="NPZ",
                        help="uag: save the running rule's raw outputs and masks")
    parser.add_argument("--score-outputs", metavar="NPZ",
                        help="score the cuts of outputs saved by --save-outputs (no training)")
    args = parser.parse_args()
    variant = family.variant(args.variant)
    if args.score_outputs:
        task = family.texture_task(variant, TRAIN_IMAGES, TEST_IMAGES, SIZE, args.seed)
        result = score_cuts(variant, task, dict(np.load(args.score_outputs)))
    elif args.train == "uag":
        from keras_attngan.cli.common import parse_set

        result = probe_uag(variant, args.steps or 3000, args.seed, parse_set(args.set),
                           args.save_outputs)
    else:
        result = probe_network(variant, args.train, args.steps or 1500, args.seed, args.pool)
    trained = f"outputs {args.score_outputs}" if args.score_outputs else args.train
    print(json.dumps({"variant": args.variant, "train": trained, "seed": args.seed,
                      **result}))


if __name__ == "__main__":
    main()
