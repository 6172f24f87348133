"""What every verb shares: the ``attngan VERB: error:`` exit, ``--set`` parsing, checks of
the model options, progress and the model loader."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Sequence


def parse_value(text: str) -> Any:
    """A --set value: JSON (32, 0.5, true, null, [1, 2]), Python's True / False / None,
    else the text itself."""
    python = {"True": True, "False": False, "None": None}
    if text.strip() in python:
        return python[text.strip()]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_set(pairs: Sequence[str]) -> dict[str, Any]:
    """--set NAME=VALUE pairs as a dict (values as ``parse_value`` reads them)."""
    out = {}
    for pair in pairs or ():
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            fail(f"--set takes NAME=VALUE (like ngf=32); got {pair!r}.")
        key, value = pair.split("=", 1)
        out[key.strip()] = parse_value(value)
    return out


#: the verb main() is running, for the "attngan VERB: error:" prefix.
_verb: str | None = None


def set_verb(verb: str | None) -> None:
    """Names the verb that ``fail`` puts in its prefix (None: plain ``attngan``)."""
    global _verb
    _verb = verb


def fail(message: str) -> None:
    """A user mistake: ``attngan VERB: error: MESSAGE`` on stderr, exit status 2 (the
    convention of argparse's own errors)."""
    prefix = f"attngan {_verb}" if _verb else "attngan"
    print(f"{prefix}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def positive(kind: type) -> Callable[[str], Any]:
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


def check_model_options(args: argparse.Namespace) -> None:
    """--model, --set and --image-size checked before any work (train, bench train and
    export): unknown hyper-parameters, values of the wrong type and sizes the model's
    strides cannot take end the command with what is allowed."""
    import keras_attngan as kag
    from keras_attngan.models.registry import check_hyperparameters, hyperparameters

    cls = kag.models.get_class(args.model)
    hparams = parse_set(args.set)
    known = hyperparameters(cls)
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        close = close_matches(unknown, known)
        fail(f"--set: {args.model} has no hyper-parameter {', '.join(unknown)}"
              + (f" (did you mean {', '.join(close)}?)" if close else "")
              + f". Known: {', '.join(n for n in known if n != 'name')}.")
    try:
        check_hyperparameters(cls, hparams)
    except TypeError as error:
        fail(f"--set: {error}")
    if "image_size" in hparams:
        fail("set the image size with --image-size, not --set image_size=...")
    size = args.image_size
    if size is not None and (size < 1 or size % cls.size_multiple):
        fail(f"--image-size {size}: {args.model} needs a positive multiple of "
              f"{cls.size_multiple} (its networks' strides); e.g. "
              f"{max(cls.size_multiple, size - size % cls.size_multiple)} or "
              f"{size + (-size) % cls.size_multiple}.")


def close_matches(words: Sequence[str], known: Sequence[str]) -> list[str]:
    """The known names closest to the unknown ``words`` (for "did you mean")."""
    import difflib

    return sorted({m for w in words for m in difflib.get_close_matches(w, known, n=1)})


def fail_verb(verb: str, message: str) -> None:
    """``attngan VERB: error: MESSAGE`` for a verb other than the running one; exit 2."""
    print(f"attngan {verb}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def inception_weights(value: str | None) -> str | None:
    """--inception-weights: "imagenet", "none" (random init, tests only) or a path."""
    if value is None or value == "imagenet":
        return "imagenet"
    return None if value.lower() == "none" else value


def show_progress(verbose: int | None) -> bool:
    """Progress bars: as asked, else only when stderr is a terminal (not in logs)."""
    return sys.stderr.isatty() if verbose is None else verbose >= 1


def load_model(path: str):
    """``kag.models.load`` with the CLI's messages: a missing or unreadable checkpoint
    ends the command with exit status 2."""
    import keras_attngan as kag

    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "model.keras")):
        path = os.path.join(path, "model.keras")  # a run folder
    try:
        return kag.models.load(path, compile=False)
    except (FileNotFoundError, ValueError) as error:
        fail(f"--checkpoint: {error}")
