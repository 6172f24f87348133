"""What a training run is: a folder that holds its options (``run.json``), its backups,
its logs, sample grids and final model; how it starts, and how it resumes without
losing progress or mixing two runs.

``train(out, model, data_a, data_b, ...)`` is ``attngan train`` for Python callers, with
the same guarantees: a run folder that holds a run is never overwritten; ``resume=True``
continues from the last backup (inside an epoch too) and is refused when the model, its
hyper-parameters, the batch size, the learning rate or the data differ (``force=True``
resumes anyway); a start that fails before its first backup leaves no half-made folder.
A refusal raises ``RunError``, whose message names the option to change.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any, Mapping, Sequence

#: the run's options, in its folder
RUN_CONFIG = "run.json"
#: what must match for a backup to continue a run (the number of epochs may grow)
RESUME_KEYS = ("model", "hparams", "batch_size", "lr", "data_a", "data_b", "data")


class RunError(ValueError):
    """A run that cannot start or resume as asked; the message says what to change."""


def data_key(spec: Any) -> str | None:
    """A data option as ``run.json`` records it: an existing path made absolute (the same
    folder given another way is the same data), anything else (a tfds name) as given."""
    if spec is None:
        return None
    spec = str(spec)
    return os.path.abspath(spec) if os.path.exists(spec) else spec


def read_config(out: str) -> dict[str, Any] | None:
    """The options a run folder was started with (``run.json``), or None."""
    path = os.path.join(out, RUN_CONFIG)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def differences(previous: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    """What differs between a folder's ``run.json`` and the run asked for now, in the
    keys that must match to resume (data paths compared as absolute paths)."""
    previous = dict(previous)
    previous.update({key: data_key(previous[key]) for key in ("data_a", "data_b", "data")
                     if key in previous})
    return [f"{key}: {previous.get(key)!r} there, {run.get(key)!r} now"
            for key in RESUME_KEYS if previous.get(key) != run.get(key)]


def train(
    out: str,
    model: str = "cyclegan",
    data_a: Any = None,
    data_b: Any = None,
    data: Any = None,
    *,
    image_size: int = 256,
    load_size: int | None = None,
    epochs: int | None = None,
    decay_start: int | None = None,
    batch_size: int = 1,
    learning_rate: float | None = None,
    hparams: Mapping[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    backup_freq: int | str = "epoch",
    seed: int | None = None,
    skip_corrupt: bool = False,
    jit_compile: bool | str = False,
    precision: str | None = None,
    verbose: int | None = None,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Trains (or, with ``resume``, continues) the run in folder ``out``.

    ``model`` is a registry name; ``data_a`` / ``data_b`` are what ``kag.data.unpaired``
    takes (a folder, a tfds ``name:split``); ``data`` is the one folder of domains of
    ``aggan_multidomain``. ``epochs`` defaults to the model's paper epochs, the learning
    rate to the paper's. ``precision``: "float32" (None), "bfloat16", "float16" or "auto"
    (``models/precision.py``); a run may resume in another precision (the weights are
    float32 in every one), except into or out of float16 (its optimisers keep a loss
    scale). ``backup_freq``: "epoch" or a number of steps between backups.
    ``callbacks`` are added to the package's defaults (``kag.callbacks.default``).

    Returns {"model", "history", "model_path"}; ``model`` is None when the folder's run
    had already trained ``epochs`` epochs. Raises ``RunError`` for a run that cannot
    start or resume as asked.
    """
    import keras_attngan as kag
    from keras_attngan.training.callbacks import (
        BackupError, RunBackup, publish_pending_grids, publish_pending_scalars,
    )

    cls = kag.models.get_class(model)
    multidomain = getattr(cls, "needs_domain_labels", False)
    if multidomain and (data is None or data_a or data_b):
        raise RunError(f"--model {model} trains on one folder of domains: pass --data DIR "
                       "(one sub-folder per domain), not --data-a/--data-b.")
    if not multidomain and (data_a is None or data_b is None or data):
        raise RunError(f"--model {model} trains on two unpaired sets: pass --data-a and "
                       "--data-b" + (" (--data is for aggan_multidomain)." if data else "."))
    hparams = {"image_size": image_size, **dict(hparams or {})}
    if decay_start is not None:
        hparams["decay_start"] = decay_start
    if epochs is None:  # the chosen model's paper schedule
        epochs = cls.paper_epochs
    if epochs < 1:
        raise RunError(f"--epochs must be at least 1; got {epochs}.")
    backup_freq = _backup_freq(backup_freq)
    config_path = os.path.join(out, RUN_CONFIG)
    backup_dir = os.path.join(out, "backup")
    run = {"model": model, "hparams": hparams, "epochs": epochs,
           "decay_start": decay_start, "batch_size": batch_size,
           "lr": learning_rate, "data_a": data_key(data_a), "data_b": data_key(data_b),
           "precision": precision or "float32"}
    if multidomain:
        run["data"] = data_key(data)
    try:
        latest = RunBackup.read_latest(backup_dir)
    except BackupError as error:
        raise RunError(str(error)) from None
    previous = read_config(out)
    if previous is not None:
        if latest is not None and not resume:
            raise RunError(f"{out} already holds a training run; pass --resume to continue "
                           "it or choose another --out.")
        differs = differences(previous, run)
        if resume and differs and not force:
            raise RunError(f"{out} holds another run; it cannot resume with these options ("
                           + "; ".join(differs) + "). Pass the options it was started "
                           "with, another --out, or --force to resume anyway.")
        before = previous.get("precision") or "float32"
        if latest is not None and resume and \
                (before == "float16") != (run["precision"] == "float16"):
            # float16's optimisers carry a loss scale, the others' do not
            raise RunError(f"{out} trained in {before} precision; its optimiser state "
                           f"cannot resume in {run['precision']} (float16 keeps a loss scale "
                           f"the others do not): pass --precision {before}"
                           + (" or bfloat16." if before == "float32" else "."))
    elif resume:
        print(f"attngan: nothing to resume in {out}; starting a new run.")
    if latest is not None and resume:
        if latest["epoch"] >= epochs:
            # what the last process left pending belongs to finished epochs
            publish_pending_grids(os.path.join(out, "samples"), out, latest["epoch"])
            publish_pending_scalars(out, latest["epoch"])
            print(f"attngan: {out} has trained {latest['epoch']} epoch(s) already; "
                  f"pass --epochs above {latest['epoch']} to train more.")
            return {"model": None, "history": {},
                    "model_path": os.path.join(out, "model.keras")}
        print(f"attngan: resuming at epoch {latest['epoch'] + 1}"
              + (f", batch {latest['batch'] + 1}" if latest["batch"] else "")
              + f" of {epochs} from {backup_dir}")
        if previous is not None and previous.get("epochs") != epochs:
            print(f"attngan: note: this run was started for {previous.get('epochs')} epochs "
                  f"and now goes to {epochs}: its schedule is resolved for {epochs} (scaled "
                  "switches and the learning-rate decay move with the run's length; set "
                  "them explicitly to keep them where they were).")

    dataset, samples = _datasets(cls, model, hparams, data_a, data_b, data, image_size,
                                 load_size, batch_size, seed, skip_corrupt)
    strategy = kag.training.strategy()
    with strategy.scope():
        try:
            gan = kag.models.build(model, **hparams)
        except (ValueError, TypeError) as error:  # a constructor's refusal names the option
            raise RunError(f"--set: {error}") from None
        try:
            gan.compile(**({"learning_rate": learning_rate} if learning_rate else {}),
                        jit_compile=jit_compile, precision=precision)
        except ValueError as error:  # names the option
            raise RunError(str(error)) from None
    try:
        gan.start_schedule(epochs)  # a schedule the run cannot reach is refused
    except ValueError as error:
        raise RunError(str(error)) from None
    created = not os.path.isdir(out)
    os.makedirs(out, exist_ok=True)
    try:
        with open(config_path, "w") as f:
            json.dump(run, f, indent=2)
        all_callbacks = kag.callbacks.default(gan, out, samples=samples,
                                              backup_freq=backup_freq)
        all_callbacks += list(callbacks)
        print(f"attngan: training {model} for {epochs} epochs of "
              f"{int(dataset.cardinality())} steps on {strategy.num_replicas_in_sync} "
              f"replica(s); run folder {out}")
        try:
            if verbose is None:
                verbose = 1 if sys.stdout.isatty() else 2
            history = gan.fit(dataset, epochs=epochs, callbacks=all_callbacks,
                              shuffle=False, verbose=verbose)
        except BackupError as error:  # a damaged backup, or one of another model
            raise RunError(str(error)) from None
    except BaseException:
        # a start that failed before its first backup leaves no half-made run folder
        if created and not os.path.exists(os.path.join(backup_dir, RunBackup.LATEST)):
            shutil.rmtree(out, ignore_errors=True)
        raise
    model_path = os.path.join(out, "model.keras")
    gan.save(model_path)
    print(f"attngan: model saved to {model_path}; TensorBoard: tensorboard --logdir "
          f"{out}; samples in {os.path.join(out, 'samples')}")
    return {"model": gan, "history": history.history, "model_path": model_path}


def _backup_freq(value: int | str) -> int | str:
    if value == "epoch":
        return value
    if not str(value).isdigit() or int(value) < 1:
        raise RunError(f"--backup-freq takes 'epoch' or a positive number of steps; got "
                       f"{value!r}.")
    return int(value)


def _datasets(cls, model: str, hparams: dict[str, Any], data_a, data_b, data,
              image_size: int, load_size: int | None, batch_size: int, seed: int | None,
              skip_corrupt: bool):
    """The training dataset and four fixed sample inputs per side. Each side is loaded
    (and checked) once; training and sample pipelines share the sources."""
    import keras_attngan as kag

    load_size = load_size or round(image_size * 286 / 256)
    if getattr(cls, "needs_domain_labels", False):
        _, domain_labels, domain_names = kag.data.domain_files(data)
        n_domains = hparams.get("n_domains", 8)
        if len(domain_names) != n_domains:
            raise RunError(f"{data} holds {len(domain_names)} domains "
                           f"({', '.join(domain_names)}), but the model has {n_domains}: "
                           f"pass --set n_domains={len(domain_names)}.")
        print(f"attngan: domains {', '.join(f'{i}={n}' for i, n in enumerate(domain_names))}")
        dataset = kag.data.multidomain(data, image_size=image_size, load_size=load_size,
                                       batch_size=batch_size, seed=seed, n_domains=n_domains)
        # four fixed inputs (shuffled once: the folders are sorted by domain)
        first = next(iter(kag.data.multidomain(data, image_size=image_size, batch_size=4,
                                               augment=False, seed=0)))
        return dataset, (first[0].numpy(), first[0].numpy())
    data_options = {}
    if cls.trains_with_source_labels(hparams):  # class sub-folders or a labelled split
        try:
            images_a, labels_a = kag.data.load_labelled(data_a, image_size)
        except kag.data.DataError as error:
            raise RunError(f"--model {model} trains on labelled A images: {error}") from None
        n_classes = hparams.get("n_classes", 10)
        if int(labels_a.max()) >= n_classes:
            raise RunError(f"{data_a} holds labels up to {int(labels_a.max())}, but the "
                           f"model classifies {n_classes} classes: pass --set n_classes="
                           f"{int(labels_a.max()) + 1}.")
        # no crops or flips: a mirrored digit is another digit
        data_options = dict(labels_a=labels_a, augment=False)
        sources = [kag.data.load_source(images_a),
                   kag.data.load_source(data_b, skip_corrupt=skip_corrupt)]
    else:
        sources = [kag.data.load_source(spec, skip_corrupt=skip_corrupt)
                   for spec in (data_a, data_b)]
    dataset = kag.data.unpaired(*sources, image_size=image_size, load_size=load_size,
                                batch_size=batch_size, seed=seed, **data_options)
    samples = kag.data.unpaired(*sources, image_size=image_size, batch_size=1,
                                augment=False, shuffle=False)
    return dataset, samples
