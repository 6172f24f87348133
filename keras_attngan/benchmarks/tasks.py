"""Generated translation tasks with exact ground truth, for ``attngan bench quality``.

Both are drawn offline from a seed, so any user can rerun the benchmark bit for bit.

**texture** (a horse->zebra stand-in): one object per image on a cluttered background
of overlapping coloured patches, soft waves and noise. In domain A the object is a
smoothly shaded fill; in domain B it carries black-and-white stripes (period 5-9 px at
64 px, any orientation) under the same shading. The background must survive the
translation; the object must gain a *texture*, which, unlike a colour change, a
generator cannot learn in a few steps. The object masks come along for scoring, and
``empty_images`` gives backgrounds without any object (a translator should leave them
alone).

**digits**: ten classes drawn as seven-segment-like stroke digits in two renderings.
Domain A ("typeset"): thin, upright, dark strokes on a light, flat page. Domain B
("handwritten"): thick, slanted, jittered light strokes on a dark, noisy page. The label
is the digit, so a classifier trained on translated A and tested on real B measures
whether the translation kept the content.
"""

from __future__ import annotations

import numpy as np

# ----------------------------------------------------------------------------- texture
_PATCH_PALETTE = np.array(
    [(112, 128, 72), (140, 112, 82), (122, 122, 116), (92, 112, 88), (150, 140, 105),
     (84, 96, 128), (168, 150, 120), (100, 80, 70), (130, 150, 160), (160, 120, 100)],
    dtype=np.float32)
# The object's own colour in domain A, and the stripes' dark and light ends in domain B.
FILL_COLOR = (190, 120, 60)
STRIPE_DARK, STRIPE_LIGHT = 20.0, 235.0


def _cluttered_background(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.broadcast_to(_PATCH_PALETTE[rng.integers(len(_PATCH_PALETTE))],
                            (size, size, 3)).copy()
    # overlapping rectangles and ellipses of other colours: clutter with edges to keep
    for _ in range(rng.integers(4, 8)):
        color = _PATCH_PALETTE[rng.integers(len(_PATCH_PALETTE))] + rng.normal(0, 12, 3)
        cy, cx = rng.uniform(0, 1, 2)
        hy, hx = rng.uniform(0.06, 0.3, 2)
        if rng.random() < 0.5:
            region = (np.abs(yy - cy) < hy) & (np.abs(xx - cx) < hx)
        else:
            region = ((yy - cy) / hy) ** 2 + ((xx - cx) / hx) ** 2 < 1.0
        image[region] = color
    for _ in range(2):
        fy, fx = rng.uniform(1.0, 4.0, 2)
        wave = np.sin(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * np.pi))
        image += rng.uniform(4.0, 10.0) * wave[..., None]
    image += rng.normal(0.0, 3.0, image.shape)
    return image


def _blob(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A soft-edged ellipse mask in [0, 1] (its axes 0.16-0.3 of the side, any angle)
    and its shading, lit from the top left."""
    ry, rx = rng.uniform(0.16, 0.3, 2) * size
    reach = max(ry, rx) + 1
    cy, cx = rng.uniform(reach, size - reach, 2)
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    u = dy * np.cos(angle) + dx * np.sin(angle)
    v = -dy * np.sin(angle) + dx * np.cos(angle)
    radius = np.sqrt((u / ry) ** 2 + (v / rx) ** 2)  # 1 on the boundary
    mask = np.clip((1.0 - radius) * min(ry, rx) + 0.5, 0.0, 1.0)
    shading = 1.1 - 0.3 * np.clip(np.sqrt(((dy + 0.3 * ry) / ry) ** 2
                                          + ((dx + 0.3 * rx) / rx) ** 2), 0.0, 1.5)
    return mask, shading


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Black-and-white stripes in [0, 1]: a random period (5-9 px at 64 px) and angle."""
    period = rng.uniform(5.0, 9.0) * size / 64
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = (yy * np.cos(angle) + xx * np.sin(angle)) / period + rng.uniform()
    return np.clip(0.5 + 2.0 * np.sin(2 * np.pi * phase), 0.0, 1.0)


def texture_domain(domain: str, n: int, size: int = 64, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of domain "a" (smooth objects) or "b" (striped objects), uint8
    (n, size, size, 3), and their object masks, float32 (n, size, size) in [0, 1]."""
    if domain not in ("a", "b"):
        raise ValueError(f"domain must be 'a' or 'b'; got {domain!r}.")
    rng = np.random.default_rng([seed, ord(domain), 7])
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), np.float32)
    for i in range(n):
        background = _cluttered_background(rng, size)
        mask, shading = _blob(rng, size)
        if domain == "a":
            fill = np.array(FILL_COLOR, np.float32) * rng.uniform(0.8, 1.15)
            obj = fill * shading[..., None]
        else:
            stripes = _stripes(rng, size)[..., None]
            obj = (STRIPE_DARK + (STRIPE_LIGHT - STRIPE_DARK) * stripes) * shading[..., None]
        obj = obj + rng.normal(0.0, 3.0, (size, size, 3))
        image = mask[..., None] * obj + (1.0 - mask[..., None]) * background
        images[i] = np.clip(np.round(image), 0, 255).astype(np.uint8)
        masks[i] = mask
    return images, masks


def empty_images(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` backgrounds drawn as the texture task's, without an object, uint8."""
    rng = np.random.default_rng([seed, 101, 7])
    return np.stack([np.clip(np.round(_cluttered_background(rng, size)), 0, 255)
                     for _ in range(n)]).astype(np.uint8)


def luminance(images) -> np.ndarray:
    """Rec. 601 luma of uint8 or [0, 255] images, float32 (..., H, W)."""
    x = np.asarray(images, np.float32)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def _erode(mask: np.ndarray, pixels: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(pixels):
        shrunk = out.copy()
        shrunk[1:] &= out[:-1]
        shrunk[:-1] &= out[1:]
        shrunk[:, 1:] &= out[:, :-1]
        shrunk[:, :-1] &= out[:, 1:]
        out = shrunk
    return out


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Binary dilation of a (H, W) boolean mask by ``pixels`` (4-neighbourhood steps)."""
    return ~_erode(~np.asarray(mask, bool), pixels)


#: the stripe detector's fixed thresholds (see ``stripe_statistics``)
STRIPE_DARK_BELOW, STRIPE_LIGHT_ABOVE = 90.0, 160.0
STRIPE_MIN_FRACTION, STRIPE_MIN_COHERENCE, STRIPE_MIN_CROSSINGS = 0.15, 0.5, 3


def stripe_statistics(image, mask) -> dict[str, float]:
    """The stripe detector's measurements inside one object (``mask`` > 0.5, eroded by
    2 px so its edge does not count):

    - ``dark``, ``light``: the fractions of pixels with luma < 90 and > 160;
    - ``coherence``: (l1 - l2) / (l1 + l2) of the mean structure tensor, 1 when every
      edge runs the same way (stripes), about 0 for noise or blotches;
    - ``crossings``: how often the luma profile across that orientation (the interior's
      mean luma per 1-px band) crosses mid-grey: one for a single edge, one per half
      period for stripes.
    """
    luma = luminance(image)
    interior = _erode(np.asarray(mask) > 0.5, 2)
    if interior.sum() < 16:
        return {"dark": 0.0, "light": 0.0, "coherence": 0.0, "crossings": 0}
    values = luma[interior]
    gy, gx = np.gradient(luma)
    jyy, jxx, jxy = ((gy * gy)[interior].mean(), (gx * gx)[interior].mean(),
                     (gx * gy)[interior].mean())
    spread = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2)
    coherence = float(spread / (jxx + jyy)) if jxx + jyy > 1e-6 else 0.0
    # the dominant gradient direction, and the mean luma in bands across it
    theta = 0.5 * np.arctan2(2 * jxy, jxx - jyy)
    ys, xs = np.nonzero(interior)
    band = np.round(xs * np.cos(theta) + ys * np.sin(theta)).astype(int)
    band -= band.min()
    counts = np.bincount(band)
    profile = np.bincount(band, weights=values)[counts > 0] / counts[counts > 0]
    above = profile > 0.5 * (STRIPE_DARK_BELOW + STRIPE_LIGHT_ABOVE)
    crossings = int(np.count_nonzero(above[1:] != above[:-1]))
    return {"dark": float((values < STRIPE_DARK_BELOW).mean()),
            "light": float((values > STRIPE_LIGHT_ABOVE).mean()),
            "coherence": coherence, "crossings": crossings}


def is_striped(image, mask) -> bool:
    """The fixed stripe detector (nothing trained): an object is striped when at least
    15 % of its interior is dark and 15 % light, its edges share one orientation
    (coherence >= 0.5), and the luma across them alternates (>= 3 mid-grey crossings).
    Smooth fills fail the first test, noise the second, a single edge or a few blotches
    the last."""
    s = stripe_statistics(image, mask)
    return (s["dark"] >= STRIPE_MIN_FRACTION and s["light"] >= STRIPE_MIN_FRACTION
            and s["coherence"] >= STRIPE_MIN_COHERENCE
            and s["crossings"] >= STRIPE_MIN_CROSSINGS)


# ------------------------------------------------------------------------------ digits
# Seven segments as strokes on a unit box (x right, y down): a top, b top right,
# c bottom right, d bottom, e bottom left, f top left, g middle.
_SEGMENTS = {"a": ((0, 0), (1, 0)), "b": ((1, 0), (1, 0.5)), "c": ((1, 0.5), (1, 1)),
             "d": ((0, 1), (1, 1)), "e": ((0, 0.5), (0, 1)), "f": ((0, 0), (0, 0.5)),
             "g": ((0, 0.5), (1, 0.5))}
_DIGIT_SEGMENTS = ("abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc",
                   "abcdefg", "abcdfg")


def _draw_strokes(size: int, strokes, width: float) -> np.ndarray:
    """Anti-aliased line segments (pixel coordinates) of ``width`` px, in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    ink = np.zeros((size, size), np.float32)
    for (x0, y0), (x1, y1) in strokes:
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
        distance = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
        ink = np.maximum(ink, np.clip(width / 2 + 0.5 - distance, 0.0, 1.0))
    return ink


def digits_domain(domain: str, n: int, size: int = 32, seed: int = 0,
                  style: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits of domain "a" (typeset) or "b" (handwritten-like), uint8
    (n, size, size, 3), and their labels, int64 (n,) in [0, 10).

    Both domains draw each digit's class, height, width and place from one distribution
    (so each class comes in many shapes on both sides); the domains differ in style only.
    ``style`` ("a" or "b", default ``domain``) renders the same digits (same seed: same
    classes, sizes and places) in the other domain's style: ``digits_domain("a", n,
    seed=s, style="b")`` is what a perfect A→B translation of ``digits_domain("a", n,
    seed=s)`` looks like, the bench's upper bound."""
    style = domain if style is None else style
    for name, value in (("domain", domain), ("style", style)):
        if value not in ("a", "b"):
            raise ValueError(f"{name} must be 'a' or 'b'; got {value!r}.")
    # two streams, so that the style does not change the digits drawn
    shapes = np.random.default_rng([seed, ord(domain), 10])
    strokes_rng = np.random.default_rng([seed, ord(domain), ord(style), 11])
    labels = shapes.integers(10, size=n)
    images = np.empty((n, size, size, 3), np.uint8)
    handwritten = style == "b"
    for i, label in enumerate(labels):
        height = size * shapes.uniform(0.5, 0.75)
        width = height * shapes.uniform(0.45, 0.65)
        cx, cy = size / 2 + shapes.uniform(-2, 2, 2)
        slant = strokes_rng.uniform(0.1, 0.35) if handwritten else 0.0
        jitter = 0.06 if handwritten else 0.0

        def point(p):
            x, y = (p[0] + strokes_rng.normal(0, jitter) - 0.5,
                    p[1] + strokes_rng.normal(0, jitter) - 0.5)
            return (cx + x * width - slant * y * height, cy + y * height)

        strokes = [(point(_SEGMENTS[s][0]), point(_SEGMENTS[s][1]))
                   for s in _DIGIT_SEGMENTS[label]]
        ink = _draw_strokes(size, strokes,
                            strokes_rng.uniform(2.5, 3.5) if handwritten else 1.3)
        if handwritten:
            page = strokes_rng.uniform(20, 60) + strokes_rng.normal(0, 8, (size, size))
            pen = strokes_rng.uniform(200, 250)
        else:
            page = np.full((size, size), 235.0)
            pen = 30.0
        gray = ink * pen + (1 - ink) * page
        tint = np.array((1.0, 0.95, 0.85) if handwritten else (1.0, 1.0, 1.0), np.float32)
        images[i] = np.clip(np.round(gray[..., None] * tint), 0, 255).astype(np.uint8)
    return images, labels
