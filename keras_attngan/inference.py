"""Translating images of any size: tiles with overlap for large ones, upscaling for tiny
ones, and output names that never collide (what ``attngan translate`` uses).

``translate_image(model, image)`` translates one (H, W, C) image with a bounded working
set: an image with a side over ``tile`` is cut into ``tile`` x ``tile`` tiles that
overlap by ``overlap`` pixels; each is translated on its own and the results are blended
with weights that ramp linearly from the tile's edge across the overlap, so no seam is
visible and the network never sees more than one tile (its activations are bounded by
the tile, whatever the image). The blended result holds the whole image once, as
float32. Models with instance normalisation normalise each tile with its own
statistics, so a tiled translation differs from a whole-image one (a random-weight
CycleGAN, 48 px tiles of a 96x80 image: 0.12 mean absolute difference on the [-1, 1]
scale; larger tiles differ less); the blend itself is exact for a per-pixel network. Images with a side under
``min_side`` are upscaled to it (bicubic), translated, and resized back.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
#: images smaller than this on a side are upscaled to it: smaller inputs break the
#: networks' reflection padding (MirrorPad) after their downsampling.
DEFAULT_MIN_SIDE = 32


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px, overlapping by at
    least ``overlap``; the last tile ends at the edge."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def _ramp(size: int, overlap: int, left: bool, right: bool) -> np.ndarray:
    """1-D blending weights of one tile: a ramp across ``overlap`` on the sides that
    meet another tile, 1 elsewhere."""
    weights = np.ones(size, np.float32)
    if overlap <= 0:
        return weights
    ramp = (np.arange(min(overlap, size), dtype=np.float32) + 0.5) / overlap
    if left:
        weights[:ramp.size] = np.minimum(weights[:ramp.size], ramp)
    if right:
        weights[-ramp.size:] = np.minimum(weights[-ramp.size:], ramp[::-1])
    return weights


def _check_tiling(tile: int, overlap: int, multiple: int) -> None:
    if tile < DEFAULT_MIN_SIDE or tile % multiple:
        raise ValueError(f"tile={tile} must be a multiple of {multiple} (the model's "
                         f"strides) of at least {DEFAULT_MIN_SIDE} px (smaller tiles are "
                         "too small for the networks' padding after down-sampling).")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap={overlap} must be at least 0 and under tile={tile}.")


def translate_tiled(translate: Callable[[np.ndarray], dict[str, np.ndarray]],
                    image: np.ndarray, tile: int = DEFAULT_TILE,
                    overlap: int = DEFAULT_OVERLAP) -> dict[str, np.ndarray]:
    """Blends ``translate`` (one (h, w, 3) float image in [-1, 1] -> {"image", "mask"?},
    same h, w) over overlapping tiles of ``image``; returns float32 arrays of the
    image's height and width."""
    height, width = image.shape[:2]
    rows, cols = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    sums: dict[str, np.ndarray] = {}
    total = np.zeros((height, width, 1), np.float32)
    for top in rows:
        for left in cols:
            h, w = min(tile, height), min(tile, width)
            piece = image[top:top + h, left:left + w]
            weight = (_ramp(h, overlap, top > 0, top + h < height)[:, None]
                      * _ramp(w, overlap, left > 0, left + w < width)[None, :])[..., None]
            out = translate(piece)
            for key in ("image", "mask"):
                if key not in out:
                    continue
                value = np.asarray(out[key], np.float32)
                if key not in sums:
                    sums[key] = np.zeros((height, width, value.shape[-1]), np.float32)
                sums[key][top:top + h, left:left + w] += value * weight
            total[top:top + h, left:left + w] += weight
    return {key: value / total for key, value in sums.items()}


def translate_image(model, image: np.ndarray, direction: str | None = None,
                    tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
                    min_side: int = DEFAULT_MIN_SIDE,
                    options: dict[str, Any] | None = None) -> dict[str, Any]:
    """One image (H, W, C), uint8 or float in [-1, 1], of any size -> {"image" [-1, 1],
    "mask" [0, 1] for attention models, "resized": whether it was upscaled, "tiles":
    how many tiles it took}. ``model`` is a ``TranslationGAN`` (or anything with its
    ``translate`` and ``size_multiple``). ``options`` go to ``model.translate``
    (``target_domain`` for multi-domain models)."""
    import tensorflow as tf

    from keras_attngan.models.base import to_model_range

    multiple = getattr(model, "size_multiple", 1)
    _check_tiling(tile, overlap, multiple)
    x, single = to_model_range(image)
    if not single:
        raise ValueError(f"translate_image takes one image (H, W, C); got shape "
                         f"{np.shape(image)}.")
    x = x[0]
    height, width = x.shape[:2]
    small = min(height, width) < min_side
    if small:  # upscale the short side to min_side, keeping the aspect ratio
        scale = min_side / min(height, width)
        size = (max(min_side, round(height * scale)), max(min_side, round(width * scale)))
        x = np.clip(tf.image.resize(x[None], size, "bicubic").numpy()[0], -1.0, 1.0)

    def one(piece):
        out = model.translate(piece, direction=direction, **(options or {}))
        return {key: out[key] for key in ("image", "mask") if key in out}

    tiles = len(tile_starts(x.shape[0], tile, overlap)) * len(
        tile_starts(x.shape[1], tile, overlap))
    out = one(x) if tiles == 1 else translate_tiled(one, x, tile, overlap)
    if small:
        out = {key: tf.image.resize(value[None], (height, width), "area").numpy()[0]
               for key, value in out.items()}
    out = {key: np.asarray(value, np.float32) for key, value in out.items()}
    out.update(resized=small, tiles=tiles)
    return out


def output_names(files: Sequence[str], root: str, keep_extension: bool = False,
                 mask: bool = False) -> dict[str, list[str]]:
    """Relative output names for each input file: {input: [translation, mask?]}.
    ``keep_extension`` names ``x.jpg``'s result ``x.jpg.png`` instead of ``x.png``."""
    names = {}
    for path in files:
        relative = os.path.relpath(path, root)
        stem = relative if keep_extension else os.path.splitext(relative)[0]
        names[path] = [stem + ".png"] + ([stem + "_mask.png"] if mask else [])
    return names


def clashes(names: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """Output names that two inputs (or an input's translation and another's mask) would
    both write, compared case-insensitively (as macOS and Windows file systems do):
    [(name, [inputs])]."""
    owners: dict[str, list[str]] = {}
    spelled: dict[str, str] = {}
    for path, outputs in names.items():
        for name in outputs:
            key = os.path.normcase(os.path.normpath(name)).lower()
            spelled.setdefault(key, name)
            if path not in owners.setdefault(key, []):
                owners[key].append(path)
    return [(spelled[key], paths) for key, paths in owners.items() if len(paths) > 1]


def is_inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (after resolving links)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or os.path.commonpath([path, folder]) == folder
