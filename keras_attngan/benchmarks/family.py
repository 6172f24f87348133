"""A family of generated translation tasks, for ``attngan bench quality --suite``.

One generated task can be easy in a way real data is not (every object of the first
texture task has one fill colour, so an attention network finds it by colour alone).
The family draws texture and digit tasks from parameters that vary what real data
varies, in two disjoint sets of variants:

- **tuning** variants, on which settings are chosen;
- **held-out** variants (other photographs, colour ranges, shapes, textures and fonts),
  on which they are reported, with seeds that tuning did not use.

Texture variants (domain A: smoothly shaded objects; domain B: the same objects with a
texture; the background must stay): object colour as ranges of hue, saturation and
brightness, shape (``ellipse``, ``polygon``, ``blob``), 0-3 objects per image, size,
texture (``stripes`` of a period range, ``spots``, or ``colour``: another hue),
background (generated ``clutter``, or crops of photographs for ``photo``: the CC0 and
public-domain photographs in ``benchmarks/photos``, the tuning and held-out variants on
different ones, and each variant's test images on a photograph its training images never
show) and the training crops' jitter.

Digit variants (ten classes; the label is kept by a good translation): the source and
target fonts (``segments``: seven-segment strokes; ``dots``: a 5x7 dot matrix;
``blocks``: the same matrix in square pixels), stroke widths, slants and pages (light,
dark and noisy, or a darkened photograph). Targets differ from their sources in stroke
shape, not only in colour.

Everything is drawn from the seed, offline.
"""

from __future__ import annotations

import colorsys
import dataclasses
import os
from typing import Any

import numpy as np

from keras_attngan.benchmarks import tasks

PHOTO_DIR = os.path.join(os.path.dirname(__file__), "photos")
SPLITS = ("tuning", "held-out")
SHAPES = ("ellipse", "polygon", "blob")
TEXTURES = ("stripes", "spots", "colour")


# ------------------------------------------------------------------------- variants
@dataclasses.dataclass(frozen=True)
class TextureVariant:
    """The parameters of one texture task (see the module docstring)."""

    name: str
    split: str
    hue: tuple[float, float]                 # the A objects' fill, degrees
    saturation: tuple[float, float] = (0.45, 0.75)
    value: tuple[float, float] = (0.55, 0.85)
    shapes: tuple[str, ...] = ("ellipse",)
    count: tuple[int, int] = (1, 1)          # objects per image, inclusive
    radius: tuple[float, float] = (0.14, 0.28)  # of the image side
    texture: str = "stripes"
    period: tuple[float, float] = (5.0, 9.0)  # stripes and spots, px at 64 px
    target_hue: float = 220.0                # texture "colour": B's hue, degrees
    background: str = "clutter"              # or "photo"
    jitter: int = 0                          # training images are this much larger

    def __post_init__(self):
        for option, value, allowed in (("split", self.split, SPLITS),
                                       ("texture", self.texture, TEXTURES),
                                       ("background", self.background, ("clutter", "photo"))):
            if value not in allowed:
                raise ValueError(f"{option} must be one of {allowed}; got {value!r}.")
        if not set(self.shapes) <= set(SHAPES) or not self.shapes:
            raise ValueError(f"shapes must be some of {SHAPES}; got {self.shapes!r}.")
        if not 0 <= self.count[0] <= self.count[1] <= 3:
            raise ValueError(f"count must be (low, high) within 0..3; got {self.count!r}.")


@dataclasses.dataclass(frozen=True)
class DigitVariant:
    """The parameters of one digits task (see the module docstring)."""

    name: str
    split: str
    source_font: str = "segments"
    target_font: str = "segments"
    source_width: tuple[float, float] = (1.2, 1.5)   # px at 32 px
    target_width: tuple[float, float] = (2.5, 3.5)
    source_slant: tuple[float, float] = (0.0, 0.0)
    target_slant: tuple[float, float] = (0.1, 0.35)
    target_page: str = "dark"                        # "dark", "light" or "photo"


TEXTURE_VARIANTS = (
    # tuning: the bench's first task with colours that vary, then photographs, other
    # shapes, several objects, spots and a colour change
    TextureVariant("tune-stripes-clutter", "tuning", hue=(15, 35)),
    TextureVariant("tune-stripes-photo", "tuning", hue=(20, 45), shapes=("ellipse", "polygon"),
                   count=(1, 2), background="photo", jitter=8),
    TextureVariant("tune-spots-photo", "tuning", hue=(35, 60), shapes=("blob",), count=(0, 2),
                   texture="spots", period=(7.0, 10.0), background="photo", jitter=8),
    TextureVariant("tune-colour-clutter", "tuning", hue=(0, 30), shapes=SHAPES, count=(1, 3),
                   texture="colour", target_hue=220.0),
    # held-out: the issue's own task (brown ellipses, fine stripes, photographs), red
    # polygons and blobs 0-3 to an image, green spotted polygons, a colour change of blobs
    TextureVariant("held-stripes-photo", "held-out", hue=(10, 40), saturation=(0.35, 0.8),
                   value=(0.4, 0.9), period=(4.0, 7.0), background="photo", jitter=8),
    TextureVariant("held-mixed-photo", "held-out", hue=(-20, 10), shapes=("polygon", "blob"),
                   count=(0, 3), background="photo", jitter=8),
    TextureVariant("held-spots-clutter", "held-out", hue=(80, 140), shapes=("polygon",),
                   count=(1, 2), texture="spots", period=(6.0, 9.0)),
    TextureVariant("held-colour-photo", "held-out", hue=(90, 150), shapes=("blob", "ellipse"),
                   texture="colour", target_hue=300.0, background="photo"),
)

DIGIT_VARIANTS = (
    DigitVariant("tune-segments", "tuning"),
    DigitVariant("tune-dots", "tuning", target_font="dots", target_width=(2.6, 3.4)),
    DigitVariant("held-blocks-to-segments", "held-out", source_font="blocks",
                 source_width=(1.0, 1.0)),
    DigitVariant("held-dots-photo", "held-out", target_font="dots", target_width=(2.4, 3.2),
                 target_page="photo"),
    DigitVariant("held-dots-to-blocks", "held-out", source_font="dots",
                 source_width=(1.6, 2.0), target_font="blocks", target_width=(1.0, 1.0),
                 target_slant=(0.05, 0.25)),
)


def variants(kind: str, split: str) -> tuple:
    """The ``kind`` ("texture" or "digits") variants of ``split`` ("tuning" or
    "held-out")."""
    if split not in SPLITS:
        raise ValueError(f"suite must be one of {SPLITS}; got {split!r}.")
    family = {"texture": TEXTURE_VARIANTS, "digits": DIGIT_VARIANTS}.get(kind)
    if family is None:
        raise ValueError(f"task must be 'texture' or 'digits'; got {kind!r}.")
    return tuple(v for v in family if v.split == split)


def variant(name: str):
    """The texture or digit variant called ``name``."""
    for v in TEXTURE_VARIANTS + DIGIT_VARIANTS:
        if v.name == name:
            return v
    names = [v.name for v in TEXTURE_VARIANTS + DIGIT_VARIANTS]
    raise ValueError(f"no task variant {name!r}; the variants are {names}.")


# ----------------------------------------------------------------------- photographs
def photos(split: str) -> dict[str, np.ndarray]:
    """The background photographs of ``split``, uint8 (H, W, 3), by name."""
    import tensorflow as tf

    found = {}
    for file in sorted(os.listdir(PHOTO_DIR)):
        if file.startswith(split + "-") and file.endswith(".png"):
            with open(os.path.join(PHOTO_DIR, file), "rb") as f:
                found[file[len(split) + 1:-4]] = tf.io.decode_png(f.read(), 3).numpy()
    if not found:
        raise FileNotFoundError(f"no {split} photographs in {PHOTO_DIR}: the package was "
                                "installed without its data; reinstall it with pip.")
    return found


def photo_crops(rng: np.random.Generator, photographs: list[np.ndarray], n: int,
                size: int) -> np.ndarray:
    """``n`` random crops (a third to all of the shorter side, any place, mirrored at
    random) of ``photographs``, scaled to ``size``, float32 [0, 255]."""
    import tensorflow as tf

    out = np.empty((n, size, size, 3), np.float32)
    which = rng.integers(len(photographs), size=n)
    for index, photo in enumerate(photographs):
        chosen = np.nonzero(which == index)[0]
        if not len(chosen):
            continue
        h, w = photo.shape[:2]
        side = rng.uniform(0.33, 1.0, len(chosen)) * min(h, w)
        top = rng.uniform(0, 1, len(chosen)) * (h - side)
        left = rng.uniform(0, 1, len(chosen)) * (w - side)
        boxes = np.stack([top / h, left / w, (top + side) / h, (left + side) / w], 1)
        crops = tf.image.crop_and_resize(photo[None].astype(np.float32), boxes,
                                         np.zeros(len(chosen), np.int32), (size, size))
        crops = crops.numpy()
        flip = rng.random(len(chosen)) < 0.5
        crops[flip] = crops[flip, :, ::-1]
        out[chosen] = crops
    return out


# --------------------------------------------------------------------------- shapes
def _object_mask(rng: np.random.Generator, size: int, shape: str, radius: float,
                 cy: float, cx: float) -> np.ndarray:
    """A soft-edged object mask in [0, 1] (1 px ramp at the edge) of about ``radius``
    px around (cy, cx)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    if shape == "ellipse":
        ry, rx = radius * rng.uniform(0.7, 1.0, 2)
        angle = rng.uniform(0, np.pi)
        u = dy * np.cos(angle) + dx * np.sin(angle)
        v = -dy * np.sin(angle) + dx * np.cos(angle)
        inside = (1.0 - np.sqrt((u / ry) ** 2 + (v / rx) ** 2)) * min(ry, rx)
    elif shape == "polygon":  # convex: the distance inside its nearest edge
        corners = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(5, 9)))
        reach = radius * rng.uniform(0.8, 1.1, len(corners))
        py, px = reach * np.sin(corners), reach * np.cos(corners)
        inside = np.full((size, size), np.inf, np.float32)
        for i in range(len(corners)):
            y0, x0, y1, x1 = py[i], px[i], py[i - 1], px[i - 1]
            ny, nx = -(x1 - x0), (y1 - y0)  # the edge's normal, pointing in
            length = np.hypot(ny, nx) + 1e-6
            side = ((dy - y0) * ny + (dx - x0) * nx) / length
            if (0 - y0) * ny + (0 - x0) * nx < 0:  # orient toward the centre
                side = -side
            inside = np.minimum(inside, side)
    else:  # blob: a few overlapping discs, smoothly joined
        field = np.zeros((size, size), np.float32)
        for _ in range(rng.integers(3, 6)):
            oy, ox = rng.normal(0, 0.45 * radius, 2)
            r = radius * rng.uniform(0.45, 0.7)
            field += np.exp(-(((dy - oy) ** 2 + (dx - ox) ** 2) / (2 * r * r)))
        inside = (field - 0.6) * radius * 1.5
    return np.clip(inside + 0.5, 0.0, 1.0).astype(np.float32)


def _shading(size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    """Light from the top left, 0.8-1.1 across an object of ``radius`` at (cy, cx)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    distance = np.hypot(yy - cy + 0.3 * radius, xx - cx + 0.3 * radius) / radius
    return 1.1 - 0.3 * np.clip(distance, 0.0, 1.5)


def _rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb((hue % 360) / 360.0, saturation, value),
                    np.float32) * 255.0


def _spots(rng: np.random.Generator, size: int, period: float) -> np.ndarray:
    """Dark round spots in [0, 1] (1 on a spot) on a jittered grid of ``period`` px."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    spots = np.zeros((size, size), np.float32)
    offset = rng.uniform(0, period, 2)
    for gy in np.arange(-period, size + period, period):
        for gx in np.arange(-period, size + period, period):
            cy, cx = gy + offset[0] + rng.normal(0, period * 0.12), \
                gx + offset[1] + rng.normal(0, period * 0.12)
            r = period * rng.uniform(0.25, 0.33)
            spots = np.maximum(spots, np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1))
    return spots


#: the spotted texture's light base and dark spots (RGB), before shading
SPOT_BASE, SPOT_DARK = (235.0, 225.0, 200.0), (25.0, 20.0, 15.0)


def _texture(rng: np.random.Generator, v: TextureVariant, size: int, hue: float,
             saturation: float, value: float) -> np.ndarray:
    """B's object surface for variant ``v`` (float32 RGB, before shading)."""
    if v.texture == "stripes":
        period = rng.uniform(*v.period) * size / 64
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        phase = (yy * np.cos(angle) + xx * np.sin(angle)) / period + rng.uniform()
        light = np.clip(0.5 + 2.0 * np.sin(2 * np.pi * phase), 0.0, 1.0)[..., None]
        return tasks.STRIPE_DARK + (tasks.STRIPE_LIGHT - tasks.STRIPE_DARK) * light
    if v.texture == "spots":
        spots = _spots(rng, size, rng.uniform(*v.period) * size / 64)[..., None]
        return np.array(SPOT_BASE) * (1 - spots) + np.array(SPOT_DARK) * spots
    target = v.target_hue + rng.uniform(-12, 12)
    return np.broadcast_to(_rgb(target, saturation, value), (size, size, 3))


def texture_images(v: TextureVariant, domain: str, n: int, size: int, seed: int,
                   backgrounds: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, list[list[np.ndarray]]]:
    """``n`` images of variant ``v``'s ``domain`` ("a": smooth fills; "b": textured), uint8
    (n, size, size, 3); the union of each image's object masks, float32 (n, size, size);
    and each image's list of per-object masks. ``backgrounds``: float32 images to draw
    on (default: ``v``'s clutter)."""
    if domain not in ("a", "b"):
        raise ValueError(f"domain must be 'a' or 'b'; got {domain!r}.")
    rng = np.random.default_rng([seed, ord(domain), 33])
    images = np.empty((n, size, size, 3), np.uint8)
    unions = np.zeros((n, size, size), np.float32)
    objects: list[list[np.ndarray]] = []
    for i in range(n):
        image = (backgrounds[i].copy() if backgrounds is not None
                 else tasks._cluttered_background(rng, size))
        masks: list[np.ndarray] = []
        for _ in range(rng.integers(v.count[0], v.count[1] + 1)):
            radius = rng.uniform(*v.radius) * size
            for _attempt in range(20):  # objects apart from each other
                cy, cx = rng.uniform(radius, size - radius, 2)
                mask = _object_mask(rng, size, str(rng.choice(v.shapes)), radius, cy, cx)
                if mask.sum() > 20 and all((mask * m).sum() < 1 for m in masks):
                    break
            else:
                continue
            hue = rng.uniform(*v.hue)
            saturation, value = rng.uniform(*v.saturation), rng.uniform(*v.value)
            surface = (_rgb(hue, saturation, value) if domain == "a"
                       else _texture(rng, v, size, hue, saturation, value))
            shaded = surface * _shading(size, cy, cx, radius)[..., None]
            shaded = shaded + rng.normal(0.0, 3.0, (size, size, 3))
            image = mask[..., None] * shaded + (1.0 - mask[..., None]) * image
            masks.append(mask)
            unions[i] = np.maximum(unions[i], mask)
        images[i] = np.clip(np.round(image), 0, 255).astype(np.uint8)
        objects.append(masks)
    return images, unions, objects


def texture_task(v: TextureVariant, n_train: int = 300, n_test: int = 100, size: int = 64,
                 seed: int = 0) -> dict[str, Any]:
    """Variant ``v``'s task: ``a`` (with its object masks ``a_masks``), ``b`` (training,
    ``size + v.jitter`` px: crop them to ``size`` while training), ``test`` with ``test_masks`` and ``test_objects``
    (per-object masks), and ``empty`` (object-free test backgrounds). With photographs,
    the test images' backgrounds come from a photograph the training images never
    show."""
    train_size = size + v.jitter
    rng = np.random.default_rng([seed, 34])

    def backgrounds(n, side, test):
        if v.background == "clutter":
            return np.stack([tasks._cluttered_background(rng, side) for _ in range(n)])
        found = photos(v.split)
        names = sorted(found)
        chosen = names[-1:] if test else names[:-1]  # the last one: test images only
        return photo_crops(rng, [found[name] for name in chosen], n, side)

    a, a_masks, _ = texture_images(v, "a", n_train, train_size, seed,
                                   backgrounds(n_train, train_size, False))
    b, _, _ = texture_images(v, "b", n_train, train_size, seed,
                             backgrounds(n_train, train_size, False))
    test, masks, objects = texture_images(v, "a", n_test, size, seed + 1000,
                                          backgrounds(n_test, size, True))
    empty = np.clip(np.round(backgrounds(n_test // 2, size, True)), 0, 255).astype(np.uint8)
    return {"a": a, "a_masks": a_masks, "b": b, "test": test, "test_masks": masks,
            "test_objects": objects, "empty": empty}


# ------------------------------------------------------------------ texture detection
def _components(mask: np.ndarray) -> int:
    """The number of 4-connected regions of a boolean (H, W) mask."""
    seen = np.zeros_like(mask, bool)
    count = 0
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        count += 1
        stack = [(y, x)]
        seen[y, x] = True
        while stack:
            cy, cx = stack.pop()
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and \
                        mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
    return count


def is_spotted(image, mask) -> bool:
    """Spots: at least 5 % of the object's interior dark (luma < 90) and 30 % light
    (> 160), the dark part in at least 3 separate spots. A smooth fill fails the first
    test, a half-dark object or one dark blotch the last."""
    luma = tasks.luminance(image)
    interior = tasks._erode(np.asarray(mask) > 0.5, 1)
    if interior.sum() < 16:
        return False
    dark = (luma < tasks.STRIPE_DARK_BELOW) & interior
    light = (luma > tasks.STRIPE_LIGHT_ABOVE) & interior
    return bool(dark.sum() >= 0.05 * interior.sum() and light.sum() >= 0.3 * interior.sum()
                and _components(dark) >= 3)


def has_hue(image, mask, hue: float, tolerance: float = 35.0) -> bool:
    """The object's mean colour (interior) has a hue within ``tolerance`` degrees of
    ``hue`` and a saturation of at least 0.2."""
    interior = tasks._erode(np.asarray(mask) > 0.5, 1)
    if interior.sum() < 8:
        return False
    mean = np.asarray(image, np.float32)[interior].mean(0) / 255.0
    h, s, _ = colorsys.rgb_to_hsv(*mean)
    distance = abs((h * 360.0 - hue + 180.0) % 360.0 - 180.0)
    return bool(s >= 0.2 and distance <= tolerance)


def is_textured(v: TextureVariant, image, mask) -> bool:
    """Whether one object (``mask``) of ``image`` carries variant ``v``'s B texture."""
    if v.texture == "stripes":
        return tasks.is_striped(image, mask)
    if v.texture == "spots":
        return is_spotted(image, mask)
    return has_hue(image, mask, v.target_hue)


# ----------------------------------------------------------------------------- digits
_MATRIX = ("01110 10001 10011 10101 11001 10001 01110", "00100 01100 00100 00100 00100 00100 01110",
           "01110 10001 00001 00010 00100 01000 11111", "11111 00010 00100 00010 00001 10001 01110",
           "00010 00110 01010 10010 11111 00010 00010", "11111 10000 11110 00001 00001 10001 01110",
           "00110 01000 10000 11110 10001 10001 01110", "11111 00001 00010 00100 01000 01000 01000",
           "01110 10001 10001 01110 10001 10001 01110", "01110 10001 10001 01111 00001 00010 01100")


def _matrix_cells(label: int) -> list[tuple[float, float]]:
    """The lit cells of ``label``'s 5x7 glyph, as (x, y) in the unit box."""
    rows = _MATRIX[label].split()
    return [((c + 0.5) / 5, (r + 0.5) / 7) for r, row in enumerate(rows)
            for c, bit in enumerate(row) if bit == "1"]


def _glyph(rng: np.random.Generator, size: int, font: str, label: int, place,
           width: float, slant: float, jitter: float) -> np.ndarray:
    """Ink in [0, 1] of digit ``label`` in ``font`` at ``place`` (cx, cy, height,
    glyph width)."""
    cx, cy, height, glyph_width = place

    def point(p):
        x, y = (p[0] + rng.normal(0, jitter) - 0.5, p[1] + rng.normal(0, jitter) - 0.5)
        return cx + x * glyph_width - slant * y * height, cy + y * height

    if font == "segments":
        strokes = [(point(tasks._SEGMENTS[s][0]), point(tasks._SEGMENTS[s][1]))
                   for s in tasks._DIGIT_SEGMENTS[label]]
        return tasks._draw_strokes(size, strokes, width)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    ink = np.zeros((size, size), np.float32)
    cell = height / 7
    for c in _matrix_cells(label):
        x, y = point(c)
        if font == "dots":  # discs of the stroke width
            distance = np.hypot(xx - x, yy - y)
        else:  # blocks: squares filling their cell
            distance = np.maximum(np.abs(xx - x), np.abs(yy - y)) - (cell * 0.5 - width / 2)
        ink = np.maximum(ink, np.clip(width / 2 + 0.5 - distance, 0.0, 1.0))
    return ink


FONTS = ("segments", "dots", "blocks")


def digit_images(v: DigitVariant, domain: str, n: int, size: int = 32, seed: int = 0,
                 style: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits of variant ``v``'s ``domain`` ("a": source, "b": target), uint8
    (n, size, size, 3), and their labels, int64 (n,). ``style`` ("a" or "b", default
    ``domain``) draws the same digits (classes, sizes, places) in the other domain's
    style: the perfect translation."""
    style = domain if style is None else style
    for name, value in (("domain", domain), ("style", style)):
        if value not in ("a", "b"):
            raise ValueError(f"{name} must be 'a' or 'b'; got {value!r}.")
    shapes = np.random.default_rng([seed, ord(domain), 40])
    look = np.random.default_rng([seed, ord(domain), ord(style), 41])
    labels = shapes.integers(10, size=n)
    target = style == "b"
    font = v.target_font if target else v.source_font
    page_photos = None
    if target and v.target_page == "photo":
        found = photos(v.split)
        page_photos = photo_crops(look, list(found.values()), n, size)
    images = np.empty((n, size, size, 3), np.uint8)
    for i, label in enumerate(labels):
        height = size * shapes.uniform(0.5, 0.75)
        place = (size / 2 + shapes.uniform(-2, 2), size / 2 + shapes.uniform(-2, 2), height,
                 height * shapes.uniform(0.45, 0.65))
        width = look.uniform(*(v.target_width if target else v.source_width)) * size / 32
        slant = look.uniform(*(v.target_slant if target else v.source_slant))
        # handwriting wobbles: each stroke's ends, or the glyph as a whole for a matrix
        jitter = (0.05 if font == "segments" else 0.012) if target else 0.0
        ink = _glyph(look, size, font, int(label), place, width, slant, jitter)
        if not target:  # dark ink on a light page
            page, pen, tint = np.full((size, size), 235.0), 30.0, (1.0, 1.0, 1.0)
        elif v.target_page == "light":
            page = look.uniform(200, 240) + look.normal(0, 6, (size, size))
            pen, tint = look.uniform(20, 60), (0.9, 0.95, 1.0)
        else:  # light ink on a dark page: noise, or a darkened photograph
            page = (tasks.luminance(page_photos[i]) * 0.3 if page_photos is not None
                    else look.uniform(20, 60) + look.normal(0, 8, (size, size)))
            pen, tint = look.uniform(200, 250), (1.0, 0.95, 0.85)
        gray = ink * pen + (1 - ink) * page
        images[i] = np.clip(np.round(gray[..., None] * np.array(tint, np.float32)),
                            0, 255).astype(np.uint8)
    return images, labels
