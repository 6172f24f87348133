"""``attngan train``: parses the options and calls ``keras_attngan.training.run.train``,
which holds what a run is (its folder, resume checks, backups)."""

from __future__ import annotations

import argparse
from typing import Any

from keras_attngan.cli.common import fail, inception_weights, parse_set, positive
from keras_attngan.cli.names import MODEL_NAMES, PRECISIONS


def add_parser(sub) -> None:
    """The ``train`` sub-command and its options."""
    t = sub.add_parser("train", help="train a model on two unpaired image sets")
    t.add_argument("--model", default="cyclegan", choices=MODEL_NAMES)
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
    t.add_argument("--lr", type=positive(float), default=None,
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
    t.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="float32 (default), bfloat16 or float16 (mixed precision: 16-bit "
                        "convolutions, float32 weights), or auto: bfloat16 where the "
                        "hardware runs it fast (GPU of compute capability 8.0+, CPU with "
                        "AMX or AVX512-BF16), else float32")
    t.add_argument("--verbose", type=int, default=None, choices=(0, 1, 2),
                   help="Keras verbosity: 0 silent, 1 progress bar, 2 a line per epoch "
                        "(default: 1 on a terminal, else 2)")
    t.add_argument("--tf-log", dest="tf_log", action="store_true",
                   help="show TensorFlow's own start-up and C++ log lines")
    _add_evaluation_arguments(t)
    t.set_defaults(func=run)


def _add_evaluation_arguments(t: argparse.ArgumentParser) -> None:
    g = t.add_argument_group("evaluation during training (KID or FID on held-out images)")
    g.add_argument("--eval-data-a", default=None,
                   help="held-out images of domain A (as --data-a); turns evaluation on")
    g.add_argument("--eval-data-b", default=None, help="held-out images of domain B")
    g.add_argument("--eval-every", type=positive(int), default=None,
                   help="epochs between evaluations (default 1 with --eval-data-a/b)")
    g.add_argument("--eval-metric", choices=("kid", "fid"), default="kid")
    g.add_argument("--eval-direction", default=None, help="default: the model's first")
    g.add_argument("--inception-weights", default=None,
                   help="imagenet (default, downloaded by Keras), PATH (Keras .h5 or the "
                        "reference classify_image_graph_def.pb) or none (random init, "
                        "tests only)")
    g.add_argument("--eval-feature-network", default=None,
                   help="a .keras model to use as the feature network instead")
    g.add_argument("--kid-subset-size", type=positive(int), default=50)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Trains, or resumes, the run in ``--out``; returns {"model", "history",
    "model_path"}."""
    from keras_attngan.training.run import RunError, train

    callbacks = _evaluation_callbacks(args)
    try:
        return train(args.out, args.model, args.data_a, args.data_b, args.data,
                     image_size=args.image_size, load_size=args.load_size,
                     epochs=args.epochs, decay_start=args.decay_start,
                     batch_size=args.batch_size, learning_rate=args.lr,
                     hparams=parse_set(args.set), resume=args.resume, force=args.force,
                     backup_freq=args.backup_freq, seed=args.seed,
                     skip_corrupt=args.skip_corrupt, jit_compile=args.jit_compile,
                     precision=args.precision, verbose=args.verbose, callbacks=callbacks)
    except RunError as error:
        fail(str(error))


def _evaluation_callbacks(args: argparse.Namespace) -> list:
    """``PeriodicEvaluation`` when the --eval-* options ask for it."""
    held_out = (args.eval_data_a, args.eval_data_b)
    if not any(held_out):
        if args.eval_every:
            fail("--eval-every needs held-out images: --eval-data-a and --eval-data-b.")
        return []
    if not all(held_out):
        fail("evaluation during training compares translations with real images of the "
             "other domain: pass both --eval-data-a and --eval-data-b.")
    if args.eval_feature_network and args.inception_weights is not None:
        fail("--eval-feature-network replaces InceptionV3; drop --inception-weights.")
    from keras_attngan.training.evaluation import PeriodicEvaluation

    callback = PeriodicEvaluation(
        args.eval_data_a, args.eval_data_b, every=args.eval_every or 1,
        metric=args.eval_metric, direction=args.eval_direction, log_dir=args.out,
        network=args.eval_feature_network, weights=inception_weights(
            args.inception_weights), option="--inception-weights",
        kid_subset_size=args.kid_subset_size, seed=args.seed or 0)
    print(f"attngan: held-out {args.eval_metric.upper()} every {callback.every} epoch(s) "
          f"with {callback.extractor.description}; best model -> {callback.best_path}")
    return [callback]
