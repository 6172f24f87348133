"""Scoring a trained translator on a test set: what ``attngan evaluate`` and the
during-training evaluation callback run.

One pass over the source domain's test images: each batch is translated, rounded to
uint8 (what ``attngan translate`` writes), scored against its paired target and mask
where those are given, and passed through the feature network; the real target-domain
images go through the same network. Only features, per-image scores and the few images
of the best/worst grid are kept, so memory does not grow with the test set.
"""

from __future__ import annotations

import heapq
import os
import time
import warnings
from typing import Any, Iterable, Sequence

import numpy as np
import tensorflow as tf

from keras_attngan.data.pipeline import preprocess
from keras_attngan.data.sources import DataError, Source, load_source
from keras_attngan.metrics import distribution, image
from keras_attngan.metrics.features import (
    FeatureExtractor, compute_features, describe, feature_extractor, softmax,
)

#: every metric ``evaluate`` computes, with what it needs ("unpaired": the target
#: domain's real images; "pairs": the true counterpart of each source image; "masks":
#: ground-truth object masks of the source images), and whether higher is better.
METRICS: dict[str, dict[str, Any]] = {
    "kid": {"needs": "unpaired", "higher_is_better": False,
            "label": "KID x100 (mean ± std over subsets)",
            "cite": "Bińkowski et al. 2018"},
    "fid": {"needs": "unpaired", "higher_is_better": False, "label": "FID",
            "cite": "Heusel et al. 2017"},
    "is": {"needs": "unpaired", "higher_is_better": True,
           "label": "Inception score (mean ± std over splits)",
           "cite": "Salimans et al. 2016"},
    "psnr": {"needs": "pairs", "higher_is_better": True, "label": "PSNR (dB, mean of images)",
             "cite": "AGGAN Table 2"},
    "mse": {"needs": "pairs", "higher_is_better": False,
            "label": "MSE (0..255 scale, mean of images)", "cite": "AGGAN Table 2"},
    "ssim": {"needs": "pairs", "higher_is_better": True, "label": "SSIM (mean of images)",
             "cite": "Wang et al. 2004"},
    "pixel_accuracy_unit": {"needs": "pairs", "higher_is_better": True,
                            "label": "pixel accuracy (every channel within 16)",
                            "cite": "UNIT Sec. 4 (maps)"},
    "pixel_accuracy_sat": {"needs": "pairs", "higher_is_better": True,
                           "label": "pixel accuracy (RGB difference sum <= 12)",
                           "cite": "SAT Sec. 4.3 (maps)"},
    "mask_iou": {"needs": "masks", "higher_is_better": True,
                 "label": "attention mask IoU (threshold 0.5)", "cite": ""},
}
#: metrics ranked per image, for the best/worst grid, in order of preference.
PER_IMAGE = ("pixel_accuracy_unit", "pixel_accuracy_sat", "psnr", "ssim", "mse", "mask_iou")


class EvaluationError(ValueError):
    """Evaluation inputs that cannot be used together, with what to do about it."""


def default_metrics(model_name: str | None, pairs: bool = False, masks: bool = False
                    ) -> list[str]:
    """The metrics ``evaluate`` computes unless told: KID everywhere (UAG's Table 1 and
    AGGAN's), the inception score too for DA-GAN; with pairs PSNR, MSE and SSIM, and the
    maps pixel accuracy of UNIT or SAT for those models; with masks the mask IoU."""
    chosen = ["kid"] + (["is"] if model_name == "dagan" else [])
    if pairs:
        chosen += {"unit": ["pixel_accuracy_unit"], "sat": ["pixel_accuracy_sat"]}.get(
            model_name or "", []) + ["psnr", "mse", "ssim"]
    if masks:
        chosen.append("mask_iou")
    return chosen


# ------------------------------------------------------------------------- models
class SavedModelTranslator:
    """``translate`` for a SavedModel that ``kag.export.saved_model`` wrote (one
    signature per direction: uint8 images in, uint8 "image" and float "mask" out)."""

    def __init__(self, path: str):
        self.path = path
        self._loaded = tf.saved_model.load(path)
        self.signatures = {k: v for k, v in self._loaded.signatures.items()
                           if k in ("a2b", "b2a")}
        if not self.signatures:
            raise EvaluationError(
                f"The SavedModel at {path!r} has no a2b/b2a signatures (it has "
                f"{sorted(self._loaded.signatures)}), so it is not a translator that "
                "keras_attngan exported.")
        self.directions = tuple(d for d in ("a2b", "b2a") if d in self.signatures)
        first = self.signatures[self.directions[0]]
        self.has_attention = "mask" in first.structured_outputs
        self.image_size = None
        self.size_multiple = 4

    def translate(self, images, direction: str | None = None, batch_size: int = 8
                  ) -> dict[str, np.ndarray]:
        """Translates float images in [-1, 1] through the SavedModel's signature for
        ``direction``, as ``TranslationGAN.translate`` does."""
        direction = direction or self.directions[0]
        if direction not in self.signatures:
            raise EvaluationError(f"The SavedModel translates {self.directions}; got "
                                  f"direction={direction!r}.")
        x = np.asarray(images)
        if x.dtype != np.uint8:
            x = np.clip(np.round((x.astype(np.float32) + 1.0) * 127.5), 0, 255).astype(
                np.uint8)
        out = self.signatures[direction](images=tf.constant(x))
        result = {"image": out["image"].numpy().astype(np.float32) / 127.5 - 1.0}
        if "mask" in out:
            result["mask"] = out["mask"].numpy()
        return result


def load_translator(path: str) -> tuple[Any, dict[str, Any]]:
    """(translator, description) from a ``.keras`` file, a run folder holding
    ``model.keras``, or a SavedModel folder (``saved_model.pb``)."""
    from keras_attngan.models import registry

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model at {path!r}: pass a .keras file, a run folder "
                                "(with model.keras) or a SavedModel folder.")
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            model = SavedModelTranslator(path)
            return model, {"path": path, "format": "saved_model",
                           "directions": list(model.directions),
                           "has_attention": model.has_attention}
        keras_file = os.path.join(path, "model.keras")
        if not os.path.exists(keras_file):
            raise FileNotFoundError(
                f"{path!r} holds neither model.keras (a run folder) nor saved_model.pb (a "
                "SavedModel); pass the .keras file or the export folder.")
        path = keras_file
    try:
        model = registry.load(path, compile=False)
    except ValueError as error:
        raise EvaluationError(str(error)) from error
    return model, {"path": path, "format": "keras", **describe_model(model)}


def describe_model(model) -> dict[str, Any]:
    """What reports record about a model given as an object."""
    from keras_attngan.models import registry

    try:
        name = registry.name_of(model)
    except ValueError:
        name = None
    return {"name": name, "class": type(model).__name__,
            "image_size": getattr(model, "image_size", None),
            "directions": list(getattr(model, "directions", ())),
            "has_attention": bool(getattr(model, "has_attention", False))}


# -------------------------------------------------------------------------- data
def _source(spec, what: str) -> Source:
    try:
        return load_source(spec)
    except DataError as error:
        raise DataError(f"{what}: {error}") from error


def _images(source: Source, size: int) -> tf.data.Dataset:
    """uint8 images resized to ``size`` (bicubic, as training's evaluation mode)."""
    def prepare(x):
        x = preprocess(x, None, size, size, augment=False)
        return tf.cast(tf.round((x + 1.0) * 127.5), tf.uint8)

    return source.images().map(prepare, num_parallel_calls=tf.data.AUTOTUNE)


def _mask_source(spec, what: str = "masks") -> Source:
    """Masks: an array (N, H, W) / (N, H, W, 1) of floats in [0, 1] or uint8, or any image
    source (folder of mask images: white = object)."""
    if isinstance(spec, np.ndarray) and spec.ndim in (3, 4) and (
            spec.ndim == 3 or spec.shape[-1] == 1):
        masks = spec if spec.ndim == 4 else spec[..., None]
        if masks.dtype != np.uint8:
            if np.isnan(masks).any() or masks.min() < 0 or masks.max() > 1:
                raise EvaluationError("Float masks must lie in [0, 1] without NaN.")
            masks = np.round(masks * 255).astype(np.uint8)
        spec = np.ascontiguousarray(np.repeat(masks, 3, axis=-1))
    return _source(spec, what)


def _masks(source: Source, size: int) -> tf.data.Dataset:
    def prepare(x):
        x = tf.image.resize(tf.cast(x[..., :1], tf.float32) / 255.0, (size, size),
                            "bilinear")
        return tf.clip_by_value(x, 0.0, 1.0)

    return source.images().map(prepare, num_parallel_calls=tf.data.AUTOTUNE)


def _describe_source(source: Source) -> dict[str, Any]:
    return {"source": source.description, "images": source.size}


def real_image_features(data, image_size: int, network: FeatureExtractor | Any = None,
                  batch_size: int = 16, progress: bool = True,
                  weights: str | None = "imagenet") -> dict[str, np.ndarray]:
    """Features of real images (any source ``unpaired`` takes) resized to
    ``image_size`` and rounded to uint8, as ``evaluate`` treats the translations."""
    source = _source(data, "real images")
    with warnings.catch_warnings():  # evaluate's notes say it
        warnings.filterwarnings("ignore", message="Resizing .* for the feature network")
        return compute_features(_images(source, image_size).batch(batch_size),
                                feature_extractor(network, weights), batch_size,
                                progress=progress, total=source.size)


# --------------------------------------------------------------------------- grid
def _mask_picture(mask: np.ndarray) -> np.ndarray:
    """A mask (H, W, 1) in [0, 1] as a grey uint8 image (H, W, 3)."""
    pixels = np.clip(np.round(np.asarray(mask, np.float32) * 255), 0, 255).astype(np.uint8)
    return np.repeat(pixels, 3, axis=-1)


def _grid(rows: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Rows of equally sized uint8 images (H, W, 3) -> one picture."""
    return np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)


class _Extremes:
    """The ``k`` best and worst examples by one score, kept as they stream past."""

    def __init__(self, k: int, higher_is_better: bool):
        self.k, self.sign = k, 1.0 if higher_is_better else -1.0
        self.best: list = []
        self.worst: list = []

    def add(self, score: float, index: int, columns: Sequence[np.ndarray]) -> None:
        if not np.isfinite(score) and score < 0:  # nan or -inf: rank as worst
            score = -np.inf
        good = self.sign * score
        item = (good, -index, index, [c.copy() for c in columns])
        (heapq.heappush if len(self.best) < self.k else heapq.heappushpop)(self.best, item)
        item = (-good, index, index, [c.copy() for c in columns])
        (heapq.heappush if len(self.worst) < self.k else heapq.heappushpop)(self.worst, item)

    def rows(self) -> tuple[list, list]:
        best = sorted(self.best, reverse=True)
        worst = sorted(self.worst, reverse=True)
        return best, worst


# ----------------------------------------------------------------------- evaluate
def evaluate(model, data_a, data_b, direction: str | None = None,
             metrics: Sequence[str] | None = None, pairs=None, masks=None,
             network: FeatureExtractor | Any = None, weights: str | None = "imagenet",
             image_size: int | None = None, batch_size: int = 16, kid_subsets: int = 10,
             kid_subset_size: int = 50, is_splits: int = 10, seed: int = 0,
             grid: int = 4, progress: bool = True, model_info: dict | None = None,
             real_features: dict[str, np.ndarray] | None = None,
             option: str = "weights") -> dict[str, Any]:
    """Translates the source domain's test images once and scores the translations.

    ``model``: a keras_attngan model or anything with ``translate(images, direction)``
    (a ``SavedModelTranslator``). ``data_a``, ``data_b``: each domain's test images, as
    ``kag.data.unpaired`` takes them; ``direction`` "a2b" translates A and compares with
    the real B (default: the model's first direction). ``pairs``: the true translation
    of each source image, same order (for PSNR, MSE, SSIM, pixel accuracies); ``masks``:
    ground-truth object masks of the source images (for ``mask_iou``). Everything is
    resized to ``image_size`` (default: the model's training size) and rounded to uint8.

    ``metrics``: names from ``METRICS`` (default ``default_metrics``). The feature
    network (KID, FID, IS) is ``network`` or InceptionV3 with ``weights``; features of
    the real target images are passed in ``real_features`` to reuse them.

    Returns a report: {"metrics", "model", "data", "feature_network", "sizes", "seed",
    "seconds", "notes", "per_image" (scores per source image), "grid" (uint8 picture of
    the ``grid`` best then worst examples by the first paired metric, or None)}.
    """
    if not hasattr(model, "translate"):
        raise EvaluationError(
            f"A {type(model).__name__} is not a translator: pass a keras_attngan model "
            "(kag.models.load), a SavedModel export or anything with "
            "translate(images, direction).")
    if getattr(model, "n_domains", 0):
        raise EvaluationError(
            f"evaluate scores two-domain translators; {type(model).__name__} translates to "
            "one of its domains: score model.translate(images, target_domain=k) against "
            "domain k's real images with kag.metrics.kid_from_features, per domain.")
    directions = tuple(getattr(model, "directions", ("a2b",)))
    direction = direction or directions[0]
    if direction not in directions:
        raise EvaluationError(f"The model translates {directions}; got direction="
                              f"{direction!r}.")
    info = dict(model_info or describe_model(model))
    model_name = info.get("name")
    metrics = list(metrics) if metrics else default_metrics(model_name, pairs is not None,
                                                            masks is not None)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise EvaluationError(f"Unknown metric(s) {', '.join(unknown)}; known: "
                              f"{', '.join(METRICS)}.")
    if any(METRICS[m]["needs"] == "pairs" for m in metrics) and pairs is None:
        needing = [m for m in metrics if METRICS[m]["needs"] == "pairs"]
        raise EvaluationError(f"{', '.join(needing)} compare each translation with its true "
                              "counterpart: pass the paired targets (pairs=, --pairs DIR), "
                              "in the order of the source images.")
    if "mask_iou" in metrics:
        if masks is None:
            raise EvaluationError("mask_iou needs ground-truth masks of the source images "
                                  "(masks=, --masks DIR).")
        if not getattr(model, "has_attention", False):
            raise EvaluationError(f"mask_iou needs a model with attention masks (uag, "
                                  f"aggan, sat, dagan); {info.get('class')} gives none.")
    size = image_size or getattr(model, "image_size", None)
    if not size:
        raise EvaluationError("This model does not say its image size (a SavedModel): pass "
                              "image_size= (--image-size).")
    if size % getattr(model, "size_multiple", 1):
        raise EvaluationError(f"image_size={size} is not a multiple of "
                              f"{model.size_multiple}, which the model's strides need.")
    if "ssim" in metrics and size < 11:
        raise EvaluationError(f"SSIM's 11x11 window does not fit in {size} px images.")
    sides = {"a": data_a, "b": data_b}
    source_side, target_side = direction[0], direction[-1]
    source = _source(sides[source_side], f"data_{source_side}")
    needs_real = any(METRICS[m]["needs"] == "unpaired" and m != "is" for m in metrics)
    target = _source(sides[target_side], f"data_{target_side}") \
        if needs_real and real_features is None else None
    paired = _source(pairs, "pairs") if pairs is not None else None
    mask_source = _mask_source(masks) if masks is not None else None
    for name, other in (("pairs", paired), ("masks", mask_source)):
        if other is not None and other.size != source.size:
            raise EvaluationError(
                f"{name} has {other.size} images but the source domain "
                f"({source.description}) has {source.size}: {name} must hold one per "
                "source image, in the same order.")
    n_real = target.size if target is not None else (
        len(real_features["features"]) if real_features is not None else None)
    if "kid" in metrics:
        short = [f"{what} has {n}" for what, n in (("the source set", source.size),
                                                   ("the target set", n_real))
                 if n is not None and n < kid_subset_size]
        if short:
            raise EvaluationError(
                f"KID draws subsets of {kid_subset_size} images from each set, but "
                f"{' and '.join(short)}: pass more test images or a smaller "
                "kid_subset_size (--kid-subset-size).")
    if "is" in metrics and source.size < is_splits:
        raise EvaluationError(f"The inception score splits the {source.size} translations "
                              f"into {is_splits} parts: pass more images or is_splits<="
                              f"{source.size} (--is-splits).")

    start = time.time()
    notes: list[str] = []
    feature_metrics = [m for m in metrics if METRICS[m]["needs"] == "unpaired"]
    extractor = feature_extractor(network, weights, option=option) if feature_metrics \
        else None
    outputs = (["features"] if needs_real else []) + (["logits"] if "is" in metrics else [])
    if extractor is not None and extractor.image_size and extractor.image_size != size:
        notes.append(f"images at {size} px are resized to {extractor.image_size} px "
                     f"(bilinear) for the feature network")

    # --------------------------------------------------------- one pass, streamed
    parts = [_images(source, size)]
    if paired is not None:
        parts.append(_images(paired, size))
    if mask_source is not None:
        parts.append(_masks(mask_source, size))
    stream = tf.data.Dataset.zip(tuple(parts)).batch(batch_size).prefetch(2)
    per_image: dict[str, list[np.ndarray]] = {
        m: [] for m in metrics if METRICS[m]["needs"] in ("pairs", "masks")}
    ranked = next((m for m in PER_IMAGE if m in per_image), None)
    extremes = _Extremes(grid, METRICS[ranked]["higher_is_better"]) \
        if ranked and grid else None

    def translations() -> Iterable[np.ndarray]:
        index = 0
        for batch in stream:
            x = batch[0].numpy()
            truth = batch[1].numpy() if paired is not None else None
            true_masks = batch[-1].numpy() if mask_source is not None else None
            out = model.translate(x, direction)
            fake = np.clip(np.round((out["image"] + 1.0) * 127.5), 0, 255).astype(np.uint8)
            scores = {}
            if paired is not None:
                for m in per_image:
                    if m == "psnr":
                        scores[m] = image.psnr(fake, truth, per_image=True)
                    elif m == "mse":
                        scores[m] = image.mse(fake, truth, per_image=True)
                    elif m == "ssim":
                        scores[m] = image.ssim(fake, truth, per_image=True)
                    elif m == "pixel_accuracy_unit":
                        scores[m] = image.pixel_accuracy(fake, truth, image.UNIT_TOLERANCE,
                                                         "max", per_image=True)
                    elif m == "pixel_accuracy_sat":
                        scores[m] = image.pixel_accuracy(fake, truth, image.SAT_TOLERANCE,
                                                         "sum", per_image=True)
            if "mask_iou" in per_image:
                if "mask" not in out:
                    raise EvaluationError("The model returned no attention mask.")
                scores["mask_iou"] = image.mask_iou(out["mask"], true_masks,
                                                    per_image=True)
            for m, values in scores.items():
                per_image[m].append(np.asarray(values, np.float64))
            if extremes is not None:
                for i in range(len(x)):
                    columns = [x[i], fake[i]]
                    if truth is not None:
                        columns.append(truth[i])
                    if "mask" in out:
                        columns.append(_mask_picture(out["mask"][i]))
                    if true_masks is not None:
                        columns.append(_mask_picture(true_masks[i]))
                    extremes.add(float(scores[ranked][i]), index + i, columns)
            index += len(x)
            yield fake

    if progress:
        print(f"attngan evaluate: translating {source.size} image(s) {direction}"
              + (f" and computing {', '.join(outputs)} with {extractor.description}"
                 if extractor is not None else ""))
    if extractor is not None and outputs:
        with warnings.catch_warnings():  # the notes say it
            warnings.filterwarnings("ignore", message="Resizing .* for the feature network")
            fake_features = compute_features(translations(), extractor, batch_size,
                                             progress=progress, total=source.size,
                                             outputs=outputs)
    else:
        count = sum(len(batch) for batch in translations())
        fake_features = {}
        if count == 0:
            raise EvaluationError("The source set is empty.")
    if needs_real and real_features is None:
        if progress:
            print(f"attngan evaluate: features of {target.size} real image(s) of domain "
                  f"{target_side.upper()}")
        real_features = real_image_features(target, size, extractor, batch_size, progress)

    # ---------------------------------------------------------------- the figures
    results: dict[str, dict[str, Any]] = {}
    for m in metrics:
        if m == "kid":
            mean, std = distribution.kid_from_features(
                real_features["features"], fake_features["features"], kid_subsets,
                kid_subset_size, seed)
            results[m] = {"mean": mean, "std": std, "x100_mean": 100 * mean,
                          "x100_std": 100 * std, "subsets": kid_subsets,
                          "subset_size": kid_subset_size}
        elif m == "fid":
            results[m] = {"value": distribution.fid_from_features(
                real_features["features"], fake_features["features"])}
        elif m == "is":
            mean, std = distribution.inception_score(softmax(fake_features["logits"]),
                                                     is_splits)
            results[m] = {"mean": mean, "std": std, "splits": is_splits}
        else:
            values = np.concatenate(per_image[m])
            finite = values[np.isfinite(values)]
            results[m] = {"mean": float(finite.mean()) if len(finite) else float("inf"),
                          "std": float(finite.std()) if len(finite) else 0.0,
                          "images": int(len(values))}
            if len(finite) < len(values):
                results[m]["identical_images"] = int(len(values) - len(finite))
                notes.append(f"{m}: {len(values) - len(finite)} translation(s) equal their "
                             "target (infinite PSNR), left out of the mean")
        results[m]["label"] = METRICS[m]["label"]

    report: dict[str, Any] = {
        "metrics": results,
        "model": info,
        "direction": direction,
        "data": {"source": _describe_source(source),
                 "target": _describe_source(target) if target is not None else
                 ({"source": "precomputed features", "images": n_real}
                  if n_real is not None else None),
                 "pairs": _describe_source(paired) if paired is not None else None,
                 "masks": _describe_source(mask_source) if mask_source is not None
                 else None},
        "feature_network": describe(extractor) if extractor is not None else None,
        "sizes": {"image_size": int(size), "translated": int(source.size),
                  "real": n_real, "batch_size": batch_size},
        "seed": seed,
        "seconds": time.time() - start,
        "notes": notes,
        "per_image": {m: np.concatenate(v).tolist() for m, v in per_image.items()},
        "grid": None,
        "grid_ranked_by": ranked if extremes is not None else None,
        "real_features": real_features,
    }
    if extremes is not None and extremes.best:
        best, worst = extremes.rows()
        top, bottom = _grid([item[3] for item in best]), _grid([item[3] for item in worst])
        line = np.full((2,) + top.shape[1:], 255, np.uint8)  # between best and worst
        report["grid"] = np.concatenate([top, line, bottom])
        scores = report["per_image"][ranked]
        report["grid_rows"] = [{"rank": rank, "index": item[2], ranked: scores[item[2]]}
                               for rank, items in (("best", best), ("worst", worst))
                               for item in items]
    return report


def format_table(report: dict[str, Any]) -> str:
    """The report's figures as a text table: metric | value | definition."""
    rows = []
    for name, result in report["metrics"].items():
        if name == "kid":
            value = f"{result['x100_mean']:.4g} ± {result['x100_std']:.3g}"
            extra = f"{result['subsets']} subsets of {result['subset_size']}"
        elif name == "fid":
            value, extra = f"{result['value']:.5g}", ""
        elif name == "is":
            value = f"{result['mean']:.4g} ± {result['std']:.3g}"
            extra = f"{result['splits']} splits"
        else:
            scale = 100 if name.startswith("pixel_accuracy") else 1
            unit = "%" if scale == 100 else ""
            value = f"{scale * result['mean']:.4g}{unit} ± {scale * result['std']:.3g}{unit}"
            extra = f"{result['images']} images"
        rows.append((name, value, result["label"] + (f"; {extra}" if extra else "")))
    width = [max(len(r[i]) for r in rows + [("metric", "value", "")]) for i in range(2)]
    lines = [f"{'metric':<{width[0]}}  {'value':<{width[1]}}  definition",
             f"{'-' * width[0]}  {'-' * width[1]}  {'-' * 10}"]
    lines += [f"{a:<{width[0]}}  {b:<{width[1]}}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its arrays (grid, cached features), for ``eval.json``."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (np.floating, float)):
            v = float(value)
            return v if np.isfinite(v) else str(v)
        if isinstance(value, np.integer):
            return int(value)
        return value

    return clean({k: v for k, v in report.items() if k not in ("grid", "real_features")})
