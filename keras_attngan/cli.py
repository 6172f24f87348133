"""``attngan train | translate | export | demo | bench``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Sequence

RUN_CONFIG = "run.json"


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _hparams(pairs: Sequence[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise SystemExit(f"--set takes NAME=VALUE (like ngf=32); got {pair!r}.")
        key, value = pair.split("=", 1)
        out[key.strip()] = _parse_value(value)
    return out


def _fail(message: str) -> None:
    print(f"attngan: error: {message}", file=sys.stderr)
    raise SystemExit(2)


# --------------------------------------------------------------------------- train
def train(args: argparse.Namespace) -> dict[str, Any]:
    import keras_attngan as kag

    os.makedirs(args.out, exist_ok=True)
    config_path = os.path.join(args.out, RUN_CONFIG)
    hparams = {"image_size": args.image_size, **_hparams(args.set)}
    if args.decay_start is not None:
        hparams["decay_start"] = args.decay_start
    if args.epochs is None:  # the chosen model's paper schedule
        args.epochs = kag.models.get_class(args.model).paper_epochs
    run = {"model": args.model, "hparams": hparams, "epochs": args.epochs,
           "decay_start": args.decay_start, "batch_size": args.batch_size,
           "data_a": str(args.data_a), "data_b": str(args.data_b)}
    has_backup = os.path.isdir(os.path.join(args.out, "backup"))
    if os.path.exists(config_path):
        with open(config_path) as f:
            previous = json.load(f)
        if has_backup and not args.resume:
            _fail(f"{args.out} already holds a training run; pass --resume to continue it "
                  "or choose another --out.")
        if args.resume and (previous["model"] != run["model"]
                            or previous["hparams"] != run["hparams"]):
            _fail(f"{args.out} holds a {previous['model']} run with {previous['hparams']}; "
                  f"it cannot resume as {run['model']} with {run['hparams']}. Pass the same "
                  "--model, --image-size and --set, or another --out.")
    elif args.resume:
        print(f"attngan: nothing to resume in {args.out}; starting a new run.")
    with open(config_path, "w") as f:
        json.dump(run, f, indent=2)

    # Load (and check) each side once; training and sample pipelines share the sources.
    sources = [kag.data.load_source(spec, skip_corrupt=args.skip_corrupt)
               for spec in (args.data_a, args.data_b)]
    dataset = kag.data.unpaired(
        *sources, image_size=args.image_size,
        load_size=args.load_size or round(args.image_size * 286 / 256),
        batch_size=args.batch_size, seed=args.seed,
    )
    samples = kag.data.unpaired(*sources, image_size=args.image_size, batch_size=1,
                                augment=False, shuffle=False)
    strategy = kag.training.strategy()
    with strategy.scope():
        model = kag.models.build(args.model, **hparams)
        model.compile(**({"learning_rate": args.lr} if args.lr else {}),
                      jit_compile=args.jit_compile)
    callbacks = kag.callbacks.default(
        model, args.out, samples=samples,
        backup_freq=args.backup_freq if args.backup_freq == "epoch" else int(args.backup_freq),
    )
    print(f"attngan: training {args.model} for {args.epochs} epochs of "
          f"{int(dataset.cardinality())} steps on {strategy.num_replicas_in_sync} "
          f"replica(s); run folder {args.out}")
    history = model.fit(dataset, epochs=args.epochs, callbacks=callbacks, shuffle=False,
                        verbose=args.verbose)
    model_path = os.path.join(args.out, "model.keras")
    model.save(model_path)
    print(f"attngan: model saved to {model_path}; TensorBoard: tensorboard --logdir "
          f"{args.out}; samples in {os.path.join(args.out, 'samples')}")
    return {"model": model, "history": history.history, "model_path": model_path}


# ----------------------------------------------------------------------- translate
def translate(args: argparse.Namespace) -> list[str]:
    import numpy as np
    import tensorflow as tf

    import keras_attngan as kag

    if args.checkpoint.endswith(".tflite"):
        model = _TFLiteModel(args.checkpoint)
    else:
        model = kag.models.load(args.checkpoint, compile=False)
    if os.path.isdir(args.input):
        files = kag.data.list_images(args.input)
        root = args.input
    elif os.path.isfile(args.input):
        files, root = [args.input], os.path.dirname(args.input)
    else:
        _fail(f"--input {args.input!r} is neither an image file nor a folder.")
    if not files:
        _fail(f"no images in {args.input!r}.")
    written = []
    for path in files:
        try:
            image = kag.data.decode_image(tf.io.read_file(path)).numpy()
        except tf.errors.OpError:
            print(f"attngan: skipping {path}: not a decodable image", file=sys.stderr)
            continue
        out = model.translate(image, direction=args.direction)
        stem = os.path.splitext(os.path.relpath(path, root))[0]
        target = os.path.join(args.output, stem + ".png")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        pixels = np.clip(np.round((out["image"] + 1) * 127.5), 0, 255).astype(np.uint8)
        tf.io.write_file(target, tf.io.encode_png(pixels))
        written.append(target)
        if "mask" in out:
            mask = np.clip(np.round(out["mask"] * 255), 0, 255).astype(np.uint8)
            tf.io.write_file(os.path.join(args.output, stem + "_mask.png"),
                             tf.io.encode_png(mask))
    print(f"attngan: wrote {len(written)} translation(s) to {args.output}")
    return written


class _TFLiteModel:
    """``translate`` for a .tflite translator: images are resized to its fixed input size
    and the results resized back."""

    def __init__(self, path: str):
        from keras_attngan.export import TFLiteTranslator

        self.translator = TFLiteTranslator(path)

    def translate(self, image, direction=None):
        import numpy as np
        import tensorflow as tf

        if direction not in (None, "a2b"):
            _fail("a .tflite model translates the one direction it was exported with; "
                  "drop --direction.")
        size = self.translator.image_size
        x = tf.image.resize(image.astype("float32")[None], (size, size), "bicubic")
        x = np.clip(x.numpy(), 0, 255) / 127.5 - 1.0
        out = self.translator(x)
        height, width = image.shape[:2]
        return {key: tf.image.resize(value, (height, width), "bicubic").numpy()[0]
                for key, value in out.items()}


# ---------------------------------------------------------------------------- export
def export(args: argparse.Namespace) -> dict[str, Any]:
    import keras_attngan as kag

    model = kag.models.load(args.checkpoint, compile=False)
    if args.format == "saved_model":
        path = kag.export.saved_model(
            model, args.out, directions=(args.direction,) if args.direction else None,
            max_side=args.max_side)
        print(f"attngan: SavedModel for TF Serving in {path} (signatures: "
              f"{', '.join(args.direction and [args.direction] or model.directions)}, "
              "translate_bytes, serving_default)")
        return {"path": path}
    report = kag.export.tflite(model, args.out, quantization=args.quantization,
                               image_size=args.image_size or model.image_size,
                               direction=args.direction)
    print(f"attngan: {report['quantization']} TFLite model in {args.out} "
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
    # 30 of 100 epochs, since a short run needs longer to find the object.
    model = kag.models.build("uag", image_size=64, ngf=args.ngf, ndf=args.ngf,
                             attention_ngf=args.ngf, n_blocks=args.blocks,
                             lambda_cycle=args.lambda_cycle,
                             attention_stop_epoch=max(1, args.epochs // 2),
                             decay_start=args.epochs // 2)
    model.compile(learning_rate=args.lr)
    samples = (test_a.astype("float32") / 127.5 - 1, test_b.astype("float32") / 127.5 - 1)
    callbacks = kag.callbacks.default(model, args.out, samples=samples)
    print(f"attngan demo: UAG on {len(a)}+{len(b)} generated 64 px images "
          "(A: red discs, B: blue discs, same kind of background), "
          f"{args.epochs} epochs.")
    start = time.time()
    model.fit(dataset, epochs=args.epochs, callbacks=callbacks, shuffle=False,
              verbose=args.verbose)
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
              f"{result['gflop_per_second']:.1f} GFLOP/s")
    elif args.what == "export":
        result = benchmarks.bench_export(args.model, image_size=args.image_size,
                                         runs=args.steps, **_hparams(args.set))
        for row in result["rows"]:
            print(f"{row['format']:<18} median {row['seconds']:.3f} s/image, "
                  f"{row['speedup_vs_keras']:.2f}x Keras predict"
                  + (f", {row['bytes'] / 1e6:.1f} MB" if row.get("bytes") else ""))
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
def parser() -> argparse.ArgumentParser:
    from keras_attngan.models.registry import available

    p = argparse.ArgumentParser(
        prog="attngan", description="Unpaired, attention-guided image translation GANs.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on two unpaired image sets")
    t.add_argument("--model", default="cyclegan", choices=available())
    t.add_argument("--data-a", required=True,
                   help="folder of images, tfds 'name:split' (e.g. "
                        "cycle_gan/horse2zebra:trainA)")
    t.add_argument("--data-b", required=True)
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
    t.add_argument("--lr", type=float, default=None, help="learning rate (paper default)")
    t.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="model hyper-parameter, e.g. --set ngf=32 --set n_blocks=6")
    t.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last backup")
    t.add_argument("--backup-freq", default="epoch",
                   help="'epoch' or a number of steps between backups")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--skip-corrupt", action="store_true",
                   help="leave undecodable image files out (counted) instead of failing")
    t.add_argument("--jit-compile", action="store_true", help="compile the step with XLA")
    t.add_argument("--verbose", type=int, default=1, help="Keras verbosity: 1 progress bar")
    t.set_defaults(func=train)

    r = sub.add_parser("translate", help="translate images with a trained model")
    r.add_argument("--checkpoint", required=True, help="the .keras file training wrote")
    r.add_argument("--input", required=True, help="an image file or a folder of images")
    r.add_argument("--output", required=True, help="folder for the PNG results")
    r.add_argument("--direction", default=None, help="a2b (default) or b2a")
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
    e.set_defaults(func=export)

    d = sub.add_parser("demo", help="train a small UAG on the embedded dataset")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--epochs", type=int, default=12)
    d.add_argument("--images", type=int, default=200, help="images per domain")
    d.add_argument("--batch-size", type=int, default=4)
    d.add_argument("--ngf", type=int, default=16)
    d.add_argument("--blocks", type=int, default=4)
    d.add_argument("--lr", type=float, default=2e-4)
    d.add_argument("--lambda-cycle", type=float, default=10.0)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--verbose", type=int, default=1)
    d.set_defaults(func=demo)

    b = sub.add_parser("bench", help="measure training-step or data-pipeline speed")
    b.add_argument("what", choices=("train", "data", "export"))
    b.add_argument("--model", default="cyclegan", choices=available())
    b.add_argument("--image-size", type=int, default=None,
                   help="default 128 for train, 256 for data")
    b.add_argument("--batch-size", type=int, default=1)
    b.add_argument("--steps", type=int, default=None,
                   help="timed steps (train, default 10) or pairs (data, default 256)")
    b.add_argument("--warmup", type=int, default=2)
    b.add_argument("--jit-compile", action="store_true")
    b.add_argument("--set", action="append", metavar="NAME=VALUE")
    b.add_argument("--folder", default=None, help="data: a folder of images to read")
    b.add_argument("--json", action="store_true", help="also print the figures as JSON")
    b.set_defaults(func=bench)
    return p


def main(argv: Sequence[str] | None = None) -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parser().parse_args(argv)
    if getattr(args, "what", None):
        args.image_size = args.image_size or (128 if args.what == "train" else 256)
        args.steps = args.steps or {"train": 10, "data": 256, "export": 20}[args.what]
    from keras_attngan.data import DataError
    from keras_attngan.export import ExportCheckError

    try:
        return args.func(args)
    except (DataError, FileNotFoundError, ExportCheckError) as error:
        _fail(str(error))


if __name__ == "__main__":
    main()
