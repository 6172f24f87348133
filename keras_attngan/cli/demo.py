"""``attngan demo``: trains a small UAG on the embedded demo dataset and shows what it
learned (a before/after grid, how far the discs moved toward B's colour)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from keras_attngan.cli.common import positive


def add_parser(sub) -> None:
    """The ``demo`` sub-command and its options."""
    d = sub.add_parser("demo", help="train a small UAG on the embedded dataset")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--epochs", type=int, default=12)
    d.add_argument("--images", type=int, default=200, help="images per domain")
    d.add_argument("--batch-size", type=int, default=4)
    d.add_argument("--ngf", type=int, default=16)
    d.add_argument("--blocks", type=int, default=4)
    d.add_argument("--lr", type=positive(float), default=2e-4)
    d.add_argument("--lambda-cycle", type=float, default=10.0)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--verbose", type=int, default=None,
                   help="Keras verbosity: 0 silent, 1 progress bar, 2 a line per epoch "
                        "(default: 1 on a terminal, else 2)")
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Trains the demo UAG, writes its grid and model, and prints what it learned."""
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
