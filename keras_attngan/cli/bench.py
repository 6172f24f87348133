"""``attngan bench train | data | export | evaluate | quality``: the benchmarks of
``keras_attngan.benchmarks``, printed as one line each (``--json`` for the figures)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from keras_attngan.cli.common import fail, inception_weights, parse_set, positive
from keras_attngan.cli.names import MODEL_NAMES, PRECISIONS


def add_parser(sub) -> None:
    """The ``bench`` sub-command and its options."""
    b = sub.add_parser("bench", help="measure training-step, data-pipeline, export, "
                                     "feature-extraction speed, or translation quality")
    b.add_argument("what", choices=("train", "data", "export", "evaluate", "quality"))
    b.add_argument("--model", default="cyclegan", choices=MODEL_NAMES)
    b.add_argument("--image-size", type=int, default=None,
                   help="default 128 for train, 256 for data")
    b.add_argument("--batch-size", type=int, default=None,
                   help="default 1; 32 for evaluate")
    b.add_argument("--steps", type=positive(int), default=None,
                   help="timed steps (train, default 10), pairs (data, default 256) or "
                        "images (evaluate, default 2000) or training steps (quality, "
                        "default 3000)")
    b.add_argument("--warmup", type=int, default=2)
    b.add_argument("--jit-compile", action="store_true")
    b.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="train and quality: float32 (default), bfloat16, float16 or auto "
                        "(as attngan train --precision)")
    b.add_argument("--set", action="append", metavar="NAME=VALUE")
    b.add_argument("--folder", default=None, help="data: a folder of images to read")
    b.add_argument("--inception-weights", default=None,
                   help="evaluate: none (default: random init, same speed), imagenet or PATH")
    b.add_argument("--task", choices=("texture", "digits"), default="texture",
                   help="quality: texture (objects gain stripes, 64 px) or digits (content "
                        "kept, 32 px)")
    # SUPPRESS: the help would say "(default: True)" of an option that turns it off
    b.add_argument("--no-reference", dest="reference", action="store_false",
                   default=argparse.SUPPRESS,
                   help="quality: skip training CycleGAN as the reference (trained by default)")
    b.set_defaults(reference=True)
    b.add_argument("--seed", type=int, default=0, help="quality: data and training seed")
    b.add_argument("--suite", choices=("tuning", "held-out"), default=None,
                   help="quality: train on every variant of the task family's tuning or "
                        "held-out set (benchmarks.family), one row per variant")
    b.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="quality --suite: the seeds (default: 0 1 for tuning, 100 101 for "
                        "held-out)")
    b.add_argument("--variant", action="append", default=None,
                   help="quality --suite: only this variant (repeatable)")
    b.add_argument("--lr", type=positive(float), default=None,
                   help="quality: the model's learning rate (default: what the model picks "
                        "for the run, as attngan train does)")
    b.add_argument("--log-dir", default=None,
                   help="quality: keep TensorBoard logs and sample grids here")
    b.add_argument("--json", action="store_true", help="also print the figures as JSON")
    b.add_argument("--verbose", dest="tf_log", action="store_true",
                   help="show TensorFlow's own log lines")
    b.set_defaults(func=run)


# Options only some measurements read (those without a default that could be meant):
# given to another, they would be ignored, so they are refused.
_OPTION_READERS = {
    "precision": ("train", "quality"), "jit_compile": ("train",), "folder": ("data",),
    "inception_weights": ("evaluate",), "lr": ("quality",), "log_dir": ("quality",),
    "suite": ("quality",), "seeds": ("quality --suite",), "variant": ("quality --suite",),
}


def _refuse_unread_options(args: argparse.Namespace) -> None:
    """Exit 2, naming the option, where ``args`` gives one its measurement would ignore."""
    what = "quality --suite" if args.what == "quality" and args.suite else args.what
    reads = {args.what, what}  # a suite reads quality's options and its own
    if what == "quality --suite" and args.log_dir:
        fail("--log-dir applies to bench quality without --suite; leave it out.")
    for name, readers in _OPTION_READERS.items():
        if getattr(args, name) and not reads.intersection(readers):
            option = "--" + name.replace("_", "-")
            fail(f"{option} applies to bench {' and bench '.join(readers)}, not bench "
                 f"{what}; leave it out.")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Runs the benchmark ``bench WHAT`` names, prints its line and returns its figures."""
    from keras_attngan.benchmarks import speed

    _refuse_unread_options(args)
    if args.what == "train":
        result = speed.bench_train(args.model, image_size=args.image_size,
                                        batch_size=args.batch_size, steps=args.steps,
                                        warmup=args.warmup, jit_compile=args.jit_compile,
                                        precision=args.precision, **parse_set(args.set))
        print(f"{result['model']} train step, {result['image_size']} px, batch "
              f"{result['batch_size']}, jit_compile={result['jit_compile']}, precision "
              f"{result['precision']}: "
              f"median {result['seconds_per_step']:.3f} s/step over {result['steps']} steps, "
              f"{result['images_per_second']:.2f} images/s, "
              f"{result['gflop_per_step']:.1f} GFLOP/step, "
              f"{result['gflop_per_second']:.1f} GFLOP/s (this machine's 4096^2 float32 "
              f"matmul in TF: {result['matmul_gflop_per_second']:.0f} GFLOP/s), "
              f"peak RSS {result['peak_rss_mb']:.0f} MB")
    elif args.what == "export":
        result = speed.bench_export(args.model, image_size=args.image_size,
                                         runs=args.steps, **parse_set(args.set))
        for row in result["rows"]:
            print(f"{row['format']:<18} median {row['seconds']:.3f} s/image, "
                  f"{row['speedup_vs_keras']:.2f}x Keras predict, "
                  + (f"{row['psnr_db']:.1f} dB to it" if row["psnr_db"] != float("inf")
                     else "the float32 reference")
                  + (f", {row['bytes'] / 1e6:.1f} MB" if row.get("bytes") else ""))
        print(f"{result['image_size']} px, peak RSS {result['peak_rss_mb_keras_inference']:.0f}"
              f" MB after building the model and Keras inference; this machine's 4096^2 "
              f"float32 matmul in TF: {result['matmul_gflop_per_second']:.0f} GFLOP/s")
    elif args.what == "quality" and args.suite:
        from keras_attngan.benchmarks import suite

        result = suite.bench_suite(args.model, task=args.task, suite=args.suite,
                                   seeds=args.seeds, steps=args.steps or 3000,
                                   batch_size=args.batch_size or 1, reference=args.reference,
                                   learning_rate=args.lr, image_size=args.image_size,
                                   variant_names=tuple(args.variant or ()),
                                   precision=args.precision,
                                   verbose=1 if sys.stderr.isatty() else 0,
                                   on_run=lambda run: print(suite.format_run(run),
                                                            file=sys.stderr, flush=True),
                                   **parse_set(args.set))
        print(suite.format_suite(result))
    elif args.what == "quality":
        from keras_attngan.benchmarks import quality

        result = quality.bench_quality(args.model, task=args.task, steps=args.steps,
                                       batch_size=args.batch_size, seed=args.seed,
                                       reference=args.reference, log_dir=args.log_dir,
                                       image_size=args.image_size, learning_rate=args.lr,
                                       precision=args.precision,
                                       verbose=1 if sys.stderr.isatty() else 0,
                                       **parse_set(args.set))
        print(quality.format_quality(result))
    elif args.what == "evaluate":
        weights = inception_weights(args.inception_weights or "none")
        result = speed.bench_evaluate(images=args.steps, image_size=args.image_size,
                                           batch_size=args.batch_size, weights=weights,
                                           progress=sys.stderr.isatty())
        print(f"feature extraction, {result['network']}: {result['images_per_second']:.1f} "
              f"images/s at {result['image_size']} px, batch {result['batch_size']} "
              f"({result['images']} images in {result['seconds']:.1f} s, "
              f"{result['cpu_count']} CPUs, {result['images_per_cpu_second']:.1f} images per "
              f"CPU-second, load {result['load_average_1min_at_end']:.1f}); peak RSS "
              f"{result['peak_rss_mb']:.0f} MB after "
              f"{result['images']} images, {result['peak_rss_mb_after_first_pass']:.0f} MB "
              f"after {result['first_pass_images']} (the images as float32 would be "
              f"{result['images_as_float32_mb']:.0f} MB)")
    else:
        result = speed.bench_data(image_size=args.image_size, pairs=args.steps,
                                       batch_size=args.batch_size, folder=args.folder)
        print(f"unpaired pipeline, {result['image_size']} px from JPEG: "
              f"{result['images_per_second']:.1f} images/s "
              f"({result['images']} images in {result['seconds']:.2f} s)")
    if args.json:
        print(json.dumps(result))
    return result
