"""``attngan export``: a SavedModel version folder for TF Serving, or a ``.tflite`` file."""

from __future__ import annotations

import argparse
import os
from typing import Any

from keras_attngan.cli.common import fail, load_model


def add_parser(sub) -> None:
    """The ``export`` sub-command and its options."""
    e = sub.add_parser("export", help="export a trained model for TF Serving or TFLite")
    e.add_argument("--checkpoint", required=True, help="the .keras file training wrote")
    e.add_argument("--format", choices=("saved_model", "tflite"), default="saved_model")
    e.add_argument("--out", required=True,
                   help="saved_model: export/NAME/VERSION; tflite: a .tflite file")
    e.add_argument("--direction", default=None, help="default: all (saved_model), a2b")
    e.add_argument("--quantization", default=None,
                   choices=("float16", "dynamic", "int8"), help="tflite: default float32")
    e.add_argument("--image-size", type=int, default=None,
                   help="tflite input size (default: the training size)")
    e.add_argument("--max-side", type=int, default=4096,
                   help="saved_model: largest image side accepted")
    e.add_argument("--overwrite", action="store_true",
                   help="replace an existing SavedModel folder or .tflite file")
    e.add_argument("--verbose", dest="tf_log", action="store_true",
                   help="show TensorFlow's own log lines")
    e.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """``attngan export``: a SavedModel version folder or a .tflite file; refuses to
    replace an existing one unless ``--overwrite``."""
    import keras_attngan as kag

    if args.format == "saved_model":
        if os.path.isfile(args.out):
            fail(f"--out {args.out!r} is a file; a SavedModel is a folder "
                  "(export/NAME/VERSION).")
        if os.path.isdir(args.out) and os.listdir(args.out) and not args.overwrite:
            fail(f"--out {args.out!r} exists and is not empty (another export or version "
                  "of a model?); pass --overwrite to replace it, or export to a new "
                  "version folder (export/NAME/VERSION+1).")
    else:
        if not args.out.endswith(".tflite"):
            fail(f"--out {args.out!r}: a TFLite model is written to a .tflite file.")
        if os.path.isdir(args.out):
            fail(f"--out {args.out!r} is a folder; give a .tflite file name.")
        if os.path.exists(args.out) and not args.overwrite:
            fail(f"--out {args.out!r} exists; pass --overwrite to replace it.")
    model = load_model(args.checkpoint)
    if args.direction is not None and args.direction not in model.directions:
        fail(f"--direction {args.direction!r}: {type(model).__name__} translates "
              f"{' or '.join(model.directions)}.")
    image_size = args.image_size or model.image_size
    if args.format == "tflite" and (image_size < 1 or image_size % model.size_multiple):
        fail(f"--image-size {image_size} must be a positive multiple of "
              f"{model.size_multiple}, which the {type(model).__name__} networks' strides "
              "need.")
    if args.format == "saved_model":
        if args.max_side < model.size_multiple:
            fail(f"--max-side {args.max_side} must be at least {model.size_multiple}.")
        path = kag.export.saved_model(
            model, args.out, directions=(args.direction,) if args.direction else None,
            max_side=args.max_side, overwrite=args.overwrite)
        print(f"attngan export: SavedModel for TF Serving in {path} (signatures: "
              f"{', '.join(args.direction and [args.direction] or model.directions)}, "
              "translate_bytes, serving_default)")
        return {"path": path}
    report = kag.export.tflite(model, args.out, quantization=args.quantization,
                               image_size=image_size, direction=args.direction,
                               overwrite=args.overwrite)
    print(f"attngan export: {report['quantization']} TFLite model in {args.out} "
          f"({report['bytes'] / 1e6:.1f} MB, {report['image_size']} px); against Keras: "
          f"max abs difference {report['image_max_abs_diff']:.2g}, "
          f"PSNR {report['image_psnr_db']:.1f} dB")
    return report
