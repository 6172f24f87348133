"""``attngan bench quality --suite tuning|held-out``: a model trained on each variant of
the task family (``benchmarks.family``) with each seed, beside CycleGAN on the same
budget, scored with the family's ground truth; one row per variant (the mean over seeds,
with min and max), then the mean and the worst variant.

Settings are chosen on the ``tuning`` suite; the ``held-out`` suite, with seeds tuning
never used (``HELD_OUT_SEEDS``), is what is reported.

Texture figures, per image and over the set:

- ``background_psnr``: PSNR outside the objects (dilated by 2 px), the mean of the
  images' dB (capped at 60); ``background_ok``: the fraction of images at >= 35 dB (a
  mean of dB hides a third of the images repainted), and ``background_pooled``: one
  PSNR of all background pixels together;
- ``objects_textured``: the fraction of objects with the variant's texture (fixed
  detectors: ``family.is_textured``); ``raw_textured``, for a model with a mask: the
  same in its generator's raw output, before the mask blends it with the input (which
  tells a generator that has not learnt the texture from a mask that dilutes it);
- ``mask_iou``: the mean per-image IoU of the mask at 0.5 with the objects, over the
  images that have an object (object-free images are judged by ``empty_*``);
- ``empty_psnr``, ``empty_ok``: the same as the background's, on object-free images.

Digit figures: the accuracy on real target digits of a classifier trained on the
translated source with the source labels, the mean over ``CLASSIFIER_SEEDS`` classifier
seeds; beside it "no translation", the "perfect" translation and the target itself.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import keras
import numpy as np

from keras_attngan.benchmarks import family, tasks
from keras_attngan.benchmarks.quality import (
    PSNR_CAP, TASK_IMAGE_SIZE, TEXTURE_TARGETS, TRAIN_IMAGES, TEST_IMAGES, _hparams,
    _mask_history, _psnr_where, _uint8, train_on_task,
)
from keras_attngan.models import get_class

#: seeds the tuning never used: the held-out suite's default
HELD_OUT_SEEDS = (100, 101)
TUNING_SEEDS = (0, 1)
CLASSIFIER_SEEDS = (0, 1, 2)
OK_PSNR = 35.0  # dB: an image counted as kept
#: each figure's aggregate across variants: the worst is the lowest
FIGURES = {"texture": ("background_psnr", "background_ok", "background_pooled",
                       "objects_textured", "raw_textured", "mask_iou", "empty_psnr",
                       "empty_ok"),
           "digits": ("accuracy", "no_translation", "perfect_translation", "target_trained")}


def _pooled_psnr(outputs, inputs, wheres) -> float:
    squared = sum(float(((o.astype(np.float64) - i.astype(np.float64))[w] ** 2).sum())
                  for o, i, w in zip(outputs, inputs, wheres))
    count = sum(int(w.sum()) for w in wheres)
    mse = squared / max(count, 1)
    return PSNR_CAP if mse <= 255.0 ** 2 * 10 ** (-PSNR_CAP / 10) else \
        float(10 * np.log10(255.0 ** 2 / mse))


def _with_object(masks: np.ndarray) -> np.ndarray:
    """Which of the object ``masks`` (N, H, W) in [0, 1] hold an object at the IoU's
    threshold of 0.5. The mask IoU is taken over those images only: an empty mask on an
    object-free image counts 1, so a mask that never fires would earn the share of such
    images (a third of tune-spots-photo's); the object-free figures judge them."""
    return masks.reshape(len(masks), -1).max(axis=1) > 0.5


def score_texture(v: family.TextureVariant, test: np.ndarray, translated: np.ndarray,
                  objects: list[list[np.ndarray]], empty: np.ndarray,
                  empty_out: np.ndarray, masks: np.ndarray | None = None,
                  raw: np.ndarray | None = None) -> dict[str, Any]:
    """The texture figures (module docstring) of uint8 ``translated`` test images,
    ``objects`` their per-object masks, ``empty_out`` the translated object-free
    images, ``masks`` the model's attention masks and ``raw`` its generator's uint8 raw
    outputs (None: not an attention model)."""
    background, wheres, textured, raw_textured = [], [], [], []
    for i, (x, y, parts) in enumerate(zip(test, translated, objects)):
        union = np.zeros(x.shape[:2], bool)
        for part in parts:
            union |= part > 0.0
            textured.append(family.is_textured(v, y, part))
            if raw is not None:
                raw_textured.append(family.is_textured(v, raw[i], part))
        where = np.broadcast_to(~tasks.dilate(union, 2)[..., None], y.shape)
        wheres.append(where)
        background.append(_psnr_where(y, x, where))
    whole = [np.ones(x.shape, bool) for x in empty]
    empty_psnr = [_psnr_where(y, x, w) for x, y, w in zip(empty, empty_out, whole)]
    scores = {
        "background_psnr": float(np.mean(background)),
        "background_ok": float(np.mean(np.array(background) >= OK_PSNR)),
        "background_pooled": _pooled_psnr(translated, test, wheres),
        "objects_textured": float(np.mean(textured)) if textured else None,
        "raw_textured": float(np.mean(raw_textured)) if raw_textured else None,
        "empty_psnr": float(np.mean(empty_psnr)),
        "empty_ok": float(np.mean(np.array(empty_psnr) >= OK_PSNR)),
        "mask_iou": None,
    }
    if masks is not None:
        from keras_attngan.metrics import mask_iou

        truth = np.stack([np.maximum.reduce(parts) if parts else np.zeros(x.shape[:2])
                          for x, parts in zip(test, objects)]).astype(np.float32)
        with_object = _with_object(truth)
        chosen = with_object if with_object.any() else np.ones_like(with_object)
        scores["mask_iou"] = float(mask_iou(np.asarray(masks, np.float32)[chosen],
                                            truth[chosen]))
    return scores


def _classifier_accuracy(train, labels, test, test_labels) -> float:
    """The mean over ``CLASSIFIER_SEEDS`` of a digit classifier's accuracy."""
    from keras_attngan.metrics import domain_adaptation_accuracy

    values = []
    for seed in CLASSIFIER_SEEDS:
        keras.utils.set_random_seed(seed)
        values.append(domain_adaptation_accuracy(train, labels, test, test_labels))
    return float(np.mean(values))


def mask_probe(task: dict[str, Any], v, size: int, count: int = 32
               ) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` training A images of a texture ``task`` that hold an object (as
    the test IoU counts them), centre-cropped to ``size``, and their object masks: where
    a run's mask is followed epoch by epoch."""
    j = v.jitter // 2
    crops = task["a_masks"][:, j:j + size, j:j + size]
    chosen = np.flatnonzero(_with_object(crops))[:count]
    return task["a"][chosen, j:j + size, j:j + size], crops[chosen]


def run_variant(model: str, v, seed: int, steps: int, batch_size: int = 1,
                verbose: int = 0, learning_rate: float | None = None,
                precision: str | None = None, **hparams) -> dict[str, Any]:
    """``model`` trained ``steps`` steps on variant ``v`` with ``seed`` (in ``precision``,
    ``compile``'s; None: float32), and its scores."""
    kind = "texture" if isinstance(v, family.TextureVariant) else "digits"
    size = int(hparams.pop("image_size", None) or TASK_IMAGE_SIZE[kind])
    settings = _hparams(model, size, hparams)
    start = time.perf_counter()
    if kind == "texture":
        task = family.texture_task(v, TRAIN_IMAGES, TEST_IMAGES, size, seed)
        callbacks = []
        if get_class(model).has_attention:  # where the mask goes, epoch by epoch, on
            # training images: a diagnosis, never a choice made on the test
            from keras_attngan.training.callbacks import MaskIoU

            callbacks.append(MaskIoU(*mask_probe(task, v, size)))
        net, history = train_on_task(model, task["a"], task["b"], steps, batch_size, seed,
                                     verbose=verbose, learning_rate=learning_rate,
                                     callbacks=callbacks, precision=precision, **settings)
        seconds = time.perf_counter() - start
        # the generator's output before the mask: UAG's and SAT's "raw", AGGAN's content
        options = {"return_content": True} if model == "aggan" else {}
        out = net.translate(task["test"], direction="a2b", batch_size=16, **options)
        raw = out.get("raw", out.get("content"))
        empty_out = net.translate(task["empty"], direction="a2b", batch_size=16)["image"]
        scores = score_texture(v, task["test"], _uint8(out["image"]), task["test_objects"],
                               task["empty"], _uint8(empty_out),
                               np.asarray(out["mask"])[..., 0] if "mask" in out else None,
                               None if raw is None else _uint8(raw))
    else:
        a, _ = family.digit_images(v, "a", TRAIN_IMAGES, size, seed)
        b, _ = family.digit_images(v, "b", TRAIN_IMAGES, size, seed)
        source, source_labels = family.digit_images(v, "a", 1000, size, seed + 1000)
        target, target_labels = family.digit_images(v, "b", 1000, size, seed + 2000)
        net, history = train_on_task(model, a, b, steps, batch_size, seed, verbose=verbose,
                                     augment=False, learning_rate=learning_rate,
                                     precision=precision, **settings)
        seconds = time.perf_counter() - start
        translated = _uint8(net.translate(source, direction="a2b", batch_size=64)["image"])
        perfect, _ = family.digit_images(v, "a", 1000, size, seed + 1000, style="b")
        scores = {
            "accuracy": _classifier_accuracy(translated, source_labels, target,
                                             target_labels),
            "no_translation": _classifier_accuracy(source, source_labels, target,
                                                   target_labels),
            "perfect_translation": _classifier_accuracy(perfect, source_labels, target,
                                                        target_labels),
            "target_trained": _classifier_accuracy(target[:500], target_labels[:500],
                                                   target[500:], target_labels[500:]),
        }
    return {"model": model, "variant": v.name, "seed": seed, "train_seconds": seconds,
            "learning_rate": net.base_learning_rates["generator"],
            "precision": net.resolved_precision, **scores,
            "mask_history": _mask_history(history)}


def summarise(runs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Per variant: each figure's mean, min and max over the seeds; over the suite: the
    mean of the variants' means and the worst variant's mean."""
    by_variant: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == name]
        row = {}
        for figure in FIGURES[kind]:
            values = [r[figure] for r in mine if r.get(figure) is not None]
            if values:
                row[figure] = {"mean": float(np.mean(values)), "min": float(np.min(values)),
                               "max": float(np.max(values))}
        by_variant[name] = row
    suite = {}
    for figure in FIGURES[kind]:
        means = [row[figure]["mean"] for row in by_variant.values() if figure in row]
        if means:
            suite[figure] = {"mean": float(np.mean(means)), "worst": float(np.min(means))}
    return {"variants": by_variant, "suite": suite}


def bench_suite(model: str = "uag", task: str = "texture", suite: str = "held-out",
                seeds: tuple[int, ...] | None = None, steps: int = 3000,
                batch_size: int = 1, reference: bool = True, verbose: int = 0,
                learning_rate: float | None = None, variant_names: tuple[str, ...] = (),
                on_run: Callable[[dict[str, Any]], None] | None = None,
                precision: str | None = None, **hparams) -> dict[str, Any]:
    """Trains ``model`` (and CycleGAN, with ``reference``) on every ``task`` variant of
    ``suite`` ("tuning" or "held-out", or only ``variant_names``) with each of ``seeds``
    (default: ``TUNING_SEEDS`` or ``HELD_OUT_SEEDS``) and summarises the scores.
    ``on_run`` is given each run's scores as soon as it finishes (a suite takes hours).
    ``precision``: every model's (``compile``'s; None: float32)."""
    chosen = family.variants(task, suite)
    if variant_names:
        chosen = tuple(family.variant(name) for name in variant_names)
    seeds = tuple(seeds or (TUNING_SEEDS if suite == "tuning" else HELD_OUT_SEEDS))
    models = [model] + (["cyclegan"] if reference and model != "cyclegan" else [])
    runs: dict[str, list] = {name: [] for name in models}
    for v in chosen:
        for seed in seeds:
            for name in models:
                given = hparams if name == model else {}
                rate = learning_rate if name == model else None
                runs[name].append(run_variant(name, v, seed, steps, batch_size, verbose,
                                              rate, precision, **given))
                if on_run is not None:
                    on_run(runs[name][-1])
    return {"task": task, "suite": suite, "seeds": list(seeds), "steps": steps,
            "batch_size": batch_size, "runs": runs,
            "summary": {name: summarise(r, task) for name, r in runs.items()}}


def format_run(run: dict[str, Any]) -> str:
    """One line for one finished run: its figures and, for a model with attention, where
    the mask was on the training images at the end (objects / background)."""
    kind = "texture" if "mask_iou" in run else "digits"
    figures = ", ".join(f"{f} {run[f]:.2f}" for f in FIGURES[kind] if run.get(f) is not None)
    line = (f"{run['model']} {run['variant']} seed {run['seed']}: {figures}; "
            f"trained in {run['train_seconds']:.0f} s, {run.get('precision', 'float32')}")
    history = run.get("mask_history") or {}
    objects, background = history.get("mask_objects_a"), history.get("mask_background_a")
    if objects and background:
        line += f"; mask at the end {objects[-1]:.2f} on objects / {background[-1]:.2f} off"
    return line


def format_suite(result: dict[str, Any]) -> str:
    """The suite's table, as ``attngan bench quality --suite`` prints it."""
    kind = result["task"]
    figures = FIGURES[kind]
    lines = [f"quality suite {result['suite']}, {kind} task family, {result['steps']} steps at "
             f"batch {result['batch_size']}, seeds {result['seeds']}; each cell: mean "
             "[min, max] over the seeds"]
    for name, summary in result["summary"].items():
        lines.append(f"{name}:")
        lines.append(f"  {'variant':<26}" + "".join(f"{f:>26}" for f in figures))
        for variant, row in summary["variants"].items():
            cells = "".join(
                f"{'-':>26}" if f not in row else
                f"{row[f]['mean']:>10.2f} [{row[f]['min']:.2f}, {row[f]['max']:.2f}]".rjust(26)
                for f in figures)
            lines.append(f"  {variant:<26}{cells}")
        for what in ("mean", "worst"):
            cells = "".join(f"{summary['suite'][f][what]:>26.2f}" if f in summary["suite"]
                            else f"{'-':>26}" for f in figures)
            lines.append(f"  {what:<26}{cells}")
    if kind == "texture":
        t = TEXTURE_TARGETS
        lines.append(f"targets (mean over variants and seeds): background >= "
                     f"{t['background_psnr']:g} dB with >= 0.9 of images >= {OK_PSNR:g} dB, "
                     f"textured >= {t['objects_textured']:g}, mask IoU >= {t['mask_iou']:g}, "
                     f"empty >= {t['empty_psnr']:g} dB; no variant below 0.7 textured or "
                     "0.5 IoU")
    return "\n".join(lines)
