"""``attngan train | translate | export | evaluate | demo | bench``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from typing import Any, Callable, Sequence

RUN_CONFIG = "run.json"


def _parse_value(text: str) -> Any:
    """A --set value: JSON (32, 0.5, true, null, [1, 2]), Python's True / False / None,
    else the text itself."""
    python = {"True": True, "False": False, "None": None}
    if text.strip() in python:
        return python[text.strip()]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _hparams(pairs: Sequence[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs or ():
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            _fail(f"--set takes NAME=VALUE (like ngf=32); got {pair!r}.")
        key, value = pair.split("=", 1)
        out[key.strip()] = _parse_value(value)
    return out


#: the verb main() is running, for the "attngan VERB: error:" prefix.
_VERB: str | None = None


def _fail(message: str) -> None:
    """A user mistake: ``attngan VERB: error: MESSAGE`` on stderr, exit status 2 (the
    convention of argparse's own errors)."""
    prefix = f"attngan {_VERB}" if _VERB else "attngan"
    print(f"{prefix}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _positive(kind: type) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` above 0 (else exit 2 naming the value)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a {kind.__name__}; got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0; got {text}")
        return value
    return parse


def _check_model_options(args: argparse.Namespace) -> None:
    """--model, --set and --image-size checked before any work (train, bench train and
    export): unknown hyper-parameters, values of the wrong type and sizes the model's
    strides cannot take end the command with what is allowed."""
    import keras_attngan as kag
    from keras_attngan.models.registry import check_hyperparameters, hyperparameters

    cls = kag.models.get_class(args.model)
    hparams = _hparams(args.set)
    known = hyperparameters(cls)
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        close = _close_matches(unknown, known)
        _fail(f"--set: {args.model} has no hyper-parameter {', '.join(unknown)}"
              + (f" (did you mean {', '.join(close)}?)" if close else "")
              + f". Known: {', '.join(n for n in known if n != 'name')}.")
    try:
        check_hyperparameters(cls, hparams)
    except TypeError as error:
        _fail(f"--set: {error}")
    if "image_size" in hparams:
        _fail("set the image size with --image-size, not --set image_size=...")
    size = args.image_size
    if size is not None and (size < 1 or size % cls.size_multiple):
        _fail(f"--image-size {size}: {args.model} needs a positive multiple of "
              f"{cls.size_multiple} (its networks' strides); e.g. "
              f"{max(cls.size_multiple, size - size % cls.size_multiple)} or "
              f"{size + (-size) % cls.size_multiple}.")


def _close_matches(words: Sequence[str], known: Sequence[str]) -> list[str]:
    import difflib

    return sorted({m for w in words for m in difflib.get_close_matches(w, known, n=1)})


# --------------------------------------------------------------------------- train
def _data_key(spec: str | None) -> str | None:
    """A data option as run.json records it: an existing path made absolute (the same
    folder given another way is the same data), anything else (a tfds name) as given."""
    if spec is None:
        return None
    spec = str(spec)
    return os.path.abspath(spec) if os.path.exists(spec) else spec


def train(args: argparse.Namespace) -> dict[str, Any]:
    import keras_attngan as kag
    from keras_attngan.training.callbacks import (
        BackupError, RunBackup, publish_pending_grids, publish_pending_scalars,
    )

    multidomain = getattr(kag.models.get_class(args.model), "needs_domain_labels", False)
    if multidomain and (args.data is None or args.data_a or args.data_b):
        _fail(f"--model {args.model} trains on one folder of domains: pass --data DIR "
              "(one sub-folder per domain), not --data-a/--data-b.")
    if not multidomain and (args.data_a is None or args.data_b is None or args.data):
        _fail(f"--model {args.model} trains on two unpaired sets: pass --data-a and "
              "--data-b" + (" (--data is for aggan_multidomain)." if args.data else "."))
    hparams = {"image_size": args.image_size, **_hparams(args.set)}
    if args.decay_start is not None:
        hparams["decay_start"] = args.decay_start
    if args.epochs is None:  # the chosen model's paper schedule
        args.epochs = kag.models.get_class(args.model).paper_epochs
    if args.epochs < 1:
        _fail(f"--epochs must be at least 1; got {args.epochs}.")
    config_path = os.path.join(args.out, RUN_CONFIG)
    backup_dir = os.path.join(args.out, "backup")
    run = {"model": args.model, "hparams": hparams, "epochs": args.epochs,
           "decay_start": args.decay_start, "batch_size": args.batch_size,
           "lr": args.lr, "data_a": _data_key(args.data_a), "data_b": _data_key(args.data_b)}
    if multidomain:
        run["data"] = _data_key(args.data)
    try:
        latest = RunBackup.read_latest(backup_dir)
    except BackupError as error:
        _fail(str(error))
    if os.path.exists(config_path):
        with open(config_path) as f:
            previous = json.load(f)
        if latest is not None and not args.resume:
            _fail(f"{args.out} already holds a training run; pass --resume to continue it "
                  "or choose another --out.")
        # what must match for the backup to continue this run (epochs may grow)
        # (data given as a relative or an absolute path is the same data)
        previous.update({key: _data_key(previous[key]) for key in ("data_a", "data_b",
                                                                   "data") if key in previous})
        differs = [f"{key}: {previous.get(key)!r} there, {run.get(key)!r} now"
                   for key in ("model", "hparams", "batch_size", "lr", "data_a", "data_b",
                               "data")
                   if previous.get(key) != run.get(key)]
        if args.resume and differs and not args.force:
            _fail(f"{args.out} holds another run; it cannot resume with these options ("
                  + "; ".join(differs) + "). Pass the options it was started with, "
                  "another --out, or --force to resume anyway.")
    elif args.resume:
        print(f"attngan: nothing to resume in {args.out}; starting a new run.")
    if latest is not None and args.resume:
        if latest["epoch"] >= args.epochs:
            # what the last process left pending belongs to finished epochs
            publish_pending_grids(os.path.join(args.out, "samples"), args.out,
                                  latest["epoch"])
            publish_pending_scalars(args.out, latest["epoch"])
            print(f"attngan: {args.out} has trained {latest['epoch']} epoch(s) already; "
                  f"pass --epochs above {latest['epoch']} to train more.")
            return {"model": None, "history": {}, "model_path": os.path.join(
                args.out, "model.keras")}
        print(f"attngan: resuming at epoch {latest['epoch'] + 1}"
              + (f", batch {latest['batch'] + 1}" if latest["batch"] else "")
              + f" of {args.epochs} from {backup_dir}")
        if os.path.exists(config_path) and previous.get("epochs") != args.epochs:
            print(f"attngan: note: this run was started for {previous.get('epochs')} epochs "
                  f"and now goes to {args.epochs}: its schedule is resolved for "
                  f"{args.epochs} (scaled switches and the learning-rate decay move with "
                  "the run's length; set them explicitly to keep them where they were).")

    # Load (and check) each side once; training and sample pipelines share the sources.
    labelled = kag.models.get_class(args.model).trains_with_source_labels(hparams)
    data_options = {}
    if multidomain:
        _, domain_labels, domain_names = kag.data.domain_files(args.data)
        n_domains = hparams.get("n_domains", 8)
        if len(domain_names) != n_domains:
            _fail(f"{args.data} holds {len(domain_names)} domains "
                  f"({', '.join(domain_names)}), but the model has {n_domains}: pass --set "
                  f"n_domains={len(domain_names)}.")
        print(f"attngan: domains {', '.join(f'{i}={n}' for i, n in enumerate(domain_names))}")
        load_size = args.load_size or round(args.image_size * 286 / 256)
        dataset = kag.data.multidomain(args.data, image_size=args.image_size,
                                       load_size=load_size, batch_size=args.batch_size,
                                       seed=args.seed, n_domains=n_domains)
        # four fixed inputs (shuffled once: the folders are sorted by domain)
        first = next(iter(kag.data.multidomain(args.data, image_size=args.image_size,
                                               batch_size=4, augment=False, seed=0)))
        samples = (first[0].numpy(), first[0].numpy())
    elif labelled:  # unit_da: class sub-folders or a labelled tfds split on the A side
        try:
            images_a, labels_a = kag.data.load_labelled(args.data_a, args.image_size)
        except kag.data.DataError as error:
            _fail(f"--model {args.model} trains on labelled A images: {error}")
        n_classes = hparams.get("n_classes", 10)
        if int(labels_a.max()) >= n_classes:
            _fail(f"{args.data_a} holds labels up to {int(labels_a.max())}, but the model "
                  f"classifies {n_classes} classes: pass --set n_classes="
                  f"{int(labels_a.max()) + 1}.")
        # no crops or flips: a mirrored digit is another digit
        data_options = dict(labels_a=labels_a, augment=False)
        sources = [kag.data.load_source(images_a),
                   kag.data.load_source(args.data_b, skip_corrupt=args.skip_corrupt)]
    else:
        sources = [kag.data.load_source(spec, skip_corrupt=args.skip_corrupt)
                   for spec in (args.data_a, args.data_b)]
    if not multidomain:
        dataset = kag.data.unpaired(
            *sources, image_size=args.image_size,
            load_size=args.load_size or round(args.image_size * 286 / 256),
            batch_size=args.batch_size, seed=args.seed, **data_options,
        )
        samples = kag.data.unpaired(*sources, image_size=args.image_size, batch_size=1,
                                    augment=False, shuffle=False)
    strategy = kag.training.strategy()
    with strategy.scope():
        model = kag.models.build(args.model, **hparams)
        model.compile(**({"learning_rate": args.lr} if args.lr else {}),
                      jit_compile=args.jit_compile)
    try:
        model.start_schedule(args.epochs)  # a schedule the run cannot reach is refused
    except ValueError as error:
        _fail(str(error))
    backup_freq = args.backup_freq
    if backup_freq != "epoch":
        if not str(backup_freq).isdigit() or int(backup_freq) < 1:
            _fail(f"--backup-freq takes 'epoch' or a positive number of steps; got "
                  f"{backup_freq!r}.")
        backup_freq = int(backup_freq)
    created = not os.path.isdir(args.out)
    os.makedirs(args.out, exist_ok=True)
    try:
        with open(config_path, "w") as f:
            json.dump(run, f, indent=2)
        callbacks = kag.callbacks.default(model, args.out, samples=samples,
                                          backup_freq=backup_freq)
        callbacks += _evaluation_callbacks(args, model)
        print(f"attngan: training {args.model} for {args.epochs} epochs of "
              f"{int(dataset.cardinality())} steps on {strategy.num_replicas_in_sync} "
              f"replica(s); run folder {args.out}")
        try:
            verbose = (1 if sys.stdout.isatty() else 2) if args.verbose is None \
                else args.verbose
            history = model.fit(dataset, epochs=args.epochs, callbacks=callbacks,
                                shuffle=False, verbose=verbose)
        except BackupError as error:  # a damaged backup, or one of another model
            _fail(str(error))
    except BaseException:
        # a start that failed before its first backup leaves no half-made run folder
        if created and not os.path.exists(os.path.join(backup_dir, RunBackup.LATEST)):
            shutil.rmtree(args.out, ignore_errors=True)
        raise
    model_path = os.path.join(args.out, "model.keras")
    model.save(model_path)
    print(f"attngan: model saved to {model_path}; TensorBoard: tensorboard --logdir "
          f"{args.out}; samples in {os.path.join(args.out, 'samples')}")
    return {"model": model, "history": history.history, "model_path": model_path}


# ----------------------------------------------------------------------- translate
def translate(args: argparse.Namespace) -> list[str]:
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
        _fail(f"--checkpoint: No model file at {args.checkpoint!r}. Pass the .keras file "
              "that training wrote (runs/NAME/model.keras), its run folder or a .tflite "
              "file.")
    if os.path.isdir(args.input):
        files = kag.data.list_images(args.input)
        root = args.input
    elif os.path.isfile(args.input):
        files, root = [args.input], os.path.dirname(args.input) or "."
    else:
        _fail(f"--input {args.input!r} is neither an image file nor a folder.")
    if not files:
        _fail(f"no images in {args.input!r} (looked for "
              f"{', '.join(kag.data.sources.IMAGE_EXTENSIONS)}).")
    if os.path.isdir(args.input) and inference.is_inside(args.output, args.input):
        _fail(f"--output {args.output!r} is inside --input {args.input!r}: the "
              "translations would mix with (or replace) the source images. Choose an "
              "output folder outside the input.")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        _fail(f"--output {args.output!r} is a file; it must be a folder (it is created "
              "if missing).")
    if args.tile < 32 or args.overlap < 0 or args.overlap >= args.tile:
        _fail(f"--tile must be at least 32 px and --overlap in [0, --tile); got --tile "
              f"{args.tile} --overlap {args.overlap}.")

    if args.checkpoint.endswith(".tflite"):
        model = _TFLiteModel(args.checkpoint)
        if args.direction not in (None, "a2b"):
            _fail("a .tflite model translates the one direction it was exported with; "
                  f"got --direction {args.direction}; drop the option.")
    else:
        model = _load_model(args.checkpoint)
        if args.direction is not None and args.direction not in model.directions:
            _fail(f"--direction {args.direction!r}: {type(model).__name__} translates "
                  f"{' or '.join(model.directions)}.")
        if args.tile % model.size_multiple:
            _fail(f"--tile {args.tile} must be a multiple of {model.size_multiple}, which "
                  f"the {type(model).__name__} networks' strides need.")
    n_domains = int(getattr(model, "n_domains", 0) or 0)
    options = {}
    if n_domains:  # a multi-domain model translates to the domain asked for
        if args.target_domain is None or not 0 <= args.target_domain < n_domains:
            _fail(f"{type(model).__name__} translates to a target domain: pass "
                  f"--target-domain K with K in 0..{n_domains - 1}.")
        options["target_domain"] = args.target_domain
    elif args.target_domain is not None:
        _fail("--target-domain is for multi-domain models (aggan_multidomain).")
    has_mask = bool(getattr(model, "has_attention", False))

    # Every output name is decided, and checked, before anything is written.
    names = inference.output_names(files, root, keep_extension=args.keep_extension,
                                   mask=has_mask)
    clashing = inference.clashes(names)
    if clashing:
        shown = "; ".join(f"{name} <- {', '.join(os.path.relpath(p, root) for p in paths)}"
                          for name, paths in clashing[:5])
        more = f" (and {len(clashing) - 5} more)" if len(clashing) > 5 else ""
        _fail(f"{len(clashing)} output name(s) would be written by more than one input: "
              f"{shown}{more}. Pass --keep-extension (x.jpg -> x.jpg.png) or rename the "
              "inputs; nothing was written.")
    targets = {path: [os.path.join(args.output, name) for name in outputs]
               for path, outputs in names.items()}
    existing = [t for outputs in targets.values() for t in outputs if os.path.exists(t)]
    if existing and not args.overwrite:
        _fail(f"{len(existing)} output file(s) exist already (e.g. {existing[0]}); pass "
              "--overwrite to replace them, or choose another --output. Nothing was "
              "written.")
    sources = {os.path.realpath(p) for p in files}
    overwritten_sources = [t for outputs in targets.values() for t in outputs
                           if os.path.realpath(t) in sources]
    if overwritten_sources:
        _fail(f"writing {overwritten_sources[0]} would replace an input image; choose "
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


def _load_model(path: str):
    """``kag.models.load`` with the CLI's messages: a missing or unreadable checkpoint
    ends the command with exit status 2."""
    import keras_attngan as kag

    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "model.keras")):
        path = os.path.join(path, "model.keras")  # a run folder
    try:
        return kag.models.load(path, compile=False)
    except (FileNotFoundError, ValueError) as error:
        _fail(f"--checkpoint: {error}")


class _TFLiteModel:
    """``translate`` for a .tflite translator: images are resized to its fixed input size
    and the results resized back."""

    def __init__(self, path: str):
        from keras_attngan.export import TFLiteTranslator

        try:
            self.translator = TFLiteTranslator(path)
        except (FileNotFoundError, ValueError) as error:
            _fail(f"--checkpoint: {error}")
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


# ---------------------------------------------------------------------------- export
def export(args: argparse.Namespace) -> dict[str, Any]:
    """``attngan export``: a SavedModel version folder or a .tflite file; refuses to
    replace an existing one unless ``--overwrite``."""
    import keras_attngan as kag

    if args.format == "saved_model":
        if os.path.isfile(args.out):
            _fail(f"--out {args.out!r} is a file; a SavedModel is a folder "
                  "(export/NAME/VERSION).")
        if os.path.isdir(args.out) and os.listdir(args.out) and not args.overwrite:
            _fail(f"--out {args.out!r} exists and is not empty (another export or version "
                  "of a model?); pass --overwrite to replace it, or export to a new "
                  "version folder (export/NAME/VERSION+1).")
    else:
        if not args.out.endswith(".tflite"):
            _fail(f"--out {args.out!r}: a TFLite model is written to a .tflite file.")
        if os.path.isdir(args.out):
            _fail(f"--out {args.out!r} is a folder; give a .tflite file name.")
        if os.path.exists(args.out) and not args.overwrite:
            _fail(f"--out {args.out!r} exists; pass --overwrite to replace it.")
    model = _load_model(args.checkpoint)
    if args.direction is not None and args.direction not in model.directions:
        _fail(f"--direction {args.direction!r}: {type(model).__name__} translates "
              f"{' or '.join(model.directions)}.")
    image_size = args.image_size or model.image_size
    if args.format == "tflite" and (image_size < 1 or image_size % model.size_multiple):
        _fail(f"--image-size {image_size} must be a positive multiple of "
              f"{model.size_multiple}, which the {type(model).__name__} networks' strides "
              "need.")
    if args.format == "saved_model":
        if args.max_side < model.size_multiple:
            _fail(f"--max-side {args.max_side} must be at least {model.size_multiple}.")
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


# ---------------------------------------------------------------------------- demo
def demo(args: argparse.Namespace) -> dict[str, Any]:
    import keras
    import numpy as np

    import keras_attngan as kag
    from keras_attngan.training.callbacks import image_grid, write_png

    keras.utils.set_random_seed(args.seed)
    a, b = kag.data.builtin.demo(n=args.images, size=64, seed=args.seed)
    test_a, masks = kag.data.builtin.make_domain("a", 6, 64, args.seed + 1,
                                                 return_masks=True)
    test_b = kag.data.builtin.make_domain("b", 6, 64, args.seed + 1)
    dataset = kag.data.unpaired(a, b, image_size=64, load_size=72, batch_size=args.batch_size,
                                seed=args.seed)
    # UAG, small: narrow networks, and the attention stop at half the run rather than at
    # 30 of 100 epochs, since a short run needs longer to find the object. The
    # appendix's attention layers, whose 7x7 output learns a colour change in a few
    # hundred steps; the default 1x1 ones are slower to start (models/uag.py).
    model = kag.models.build("uag", image_size=64, ngf=args.ngf, ndf=args.ngf,
                             attention_ngf=args.ngf, n_blocks=args.blocks,
                             attention_layers="paper",
                             lambda_cycle=args.lambda_cycle,
                             attention_stop_epoch=args.epochs // 2 or None,
                             decay_start=args.epochs // 2)
    model.compile(learning_rate=args.lr)
    samples = (test_a.astype("float32") / 127.5 - 1, test_b.astype("float32") / 127.5 - 1)
    callbacks = kag.callbacks.default(model, args.out, samples=samples)
    print(f"attngan demo: UAG on {len(a)}+{len(b)} generated 64 px images "
          "(A: red discs, B: blue discs, same kind of background), "
          f"{args.epochs} epochs.")
    start = time.time()
    model.fit(dataset, epochs=args.epochs, callbacks=callbacks, shuffle=False,
              verbose=(1 if sys.stdout.isatty() else 2) if args.verbose is None
              else args.verbose)
    grid = image_grid(model.sample_rows(*samples))
    grid_path = os.path.join(args.out, "before_after.png")
    write_png(grid_path, grid)
    model_path = os.path.join(args.out, "model.keras")
    model.save(model_path)
    # How far the disc colour moved toward domain B, and where the model attends.
    out = model.translate(test_a)
    fake_b = (out["image"] + 1) * 127.5
    inside, outside = masks > 0.9, masks < 0.01
    disc_rgb = np.array([fake_b[..., c][inside].mean() for c in range(3)])
    background_change = float(np.abs(fake_b - test_a)[outside].mean())
    mask = out["mask"][..., 0]
    print(f"attngan demo: done in {time.time() - start:.0f} s.\n"
          f"  before/after grid (input | raw output | mask | translation | "
          f"reconstruction): {grid_path}\n"
          f"  per-epoch grids: {os.path.join(args.out, 'samples')}\n"
          f"  TensorBoard:     tensorboard --logdir {args.out}\n"
          f"  model:           {model_path}\n"
          f"  translated discs: mean RGB {np.round(disc_rgb).astype(int).tolist()} (A discs "
          f"are {list(kag.data.builtin.OBJECT_COLORS['a'])}, B discs "
          f"{list(kag.data.builtin.OBJECT_COLORS['b'])}); background changed by "
          f"{background_change:.1f}/255 on average\n"
          f"  attention: {mask[inside].mean():.2f} on the disc, {mask[outside].mean():.2f} "
          "on the background")
    return {"grid": grid_path, "model_path": model_path, "disc_rgb": disc_rgb,
            "background_change": background_change}


# -------------------------------------------------------------------------- evaluate
def _fail_verb(verb: str, message: str) -> None:
    print(f"attngan {verb}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _inception_weights(value: str | None) -> str | None:
    """--inception-weights: "imagenet", "none" (random init, tests only) or a path."""
    if value is None or value == "imagenet":
        return "imagenet"
    return None if value.lower() == "none" else value


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """``attngan evaluate``: scores a trained model on test data; prints a table and
    writes ``eval.json`` (and the best/worst grid) into ``--out``."""
    from keras_attngan.data import DataError
    from keras_attngan.metrics import EvaluationError
    from keras_attngan.networks.vgg import WeightsUnavailableError

    try:
        return _evaluate(args)
    except (DataError, EvaluationError, FileNotFoundError, WeightsUnavailableError,
            ValueError, TypeError) as error:
        _fail_verb("evaluate", str(error))


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    import keras_attngan as kag
    from keras_attngan.metrics import scoring

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] \
        if args.metrics else None
    unknown = [m for m in metrics or () if m not in scoring.METRICS]
    if unknown:  # before loading anything
        _fail_verb("evaluate", f"unknown metric(s) {', '.join(unknown)}; known: "
                               f"{', '.join(scoring.METRICS)}.")
    model, info = scoring.load_translator(args.checkpoint)
    direction = args.direction or model.directions[0]
    if direction not in model.directions:
        _fail_verb("evaluate", f"the model translates {', '.join(model.directions)}; got "
                               f"--direction {direction}.")
    source_side, target_side = direction[0], direction[-1]
    data = {"a": args.data_a, "b": args.data_b}
    if data[source_side] is None:
        _fail_verb("evaluate", f"{direction} translates domain {source_side.upper()}: pass "
                               f"its test images with --data-{source_side}.")
    chosen = metrics or scoring.default_metrics(info.get("name"), args.pairs is not None,
                                                args.masks is not None)
    distribution_metrics = [m for m in chosen if scoring.METRICS[m]["needs"] == "unpaired"]
    if data[target_side] is None and [m for m in distribution_metrics if m != "is"]:
        _fail_verb("evaluate", f"{', '.join(distribution_metrics)} compare the translations "
                               f"with real images of domain {target_side.upper()}: pass "
                               f"--data-{target_side}, or choose --metrics without them.")
    if args.feature_network and args.inception_weights is not None:
        _fail_verb("evaluate", "--feature-network replaces InceptionV3; drop "
                               "--inception-weights.")
    out = args.out or os.path.join(
        os.path.dirname(info["path"]) if info["format"] == "keras" else ".", "eval")
    report = scoring.evaluate(
        model, args.data_a, args.data_b, direction=direction, metrics=chosen,
        pairs=args.pairs, masks=args.masks, network=args.feature_network,
        weights=_inception_weights(args.inception_weights), option="--inception-weights",
        image_size=args.image_size,
        batch_size=args.batch_size, kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size, is_splits=args.is_splits, seed=args.seed,
        grid=args.grid, progress=_progress(args.verbose), model_info=info)
    os.makedirs(out, exist_ok=True)
    record = scoring.to_json(report)
    record["arguments"] = {k: v for k, v in vars(args).items() if k != "func"}
    grid_path = None
    if report["grid"] is not None:
        from keras_attngan.training.callbacks import write_png

        grid_path = os.path.join(out, "best_worst.png")
        write_png(grid_path, report["grid"])
    record["grid"] = grid_path
    json_path = os.path.join(out, "eval.json")
    with open(json_path, "w") as f:
        json.dump(record, f, indent=2, ensure_ascii=False)
    features = report["feature_network"]
    sizes = report["sizes"]
    print(f"attngan evaluate: {info.get('name') or info.get('class') or info['format']} "
          f"from {info['path']}, {direction}, {sizes['translated']} test image(s) at "
          f"{sizes['image_size']} px" + (f" against {sizes['real']} real" if sizes["real"]
                                         else ""))
    if features:
        print(f"  features: {features['description']}"
              + (" -- not comparable with published figures" if features["random_init"]
                 else ""))
    print(kag.metrics.format_table(report))
    for note in report["notes"]:
        print(f"  note: {note}")
    if grid_path:
        columns = "input | translation" + (" | target" if args.pairs else "") + (
            " | mask" if info.get("has_attention") else "") + (
            " | true mask" if args.masks else "")
        print(f"  best {args.grid} then worst {args.grid} by {report['grid_ranked_by']} "
              f"({columns}): {grid_path}")
    print(f"  report: {json_path}")
    report["json_path"], report["grid_path"] = json_path, grid_path
    return report


def _add_train_evaluation_arguments(t: argparse.ArgumentParser) -> None:
    g = t.add_argument_group("evaluation during training (KID or FID on held-out images)")
    g.add_argument("--eval-data-a", default=None,
                   help="held-out images of domain A (as --data-a); turns evaluation on")
    g.add_argument("--eval-data-b", default=None, help="held-out images of domain B")
    g.add_argument("--eval-every", type=_positive(int), default=None,
                   help="epochs between evaluations (default 1 with --eval-data-a/b)")
    g.add_argument("--eval-metric", choices=("kid", "fid"), default="kid")
    g.add_argument("--eval-direction", default=None, help="default: the model's first")
    g.add_argument("--inception-weights", default=None,
                   help="imagenet (default, downloaded by Keras), PATH (Keras .h5 or the "
                        "reference classify_image_graph_def.pb) or none (random init, "
                        "tests only)")
    g.add_argument("--eval-feature-network", default=None,
                   help="a .keras model to use as the feature network instead")
    g.add_argument("--kid-subset-size", type=_positive(int), default=50)


def _evaluation_callbacks(args: argparse.Namespace, model) -> list:
    """``PeriodicEvaluation`` when train's --eval-* flags ask for it."""
    from keras_attngan.training.evaluation import PeriodicEvaluation

    held_out = (args.eval_data_a, args.eval_data_b)
    if not any(held_out):
        if args.eval_every:
            _fail("--eval-every needs held-out images: --eval-data-a and --eval-data-b.")
        return []
    if not all(held_out):
        _fail("evaluation during training compares translations with real images of the "
              "other domain: pass both --eval-data-a and --eval-data-b.")
    if args.eval_feature_network and args.inception_weights is not None:
        _fail("--eval-feature-network replaces InceptionV3; drop --inception-weights.")
    callback = PeriodicEvaluation(
        args.eval_data_a, args.eval_data_b, every=args.eval_every or 1,
        metric=args.eval_metric, direction=args.eval_direction, log_dir=args.out,
        network=args.eval_feature_network, weights=_inception_weights(
            args.inception_weights), option="--inception-weights",
        kid_subset_size=args.kid_subset_size, seed=args.seed or 0)
    print(f"attngan: held-out {args.eval_metric.upper()} every {callback.every} epoch(s) "
          f"with {callback.extractor.description}; best model -> {callback.best_path}")
    return [callback]


# --------------------------------------------------------------------------- bench
def bench(args: argparse.Namespace) -> dict[str, Any]:
    from keras_attngan import bench as benchmarks

    if args.what == "train":
        result = benchmarks.bench_train(args.model, image_size=args.image_size,
                                        batch_size=args.batch_size, steps=args.steps,
                                        warmup=args.warmup, jit_compile=args.jit_compile,
                                        **_hparams(args.set))
        print(f"{result['model']} train step, {result['image_size']} px, batch "
              f"{result['batch_size']}, jit_compile={result['jit_compile']}: "
              f"median {result['seconds_per_step']:.3f} s/step over {result['steps']} steps, "
              f"{result['images_per_second']:.2f} images/s, "
              f"{result['gflop_per_step']:.1f} GFLOP/step, "
              f"{result['gflop_per_second']:.1f} GFLOP/s (this machine's 4096^2 float32 "
              f"matmul in TF: {result['matmul_gflop_per_second']:.0f} GFLOP/s), "
              f"peak RSS {result['peak_rss_mb']:.0f} MB")
    elif args.what == "export":
        result = benchmarks.bench_export(args.model, image_size=args.image_size,
                                         runs=args.steps, **_hparams(args.set))
        for row in result["rows"]:
            print(f"{row['format']:<18} median {row['seconds']:.3f} s/image, "
                  f"{row['speedup_vs_keras']:.2f}x Keras predict, "
                  + (f"{row['psnr_db']:.1f} dB to it" if row["psnr_db"] != float("inf")
                     else "the float32 reference")
                  + (f", {row['bytes'] / 1e6:.1f} MB" if row.get("bytes") else ""))
        print(f"{result['image_size']} px, peak RSS {result['peak_rss_mb_keras_inference']:.0f}"
              f" MB after building the model and Keras inference; this machine's 4096^2 "
              f"float32 matmul in TF: {result['matmul_gflop_per_second']:.0f} GFLOP/s")
    elif args.what == "quality":
        from keras_attngan import quality

        result = quality.bench_quality(args.model, task=args.task, steps=args.steps,
                                       batch_size=args.batch_size, seed=args.seed,
                                       reference=args.reference, log_dir=args.log_dir,
                                       image_size=args.image_size, learning_rate=args.lr,
                                       verbose=1 if sys.stderr.isatty() else 0,
                                       **_hparams(args.set))
        print(quality.format_quality(result))
    elif args.what == "evaluate":
        weights = _inception_weights(args.inception_weights or "none")
        result = benchmarks.bench_evaluate(images=args.steps, image_size=args.image_size,
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
        result = benchmarks.bench_data(image_size=args.image_size, pairs=args.steps,
                                       batch_size=args.batch_size, folder=args.folder)
        print(f"unpaired pipeline, {result['image_size']} px from JPEG: "
              f"{result['images_per_second']:.1f} images/s "
              f"({result['images']} images in {result['seconds']:.2f} s)")
    if args.json:
        print(json.dumps(result))
    return result


# ---------------------------------------------------------------------------- main
#: the registered models and evaluate's metrics, spelled out so that building the parser
#: (and --help) does not import TensorFlow; tests check them against the registries.
MODEL_NAMES = ("aggan", "aggan_multidomain", "cyclegan", "dagan", "sat", "uag", "unit",
               "unit_da")
METRIC_NAMES = ("kid", "fid", "is", "psnr", "mse", "ssim", "pixel_accuracy_unit",
                "pixel_accuracy_sat", "mask_iou")


def available() -> tuple[str, ...]:
    return MODEL_NAMES


def _show_defaults(p: argparse.ArgumentParser) -> None:
    """Adds "(default: X)" to each option's help, unless it has no default or its help
    says what the default is already."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _show_defaults(subparser)
            continue
        help_text = action.help or ""
        if (not action.option_strings or action.default in (None, False)
                or action.default is argparse.SUPPRESS or "default" in help_text):
            continue
        default = str(action.default).replace("%", "%%")
        action.help = (help_text + " " if help_text else "") + f"(default: {default})"


def parser() -> argparse.ArgumentParser:
    METRICS = METRIC_NAMES

    p = argparse.ArgumentParser(
        prog="attngan", description="Unpaired, attention-guided image translation GANs.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on two unpaired image sets")
    t.add_argument("--model", default="cyclegan", choices=available())
    t.add_argument("--data-a", default=None,
                   help="folder of images, tfds 'name:split' (e.g. "
                        "cycle_gan/horse2zebra:trainA); unit_da: labelled, one sub-folder "
                        "per class or a tfds split with labels (svhn_cropped:train)")
    t.add_argument("--data-b", default=None)
    t.add_argument("--data", default=None,
                   help="aggan_multidomain: a folder with one sub-folder of images per "
                        "domain (e.g. per expression), or RaFD's images (the expression "
                        "read from the file names)")
    t.add_argument("--image-size", type=int, default=256)
    t.add_argument("--load-size", type=int, default=None,
                   help="resize before the random crop (default image_size * 286/256)")
    t.add_argument("--epochs", type=int, default=None,
                   help="default: the model's paper epochs (cyclegan, aggan 200; uag, unit, "
                        "dagan 100; sat 30); the schedule scales with the run")
    t.add_argument("--decay-start", type=int, default=None,
                   help="epoch where linear LR decay to 0 starts (default: the paper's "
                        "proportion of --epochs; = --epochs for none)")
    t.add_argument("--batch-size", type=int, default=1, help="global batch size")
    t.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate (paper default)")
    t.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="model hyper-parameter, e.g. --set ngf=32 --set n_blocks=6")
    t.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last backup")
    t.add_argument("--force", action="store_true",
                   help="with --resume: resume even if model, data or batch size differ")
    t.add_argument("--backup-freq", default="epoch",
                   help="'epoch' or a number of steps between backups")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--skip-corrupt", action="store_true",
                   help="leave undecodable image files out (counted) instead of failing")
    t.add_argument("--jit-compile", action="store_true", help="compile the step with XLA")
    t.add_argument("--verbose", type=int, default=None, choices=(0, 1, 2),
                   help="Keras verbosity: 0 silent, 1 progress bar, 2 a line per epoch "
                        "(default: 1 on a terminal, else 2)")
    t.add_argument("--tf-log", dest="tf_log", action="store_true",
                   help="show TensorFlow's own start-up and C++ log lines")
    _add_train_evaluation_arguments(t)
    t.set_defaults(func=train)

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
    _add_quiet_arguments(r)
    r.set_defaults(func=translate)

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
    e.set_defaults(func=export)

    v = sub.add_parser("evaluate", help="score a trained model on test data (KID, FID, IS, "
                                        "PSNR, SSIM, pixel accuracy, mask IoU)")
    v.add_argument("--checkpoint", required=True,
                   help="a .keras file, a run folder (with model.keras) or a SavedModel")
    v.add_argument("--data-a", default=None,
                   help="test images of domain A: folder, tfds 'name:split' (e.g. "
                        "cycle_gan/horse2zebra:testA)")
    v.add_argument("--data-b", default=None, help="test images of domain B")
    v.add_argument("--direction", default=None, help="a2b (default: the model's first) or b2a")
    v.add_argument("--metrics", default=None,
                   help="comma-separated, from: " + ", ".join(METRICS) + " (default: "
                        "kid; + is for dagan; + psnr, mse, ssim and the maps pixel accuracy "
                        "of unit/sat with --pairs; + mask_iou with --masks)")
    v.add_argument("--pairs", default=None,
                   help="the true target of each source image, same order (paired metrics)")
    v.add_argument("--masks", default=None,
                   help="ground-truth object masks of the source images, same order "
                        "(white = object), for mask_iou")
    v.add_argument("--out", default=None,
                   help="folder for eval.json and best_worst.png (default: RUN/eval)")
    v.add_argument("--inception-weights", default=None,
                   help="imagenet (default, downloaded by Keras on first use), PATH (Keras' "
                        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5 or the reference "
                        "FID graph classify_image_graph_def.pb) or none (random init: tests "
                        "only, recorded as such)")
    v.add_argument("--feature-network", default=None,
                   help="a .keras model (or frozen .pb graph) to use instead of InceptionV3")
    v.add_argument("--image-size", type=int, default=None,
                   help="evaluate at this size (default: the model's; needed for SavedModels)")
    v.add_argument("--batch-size", type=int, default=16)
    v.add_argument("--kid-subsets", type=int, default=10)
    v.add_argument("--kid-subset-size", type=int, default=50)
    v.add_argument("--is-splits", type=int, default=10)
    v.add_argument("--grid", type=int, default=4, help="best and worst examples shown")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--verbose", type=int, default=None, choices=(0, 1, 2),
                   help="0: no progress bars, 1: progress bars, 2: also TensorFlow's own "
                        "log lines (default: progress bars on a terminal only)")
    v.set_defaults(func=evaluate)

    d = sub.add_parser("demo", help="train a small UAG on the embedded dataset")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--epochs", type=int, default=12)
    d.add_argument("--images", type=int, default=200, help="images per domain")
    d.add_argument("--batch-size", type=int, default=4)
    d.add_argument("--ngf", type=int, default=16)
    d.add_argument("--blocks", type=int, default=4)
    d.add_argument("--lr", type=_positive(float), default=2e-4)
    d.add_argument("--lambda-cycle", type=float, default=10.0)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--verbose", type=int, default=None,
                   help="Keras verbosity: 0 silent, 1 progress bar, 2 a line per epoch "
                        "(default: 1 on a terminal, else 2)")
    d.set_defaults(func=demo)

    b = sub.add_parser("bench", help="measure training-step, data-pipeline, export, "
                                     "feature-extraction speed, or translation quality")
    b.add_argument("what", choices=("train", "data", "export", "evaluate", "quality"))
    b.add_argument("--model", default="cyclegan", choices=available())
    b.add_argument("--image-size", type=int, default=None,
                   help="default 128 for train, 256 for data")
    b.add_argument("--batch-size", type=int, default=None,
                   help="default 1; 32 for evaluate")
    b.add_argument("--steps", type=_positive(int), default=None,
                   help="timed steps (train, default 10), pairs (data, default 256) or "
                        "images (evaluate, default 2000) or training steps (quality, "
                        "default 3000)")
    b.add_argument("--warmup", type=int, default=2)
    b.add_argument("--jit-compile", action="store_true")
    b.add_argument("--set", action="append", metavar="NAME=VALUE")
    b.add_argument("--folder", default=None, help="data: a folder of images to read")
    b.add_argument("--inception-weights", default=None,
                   help="evaluate: none (default: random init, same speed), imagenet or PATH")
    b.add_argument("--task", choices=("texture", "digits"), default="texture",
                   help="quality: texture (objects gain stripes, 64 px) or digits (content "
                        "kept, 32 px)")
    b.add_argument("--no-reference", dest="reference", action="store_false",
                   help="quality: skip training CycleGAN as the reference")
    b.add_argument("--seed", type=int, default=0, help="quality: data and training seed")
    b.add_argument("--lr", type=_positive(float), default=None,
                   help="quality: the model's learning rate (default: the benchmark's "
                        "choice for its budget where it has one, else the paper's)")
    b.add_argument("--log-dir", default=None,
                   help="quality: keep TensorBoard logs and sample grids here")
    b.add_argument("--json", action="store_true", help="also print the figures as JSON")
    b.add_argument("--verbose", dest="tf_log", action="store_true",
                   help="show TensorFlow's own log lines")
    b.set_defaults(func=bench)
    _show_defaults(p)
    return p


def _add_quiet_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", dest="tf_log", action="store_true",
                   help="show TensorFlow's own log lines")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show progress (default: on a terminal only)")


def _progress(verbose: int | None) -> bool:
    """Progress bars: as asked, else only when stderr is a terminal (not in logs)."""
    return sys.stderr.isatty() if verbose is None else verbose >= 1


def _import_tensorflow(show_log: bool) -> None:
    """Imports TensorFlow with its C++ log lines hidden, unless ``show_log`` or an
    explicit TF_CPP_MIN_LOG_LEVEL. TF_CPP_MIN_LOG_LEVEL=3 hides those logged after
    start-up (cuInit failures, grappler remapper notes); the lines its libraries print
    while they load ("All log messages before absl::InitializeLog() ...", oneDNN,
    cudart_stub) ignore it and go straight to file descriptor 2, so that is pointed at a
    temporary file during the import (its contents are shown if the import fails)."""
    import keras_attngan

    if "tensorflow" in sys.modules:
        return
    user_level = keras_attngan._USER_TF_LOG_LEVEL
    if user_level is not None:
        return  # the user's explicit choice
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if show_log else "3"
    if show_log:
        import tensorflow  # noqa: F401
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


def main(argv: Sequence[str] | None = None) -> Any:
    """Runs one verb; returns its results (for Python callers). User mistakes end it with
    ``attngan VERB: error: ...`` on stderr and SystemExit(2)."""
    global _VERB

    args = parser().parse_args(argv)
    _VERB = args.command + (f" {args.what}" if getattr(args, "what", None) else "")
    if getattr(args, "what", None):
        if args.what == "quality":  # the task decides the size unless --image-size says
            args.image_size = args.image_size or {"texture": 64, "digits": 32}[args.task]
        args.image_size = args.image_size or {"train": 128, "evaluate": 299}.get(args.what,
                                                                                 256)
        args.steps = args.steps or {"train": 10, "data": 256, "export": 20,
                                    "evaluate": 2000, "quality": 3000}[args.what]
        args.batch_size = args.batch_size or (32 if args.what == "evaluate" else 1)
    if getattr(args, "progress", False) is None:
        args.progress = sys.stderr.isatty()
    show_log = bool(getattr(args, "tf_log", False)) or (
        args.command == "evaluate" and (args.verbose or 0) >= 2)
    _import_tensorflow(show_log)
    from keras_attngan.data import DataError
    from keras_attngan.export import ExportCheckError
    from keras_attngan.networks.vgg import WeightsUnavailableError

    try:
        if args.command == "train" or getattr(args, "what", None) in ("train", "export",
                                                                       "quality"):
            _check_model_options(args)
        return args.func(args)
    except (DataError, FileNotFoundError, FileExistsError, ExportCheckError,
            WeightsUnavailableError) as error:
        _fail(str(error))
    finally:
        _VERB = None


def entry_point() -> None:
    """The ``attngan`` console script. ``main`` returns its verb's results to Python
    callers; a console script's ``sys.exit(main())`` would print them to stderr and exit
    with status 1, so this returns nothing: status 0 on success, 2 on a user mistake."""
    main()


if __name__ == "__main__":
    entry_point()
