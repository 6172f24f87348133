"""build(name, **hparams) and load(path) for every model in the package."""

from __future__ import annotations

import inspect
import json
import os
import tempfile
import zipfile
from typing import Any

import keras

from keras_attngan.models.base import TranslationGAN
from keras_attngan.models.aggan import AGGAN
from keras_attngan.models.aggan_multidomain import AGGANMultiDomain
from keras_attngan.models.cyclegan import CycleGAN
from keras_attngan.models.dagan import DAGAN
from keras_attngan.models.sat import SAT
from keras_attngan.models.uag import UAG
from keras_attngan.models.unit import UNIT
from keras_attngan.models.unit_da import UNITDA

MODELS: dict[str, type[TranslationGAN]] = {
    "aggan": AGGAN,
    "aggan_multidomain": AGGANMultiDomain,
    "cyclegan": CycleGAN,
    "dagan": DAGAN,
    "sat": SAT,
    "uag": UAG,
    "unit": UNIT,
    "unit_da": UNITDA,
}


def available() -> list[str]:
    """The registered model names, sorted."""
    return sorted(MODELS)


def get_class(name: str) -> type[TranslationGAN]:
    """The model class registered as ``name``; ValueError listing the names if unknown."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise ValueError(
            f"Unknown model {name!r}; available models: {', '.join(available())}."
        ) from None


def name_of(model: TranslationGAN) -> str:
    """The registry name of ``model``'s class."""
    for name, cls in MODELS.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not a registered keras_attngan model.")


def build(name: str, precision: str | None = None, **hparams) -> TranslationGAN:
    """A model with its paper's defaults; keyword arguments override them.
    ``precision``: "float32", "bfloat16", "float16" or "auto" (``models/precision.py``;
    ``compile`` keeps it unless given another).

    Build (and compile) inside ``strategy.scope()`` to train under tf.distribute.
    """
    cls = get_class(name)
    known = hyperparameters(cls)
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        raise TypeError(
            f"Bad hyper-parameter for {name!r}: {', '.join(unknown)}. Known: "
            f"{', '.join(known)}."
        )
    check_hyperparameters(cls, hparams)
    model = cls(**hparams)
    if precision is not None:
        from keras_attngan.models.precision import set_for

        set_for(model, precision)
    return model


def _accepts(annotation: str, value: Any) -> bool | None:
    """Whether ``value`` fits a parameter annotated ``annotation`` (a string under
    ``from __future__ import annotations``); None when the annotation is not one of the
    simple kinds checked here."""
    kinds = [part.strip() for part in annotation.split("|")]
    checks = {
        "None": lambda v: v is None,
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
    }
    result = False
    for kind in kinds:
        base = kind.split("[", 1)[0]
        if base in checks:
            result = result or checks[base](value)
        elif base in ("tuple", "list", "Sequence"):
            result = result or isinstance(value, (tuple, list))
        else:
            return None
    return result


def check_hyperparameters(cls: type[TranslationGAN], hparams: dict[str, Any]) -> None:
    """Raises ``TypeError`` naming the parameter, its expected type and the value given
    when a hyper-parameter's value is of the wrong type (``ngf="abc"``, ``ngf=3.5``)."""
    annotations: dict[str, str] = {}
    for klass in reversed(cls.__mro__[: cls.__mro__.index(keras.Model)]):
        for parameter in inspect.signature(klass.__init__).parameters.values():
            if parameter.annotation is not inspect.Parameter.empty:
                annotations[parameter.name] = str(parameter.annotation)
    for name, value in hparams.items():
        annotation = annotations.get(name)
        if annotation and _accepts(annotation, value) is False:
            raise TypeError(
                f"Hyper-parameter {name} of {cls.__name__} takes {annotation}; got "
                f"{value!r} ({type(value).__name__})."
            )


def hyperparameters(cls: type[TranslationGAN]) -> list[str]:
    """The keyword arguments a model class takes (its own and its bases'), and "name"."""
    names: list[str] = []
    for klass in cls.__mro__[: cls.__mro__.index(keras.Model)]:
        for parameter in inspect.signature(klass.__init__).parameters.values():
            if parameter.name == "self" or parameter.kind in (
                    parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if parameter.name not in names and parameter.name not in ("loss_names",
                                                                      "mask_domains"):
                names.append(parameter.name)
    return names + ["name"]


def load(path: str | os.PathLike, compile: bool = True) -> TranslationGAN:
    """Loads a model saved with ``model.save("....keras")``, optimiser state included."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No model file at {path!r}. Pass the .keras file that training wrote "
            "(runs/NAME/model.keras)."
        )
    if not path.endswith(".keras"):
        raise ValueError(f"{path!r} is not a .keras model file.")
    if os.path.isdir(path) or not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a readable .keras model file: a .keras file is a zip "
            "archive, and this is not one (truncated, corrupt, or another format)."
        )
    try:
        model = _load(path, compile)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(
            f"{path!r} is not a readable .keras model file (truncated or corrupt?): "
            f"{error}"
        ) from error
    if not isinstance(model, TranslationGAN):
        raise ValueError(
            f"{path!r} holds a {type(model).__name__}, not a keras_attngan model."
        )
    return model


def _load(path: str, compile: bool):
    """``keras.saving.load_model`` for files in today's layout; files that an earlier
    release wrote are rebuilt from their config and their weights upgraded
    (``models/formats.py``)."""
    from keras_attngan.models.formats import FORMAT_VERSION, upgrade_weights

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        if config.get("config", {}).get("format_version") == FORMAT_VERSION:
            return keras.saving.load_model(path, compile=compile)
        cls = keras.saving.get_registered_object(config.get("registered_name", ""))
        if cls is None or not issubclass(cls, TranslationGAN):
            return keras.saving.load_model(path, compile=compile)
        model = cls.from_config(config["config"])
        if compile and config.get("compile_config"):
            model.compile_from_config(config["compile_config"])
        with tempfile.TemporaryDirectory() as tmp:
            weights = os.path.join(tmp, "model.weights.h5")
            with open(weights, "wb") as f:
                f.write(archive.read("model.weights.h5"))
            upgrade_weights(model, weights, shown_as=path)
    return model
