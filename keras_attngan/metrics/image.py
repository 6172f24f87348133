"""Paired per-pixel metrics (a translation against its true counterpart) and mask IoU.

Images are uint8 in [0, 255] or float in [-1, 1], one image (H, W, C) or a batch
(N, H, W, C), compared on the 0..255 scale. ``per_image=True`` returns one value per
image (a numpy array), which is what ``attngan evaluate`` averages and ranks; without it
each function returns one float over the whole set, as stated in its docstring.
"""

from __future__ import annotations

import numpy as np

#: tolerances of the maps pixel accuracies: UNIT (Liu et al. 2017, Sec. 4): a pixel is
#: right when every channel is within 16 of the true map; SAT (Yang et al. 2018, Sec. 4.3):
#: when the channels' absolute differences add up to at most 12.
UNIT_TOLERANCE, SAT_TOLERANCE = 16.0, 12.0


def _as_uint8_range(images) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] -> float64 in [0, 255]."""
    x = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if x.dtype == np.uint8:
        return x.astype(np.float64)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"Images must be uint8 in [0, 255] or float in [-1, 1]; got dtype "
                        f"{x.dtype}.")
    if np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"Integer images must be uint8 in [0, 255]; got dtype {x.dtype}.")
    if x.size and (np.isnan(x).any() or x.min() < -1.001 or x.max() > 1.001):
        raise ValueError("Float images must lie in [-1, 1] without NaN; these span "
                         f"[{np.nanmin(x):.3g}, {np.nanmax(x):.3g}]. Pass uint8 images for "
                         "0..255 data.")
    return (x.astype(np.float64) + 1.0) * 127.5


def _pair(predicted, target) -> tuple[np.ndarray, np.ndarray]:
    predicted, target = _as_uint8_range(predicted), _as_uint8_range(target)
    if predicted.shape != target.shape:
        raise ValueError(f"Shapes differ: {predicted.shape} vs {target.shape}; compare "
                         "each translation with its own target at the same size.")
    if predicted.ndim == 3:
        predicted, target = predicted[None], target[None]
    if predicted.ndim != 4:
        raise ValueError(f"Expected an image (H, W, C) or a batch (N, H, W, C); got shape "
                         f"{predicted.shape}.")
    if 0 in predicted.shape:
        raise ValueError(f"Got empty images of shape {predicted.shape}.")
    return predicted, target


def pixel_accuracy(predicted, target, tolerance: float = UNIT_TOLERANCE, mode: str = "max",
                   per_image: bool = False):
    """The fraction of pixels whose colour is close to the target's, on the 0..255 scale.

    ``mode="max"``: every channel within ``tolerance`` (UNIT's map metric, 16);
    ``mode="sum"``: the channels' absolute differences summed within ``tolerance`` (SAT's,
    12). Over a set: the fraction of all pixels (images of one size weigh the same).
    """
    predicted, target = _pair(predicted, target)
    difference = np.abs(predicted - target)
    if mode == "max":
        close = difference.max(axis=-1) <= tolerance
    elif mode == "sum":
        close = difference.sum(axis=-1) <= tolerance
    else:
        raise ValueError(f"mode must be 'max' or 'sum'; got {mode!r}.")
    per = close.reshape(len(close), -1).mean(axis=1)
    return per if per_image else float(close.mean())


def mse(predicted, target, per_image: bool = False):
    """Mean squared error on the 0..255 scale (AGGAN, Tang et al. 2019, Table 2), over
    every pixel and channel."""
    predicted, target = _pair(predicted, target)
    squared = (predicted - target) ** 2
    per = squared.reshape(len(squared), -1).mean(axis=1)
    return per if per_image else float(squared.mean())


def psnr(predicted, target, per_image: bool = False):
    """Peak signal-to-noise ratio in dB on the 0..255 scale, 10 log₁₀(255² / MSE).

    Over a set: the PSNR of the set's mean squared error; ``per_image=True`` gives each
    image's (their mean is what AGGAN's and most papers' tables average). Identical
    images give inf."""
    errors = mse(predicted, target, per_image=True)
    with np.errstate(divide="ignore"):
        if per_image:
            return 10.0 * np.log10(255.0 ** 2 / errors)
        error = float(errors.mean())
        return float("inf") if error == 0 else float(10.0 * np.log10(255.0 ** 2 / error))


def _gaussian_window(size: int, sigma: float) -> np.ndarray:
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    window = np.exp(-coords ** 2 / (2.0 * sigma ** 2))
    return window / window.sum()


def _filter_valid(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of (N, H, W, C) over H and W."""
    size = len(window)
    rows = sum(window[i] * x[:, i:x.shape[1] - size + 1 + i] for i in range(size))
    return sum(window[i] * rows[:, :, i:x.shape[2] - size + 1 + i] for i in range(size))


def ssim(predicted, target, per_image: bool = False, filter_size: int = 11,
         filter_sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03):
    """Structural similarity (Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment:
    from error visibility to structural similarity", IEEE TIP 2004, Eq. 13):

        SSIM(x, y) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),

    C1 = (k1 L)², C2 = (k2 L)², L = 255, local statistics under an 11x11 Gaussian
    window (σ 1.5, the paper's), over the positions where the window fits, per channel;
    the image's SSIM is the mean over positions and channels (as ``tf.image.ssim``).
    Over a set: the mean of the images' values. Images must be at least ``filter_size``
    pixels on a side.
    """
    predicted, target = _pair(predicted, target)
    if min(predicted.shape[1:3]) < filter_size:
        raise ValueError(f"SSIM's {filter_size}x{filter_size} window does not fit in "
                         f"{predicted.shape[1]}x{predicted.shape[2]} images; pass a smaller "
                         "filter_size.")
    window = _gaussian_window(filter_size, filter_sigma)
    c1, c2 = (k1 * 255.0) ** 2, (k2 * 255.0) ** 2
    mu_x, mu_y = _filter_valid(predicted, window), _filter_valid(target, window)
    var_x = _filter_valid(predicted ** 2, window) - mu_x ** 2
    var_y = _filter_valid(target ** 2, window) - mu_y ** 2
    cov = _filter_valid(predicted * target, window) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)
             / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2)))
    per = index.reshape(len(index), -1).mean(axis=1)
    return per if per_image else float(per.mean())


def mask_values(masks, what: str = "the") -> np.ndarray:
    """``masks`` as a float (N, H, W) array in [0, 1], checked: (H, W), (N, H, W) or
    (N, H, W, 1), float in [0, 1] or uint8 (divided by 255), no NaN. ``what`` names
    them in the errors."""
    m = masks.numpy() if hasattr(masks, "numpy") else np.asarray(masks)
    if m.dtype == np.uint8:
        m = m / 255.0
    if not np.issubdtype(m.dtype, np.floating):
        raise TypeError(f"{what} masks must be float in [0, 1] or uint8; got {m.dtype}.")
    if m.ndim == 4:
        if m.shape[-1] != 1:
            raise ValueError(f"{what} masks must have one channel; got shape {m.shape}.")
        m = m[..., 0]
    elif m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(f"{what} masks must be (H, W), (N, H, W) or (N, H, W, 1); "
                         f"got shape {m.shape}.")
    if np.isnan(m).any():
        raise ValueError(f"{what} masks contain NaN.")
    return m


def mask_iou(predicted, target, threshold: float = 0.5, per_image: bool = False):
    """Intersection over union of attention masks and ground-truth object masks, both
    thresholded at ``threshold`` (masks in [0, 1]; uint8 masks are divided by 255):
    |P ∩ T| / |P ∪ T| per image, 1.0 where both are empty. Takes (H, W), (N, H, W) or
    (N, H, W, 1). Over a set: the mean of the images' values."""
    p = mask_values(predicted, "predicted") > threshold
    t = mask_values(target, "target") > threshold
    if p.shape != t.shape:
        raise ValueError(f"Mask shapes differ: {p.shape} vs {t.shape}.")
    intersection = (p & t).reshape(len(p), -1).sum(axis=1)
    union = (p | t).reshape(len(p), -1).sum(axis=1)
    per = np.where(union == 0, 1.0, intersection / np.maximum(union, 1))
    return per if per_image else float(per.mean())


def paired_pixel_accuracy(model, inputs, targets, image_size: int, direction: str = "a2b",
                          tolerance: float = UNIT_TOLERANCE, mode: str = "max") -> float:
    """Mean ``pixel_accuracy`` of ``model``'s translations of ``inputs`` against their
    paired ``targets`` (two sources in the same order, e.g. the halves of pix2pix maps),
    both resized to ``image_size``."""
    from keras_attngan.data import unpaired

    pairs = unpaired(inputs, targets, image_size=image_size, augment=False, shuffle=False,
                     batch_size=1)
    scores = [pixel_accuracy(model.translate(x.numpy(), direction)["image"], y.numpy(),
                             tolerance, mode) for x, y in pairs]
    return float(np.mean(scores))
