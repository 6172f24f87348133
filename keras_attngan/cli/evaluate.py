"""``attngan evaluate``: scores a trained model on test data (KID, FID, IS, PSNR, SSIM,
pixel accuracy, mask IoU); prints a table and writes ``eval.json``."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from keras_attngan.cli.common import fail_verb, inception_weights, show_progress
from keras_attngan.cli.names import METRIC_NAMES


def add_parser(sub) -> None:
    """The ``evaluate`` sub-command and its options."""
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
                   help="comma-separated, from: " + ", ".join(METRIC_NAMES) + " (default: "
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
    v.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """``attngan evaluate``: scores a trained model on test data; prints a table and
    writes ``eval.json`` (and the best/worst grid) into ``--out``."""
    from keras_attngan.data import DataError
    from keras_attngan.metrics import EvaluationError
    from keras_attngan.networks.vgg import WeightsUnavailableError

    try:
        return _evaluate(args)
    except (DataError, EvaluationError, FileNotFoundError, WeightsUnavailableError,
            ValueError, TypeError) as error:
        fail_verb("evaluate", str(error))


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    import keras_attngan as kag
    from keras_attngan.metrics import scoring

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] \
        if args.metrics else None
    unknown = [m for m in metrics or () if m not in scoring.METRICS]
    if unknown:  # before loading anything
        fail_verb("evaluate", f"unknown metric(s) {', '.join(unknown)}; known: "
                               f"{', '.join(scoring.METRICS)}.")
    model, info = scoring.load_translator(args.checkpoint)
    direction = args.direction or model.directions[0]
    if direction not in model.directions:
        fail_verb("evaluate", f"the model translates {', '.join(model.directions)}; got "
                               f"--direction {direction}.")
    source_side, target_side = direction[0], direction[-1]
    data = {"a": args.data_a, "b": args.data_b}
    if data[source_side] is None:
        fail_verb("evaluate", f"{direction} translates domain {source_side.upper()}: pass "
                               f"its test images with --data-{source_side}.")
    chosen = metrics or scoring.default_metrics(info.get("name"), args.pairs is not None,
                                                args.masks is not None)
    distribution_metrics = [m for m in chosen if scoring.METRICS[m]["needs"] == "unpaired"]
    if data[target_side] is None and [m for m in distribution_metrics if m != "is"]:
        fail_verb("evaluate", f"{', '.join(distribution_metrics)} compare the translations "
                               f"with real images of domain {target_side.upper()}: pass "
                               f"--data-{target_side}, or choose --metrics without them.")
    if args.feature_network and args.inception_weights is not None:
        fail_verb("evaluate", "--feature-network replaces InceptionV3; drop "
                               "--inception-weights.")
    out = args.out or os.path.join(
        os.path.dirname(info["path"]) if info["format"] == "keras" else ".", "eval")
    report = scoring.evaluate(
        model, args.data_a, args.data_b, direction=direction, metrics=chosen,
        pairs=args.pairs, masks=args.masks, network=args.feature_network,
        weights=inception_weights(args.inception_weights), option="--inception-weights",
        image_size=args.image_size,
        batch_size=args.batch_size, kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size, is_splits=args.is_splits, seed=args.seed,
        grid=args.grid, progress=show_progress(args.verbose), model_info=info)
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
