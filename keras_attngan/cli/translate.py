"""``attngan translate``: a trained model (``.keras``, run folder or ``.tflite``) over an
image file or a folder, a PNG per image."""

from __future__ import annotations

import argparse
import os
import sys

from keras_attngan.cli.common import fail, load_model


def add_parser(sub) -> None:
    """The ``translate`` sub-command and its options."""
    r = sub.add_parser("translate", help="translate images with a trained model")
    r.add_argument("--checkpoint", required=True,
                   help="the .keras file training wrote (or its run folder), or a .tflite file")
    r.add_argument("--input", required=True, help="an image file or a folder of images")
    r.add_argument("--output", required=True, help="folder for the PNG results")
    r.add_argument("--direction", default=None,
                   help="a2b or b2a (default: the model's first, a2b)")
    r.add_argument("--target-domain", type=int, default=None,
                   help="multi-domain models: the domain index to translate to")
    r.add_argument("--tile", type=int, default=512,
                   help="images with a side over this are translated in overlapping tiles "
                        "of this size, blended (bounded memory)")
    r.add_argument("--overlap", type=int, default=64, help="overlap of adjacent tiles, px")
    r.add_argument("--keep-extension", action="store_true",
                   help="name results x.jpg.png rather than x.png (for inputs that differ "
                        "only by extension)")
    r.add_argument("--overwrite", action="store_true",
                   help="replace results that exist in --output")
    r.add_argument("--verbose", dest="tf_log", action="store_true",
                   help="show TensorFlow's own log lines")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show progress (default: on a terminal only)")
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> list[str]:
    """``attngan translate``: every image in ``--input`` -> a PNG in ``--output``
    (``NAME_mask.png`` beside it for attention models). Refuses, before writing
    anything, output names that two inputs share, an output folder inside the input,
    and existing files (unless ``--overwrite``). An image that fails is reported at the
    end, and the command then exits 1 after translating the others."""
    import numpy as np
    import tensorflow as tf

    import keras_attngan as kag
    from keras_attngan import inference

    if not os.path.exists(args.checkpoint):
        fail(f"--checkpoint: No model file at {args.checkpoint!r}. Pass the .keras file "
              "that training wrote (runs/NAME/model.keras), its run folder or a .tflite "
              "file.")
    if os.path.isdir(args.input):
        files = kag.data.list_images(args.input)
        root = args.input
    elif os.path.isfile(args.input):
        files, root = [args.input], os.path.dirname(args.input) or "."
    else:
        fail(f"--input {args.input!r} is neither an image file nor a folder.")
    if not files:
        fail(f"no images in {args.input!r} (looked for "
              f"{', '.join(kag.data.sources.IMAGE_EXTENSIONS)}).")
    if os.path.isdir(args.input) and inference.is_inside(args.output, args.input):
        fail(f"--output {args.output!r} is inside --input {args.input!r}: the "
              "translations would mix with (or replace) the source images. Choose an "
              "output folder outside the input.")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        fail(f"--output {args.output!r} is a file; it must be a folder (it is created "
              "if missing).")
    if args.tile < 32 or args.overlap < 0 or args.overlap >= args.tile:
        fail(f"--tile must be at least 32 px and --overlap in [0, --tile); got --tile "
              f"{args.tile} --overlap {args.overlap}.")

    if args.checkpoint.endswith(".tflite"):
        model = _TFLiteModel(args.checkpoint)
        if args.direction not in (None, "a2b"):
            fail("a .tflite model translates the one direction it was exported with; "
                  f"got --direction {args.direction}; drop the option.")
    else:
        model = load_model(args.checkpoint)
        if args.direction is not None and args.direction not in model.directions:
            fail(f"--direction {args.direction!r}: {type(model).__name__} translates "
                  f"{' or '.join(model.directions)}.")
        if args.tile % model.size_multiple:
            fail(f"--tile {args.tile} must be a multiple of {model.size_multiple}, which "
                  f"the {type(model).__name__} networks' strides need.")
    n_domains = int(getattr(model, "n_domains", 0) or 0)
    options = {}
    if n_domains:  # a multi-domain model translates to the domain asked for
        if args.target_domain is None or not 0 <= args.target_domain < n_domains:
            fail(f"{type(model).__name__} translates to a target domain: pass "
                  f"--target-domain K with K in 0..{n_domains - 1}.")
        options["target_domain"] = args.target_domain
    elif args.target_domain is not None:
        fail("--target-domain is for multi-domain models (aggan_multidomain).")
    has_mask = bool(getattr(model, "has_attention", False))

    # Every output name is decided, and checked, before anything is written.
    names = inference.output_names(files, root, keep_extension=args.keep_extension,
                                   mask=has_mask)
    clashing = inference.clashes(names)
    if clashing:
        shown = "; ".join(f"{name} <- {', '.join(os.path.relpath(p, root) for p in paths)}"
                          for name, paths in clashing[:5])
        more = f" (and {len(clashing) - 5} more)" if len(clashing) > 5 else ""
        fail(f"{len(clashing)} output name(s) would be written by more than one input: "
              f"{shown}{more}. Pass --keep-extension (x.jpg -> x.jpg.png) or rename the "
              "inputs; nothing was written.")
    targets = {path: [os.path.join(args.output, name) for name in outputs]
               for path, outputs in names.items()}
    existing = [t for outputs in targets.values() for t in outputs if os.path.exists(t)]
    if existing and not args.overwrite:
        fail(f"{len(existing)} output file(s) exist already (e.g. {existing[0]}); pass "
              "--overwrite to replace them, or choose another --output. Nothing was "
              "written.")
    sources = {os.path.realpath(p) for p in files}
    overwritten_sources = [t for outputs in targets.values() for t in outputs
                           if os.path.realpath(t) in sources]
    if overwritten_sources:
        fail(f"writing {overwritten_sources[0]} would replace an input image; choose "
              "another --output.")

    written, failed, notes = [], [], []
    for number, path in enumerate(files, 1):
        try:
            try:
                image = kag.data.decode_image(tf.io.read_file(path)).numpy()
            except tf.errors.OpError as error:
                why = error.message.split("}}")[-1].split("[Op:")[0].strip()
                raise ValueError(f"not a decodable image ({why})")
            if isinstance(model, _TFLiteModel):
                out = model.translate(image)
            else:
                out = inference.translate_image(model, image, direction=args.direction,
                                                tile=args.tile, overlap=args.overlap,
                                                options=options)
                if out["resized"]:
                    notes.append(f"{path}: {image.shape[1]}x{image.shape[0]} px, translated "
                                 f"upscaled to {inference.DEFAULT_MIN_SIDE} px and resized "
                                 "back")
            outputs = targets[path]
            os.makedirs(os.path.dirname(outputs[0]) or ".", exist_ok=True)
            pixels = np.clip(np.round((out["image"] + 1) * 127.5), 0, 255).astype(np.uint8)
            tf.io.write_file(outputs[0], tf.io.encode_png(pixels))
            written.append(outputs[0])
            if "mask" in out and len(outputs) > 1:
                mask = np.clip(np.round(out["mask"] * 255), 0, 255).astype(np.uint8)
                tf.io.write_file(outputs[1], tf.io.encode_png(mask))
        except (ValueError, TypeError, tf.errors.OpError, MemoryError) as error:
            message = getattr(error, "message", None) or str(error)
            failed.append((path, message.splitlines()[0] if message else type(error).__name__))
            print(f"attngan translate: warning: {path}: {failed[-1][1]}", file=sys.stderr)
        if args.progress and len(files) > 1:
            print(f"\r  {number}/{len(files)}", end="", file=sys.stderr, flush=True)
    if args.progress and len(files) > 1:
        print(file=sys.stderr)
    for note in notes:
        print(f"attngan translate: warning: {note}", file=sys.stderr)
    print(f"attngan translate: wrote {len(written)} translation(s) to {args.output}"
          + (" (with masks)" if has_mask else ""))
    if failed:
        print(f"attngan translate: error: {len(failed)} of {len(files)} image(s) failed:\n"
              + "\n".join(f"  {path}: {why}" for path, why in failed), file=sys.stderr)
        raise SystemExit(1)
    return written


class _TFLiteModel:
    """``translate`` for a .tflite translator: images are resized to its fixed input size
    and the results resized back."""

    def __init__(self, path: str):
        from keras_attngan.export import TFLiteTranslator

        try:
            self.translator = TFLiteTranslator(path)
        except (FileNotFoundError, ValueError) as error:
            fail(f"--checkpoint: {error}")
        self.has_attention = "mask" in self.translator.output_names

    def translate(self, image, direction=None):
        import numpy as np
        import tensorflow as tf

        size = self.translator.image_size
        x = tf.image.resize(image.astype("float32")[None], (size, size), "bicubic")
        x = np.clip(x.numpy(), 0, 255) / 127.5 - 1.0
        out = self.translator(x)
        height, width = image.shape[:2]
        return {key: tf.image.resize(value, (height, width), "bicubic").numpy()[0]
                for key, value in out.items()}
