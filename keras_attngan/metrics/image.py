"""Per-pixel metrics on images."""

from __future__ import annotations

import numpy as np


def _as_uint8_range(images) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] -> float64 in [0, 255]."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x.astype(np.float64)
    return (x.astype(np.float64) + 1.0) * 127.5


def pixel_accuracy(predicted, target, tolerance: float = 16.0, mode: str = "max") -> float:
    """The fraction of pixels whose colour is close to the target's, on the 0..255 scale.

    ``mode="max"``: every channel within ``tolerance`` (UNIT's map metric, 16);
    ``mode="sum"``: the channels' absolute differences summed within ``tolerance`` (SAT's,
    12). Takes uint8 [0, 255] or float [-1, 1] images of the same shape.
    """
    predicted, target = _as_uint8_range(predicted), _as_uint8_range(target)
    if predicted.shape != target.shape:
        raise ValueError(f"Shapes differ: {predicted.shape} vs {target.shape}.")
    difference = np.abs(predicted - target)
    if mode == "max":
        close = difference.max(axis=-1) <= tolerance
    elif mode == "sum":
        close = difference.sum(axis=-1) <= tolerance
    else:
        raise ValueError(f"mode must be 'max' or 'sum'; got {mode!r}.")
    return float(close.mean())


def psnr(predicted, target) -> float:
    """Peak signal-to-noise ratio in dB on the 0..255 scale."""
    predicted, target = _as_uint8_range(predicted), _as_uint8_range(target)
    mse = float(np.mean((predicted - target) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def paired_pixel_accuracy(model, inputs, targets, image_size: int, direction: str = "a2b",
                          tolerance: float = 16.0, mode: str = "max") -> float:
    """Mean ``pixel_accuracy`` of ``model``'s translations of ``inputs`` against their
    paired ``targets`` (two sources in the same order, e.g. the halves of pix2pix maps),
    both resized to ``image_size``."""
    from keras_attngan.data import unpaired

    pairs = unpaired(inputs, targets, image_size=image_size, augment=False, shuffle=False,
                     batch_size=1)
    scores = [pixel_accuracy(model.translate(x.numpy(), direction)["image"], y.numpy(),
                             tolerance, mode) for x, y in pairs]
    return float(np.mean(scores))
