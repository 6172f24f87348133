"""Per-pixel metrics on images."""

from __future__ import annotations

import numpy as np


def _as_uint8_range(images) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] -> float64 in [0, 255]."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x.astype(np.float64)
    return (x.astype(np.float64) + 1.0) * 127.5


def pixel_accuracy(predicted, target, tolerance: float = 16.0) -> float:
    """The fraction of pixels whose colour is within ``tolerance`` of the target in every
    channel (UNIT's map-translation metric, 0..255 scale). Takes uint8 [0, 255] or float
    [-1, 1] images of the same shape."""
    predicted, target = _as_uint8_range(predicted), _as_uint8_range(target)
    if predicted.shape != target.shape:
        raise ValueError(f"Shapes differ: {predicted.shape} vs {target.shape}.")
    close = np.all(np.abs(predicted - target) <= tolerance, axis=-1)
    return float(close.mean())


def psnr(predicted, target) -> float:
    """Peak signal-to-noise ratio in dB on the 0..255 scale."""
    predicted, target = _as_uint8_range(predicted), _as_uint8_range(target)
    mse = float(np.mean((predicted - target) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
