"""The ``attngan`` parser, ``main`` and the console script. Each verb lives in its own
module (``train``, ``translate``, ``export``, ``evaluate``, ``demo``, ``bench``), which
adds its sub-command and runs it."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

from keras_attngan.cli import bench, common, demo, evaluate, export, train, translate
from keras_attngan.cli.names import MODEL_NAMES

VERBS = (train, translate, export, evaluate, demo, bench)


def available() -> tuple[str, ...]:
    """The registered model names (``--model``'s choices)."""
    return MODEL_NAMES


def parser() -> argparse.ArgumentParser:
    """The ``attngan`` argument parser, every verb included; building it does not
    import TensorFlow."""
    p = argparse.ArgumentParser(
        prog="attngan", description="Unpaired, attention-guided image translation GANs.")
    sub = p.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.add_parser(sub)
    _show_defaults(p)
    return p


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


def _fill_bench_defaults(args: argparse.Namespace) -> None:
    """``bench``'s defaults depend on what it measures."""
    if args.what == "quality":  # the task decides the size unless --image-size says
        args.image_size = args.image_size or {"texture": 64, "digits": 32}[args.task]
    args.image_size = args.image_size or {"train": 128, "evaluate": 299}.get(args.what, 256)
    args.steps = args.steps or {"train": 10, "data": 256, "export": 20,
                                "evaluate": 2000, "quality": 3000}[args.what]
    args.batch_size = args.batch_size or (32 if args.what == "evaluate" else 1)


def main(argv: Sequence[str] | None = None) -> Any:
    """Runs one verb; returns its results (for Python callers). User mistakes end it with
    ``attngan VERB: error: ...`` on stderr and SystemExit(2)."""
    args = parser().parse_args(argv)
    what = getattr(args, "what", None)
    common.set_verb(args.command + (f" {what}" if what else ""))
    if what:
        _fill_bench_defaults(args)
    if getattr(args, "progress", False) is None:
        args.progress = sys.stderr.isatty()
    show_log = bool(getattr(args, "tf_log", False)) or (
        args.command == "evaluate" and (args.verbose or 0) >= 2)
    _import_tensorflow(show_log)
    from keras_attngan.data import DataError
    from keras_attngan.export import ExportCheckError
    from keras_attngan.networks.vgg import WeightsUnavailableError

    try:
        if args.command == "train" or what in ("train", "export", "quality"):
            common.check_model_options(args)
        return args.func(args)
    except (DataError, FileNotFoundError, FileExistsError, ExportCheckError,
            WeightsUnavailableError) as error:
        common.fail(str(error))
    finally:
        common.set_verb(None)


def entry_point() -> None:
    """The ``attngan`` console script. ``main`` returns its verb's results to Python
    callers; a console script's ``sys.exit(main())`` would print them to stderr and exit
    with status 1, so this returns nothing: status 0 on success, 2 on a user mistake."""
    main()
