"""Images as the models take them: float32 RGB batches in [-1, 1]."""

from __future__ import annotations

import numpy as np


def to_model_range(images) -> tuple[np.ndarray, bool]:
    """uint8 [0, 255] or float [-1, 1] images -> float32 RGB batch in [-1, 1]."""
    x = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"Expected an image (H, W, C) or a batch (N, H, W, C); got shape {x.shape}."
        )
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"Expected 1 (grayscale), 3 (RGB) or 4 (RGBA) channels; got {x.shape[-1]} in "
            f"shape {x.shape}. Channels go last."
        )
    if 0 in x.shape:
        raise ValueError(f"Got an empty image batch of shape {x.shape}.")
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif x.shape[-1] == 4:
        x = x[..., :3]
    if x.dtype == np.uint8:
        return x.astype("float32") / 127.5 - 1.0, single
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"Images must be uint8 in [0, 255] or float in [-1, 1]; got dtype {x.dtype}."
        )
    if x.size and (np.nanmin(x) < -1.001 or np.nanmax(x) > 1.001):
        raise ValueError(
            f"Float images must lie in [-1, 1]; these span [{np.nanmin(x):.3g}, "
            f"{np.nanmax(x):.3g}]. Pass uint8 images for 0..255 data."
        )
    return x.astype("float32"), single
