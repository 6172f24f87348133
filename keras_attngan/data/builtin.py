"""The embedded demo dataset, generated offline: "apples to plums".

Domain A: a red disc on a textured, earth-coloured background; domain B: a cyan-blue disc
on backgrounds drawn the same way. The object changes between domains while the
background should stay as it is, which is what attention-guided models are for. The
object masks come along, so tests can measure where a model attends. With
``varieties=K`` the objects come in K shades, from dark to bright, and the shade index
is a class label that only the object shows (DA-GAN's label-driven attention).
"""

from __future__ import annotations

import numpy as np

OBJECT_COLORS = {"a": (205, 45, 40), "b": (40, 150, 215)}
_BACKGROUND_PALETTE = np.array(
    [(112, 128, 72), (140, 112, 82), (122, 122, 116), (92, 112, 88), (150, 140, 105)],
    dtype=np.float32,
)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = _BACKGROUND_PALETTE[rng.integers(len(_BACKGROUND_PALETTE))]
    image = np.broadcast_to(base, (size, size, 3)).copy()
    # A gentle gradient and a few low-frequency waves: texture the model must keep.
    direction = rng.normal(size=2)
    image += 25.0 * (direction[0] * (yy - 0.5) + direction[1] * (xx - 0.5))[..., None]
    for _ in range(3):
        fy, fx = rng.uniform(1.0, 4.0, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (fy * yy + fx * xx) + phase)
        image += rng.uniform(4.0, 12.0) * wave[..., None] * rng.uniform(0.6, 1.0, size=3)
    image += rng.normal(0.0, 3.0, size=image.shape)
    return image


def _disc(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A soft-edged disc mask in [0, 1] and its shading (lit from the top left)."""
    radius = rng.uniform(0.15, 0.28) * size
    cy, cx = rng.uniform(radius + 1, size - radius - 1, size=2)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    distance = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    mask = np.clip(radius + 0.5 - distance, 0.0, 1.0)
    highlight = np.sqrt((yy - cy + 0.35 * radius) ** 2 + (xx - cx + 0.35 * radius) ** 2)
    shading = 1.15 - 0.35 * np.clip(highlight / radius, 0.0, 1.5)
    return mask, shading


def make_domain(domain: str, n: int, size: int = 64, seed: int = 0,
                return_masks: bool = False, varieties: int = 1,
                return_labels: bool = False):
    """``n`` images of domain "a" or "b", uint8 (n, size, size, 3), then (when asked)
    the object masks, float32 (n, size, size) in [0, 1], and the objects' variety
    labels, int64 (n,) in [0, varieties)."""
    if domain not in OBJECT_COLORS:
        raise ValueError(f"domain must be 'a' or 'b'; got {domain!r}.")
    if varieties < 1:
        raise ValueError(f"varieties must be at least 1; got {varieties}.")
    rng = np.random.default_rng([seed, ord(domain)])
    # The labels have a generator of their own, so varieties=1 gives the same images.
    labels = np.random.default_rng([seed, ord(domain), varieties]).integers(varieties,
                                                                              size=n)
    brightness = np.linspace(0.6, 1.1, varieties) if varieties > 1 else np.ones(1)
    color = np.array(OBJECT_COLORS[domain], dtype=np.float32)
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), np.float32)
    for i in range(n):
        background = _background(rng, size)
        mask, shading = _disc(rng, size)
        obj = (color * brightness[labels[i]] * shading[..., None]
               + rng.normal(0.0, 3.0, size=(size, size, 3)))
        image = mask[..., None] * obj + (1.0 - mask[..., None]) * background
        images[i] = np.clip(np.round(image), 0, 255).astype(np.uint8)
        masks[i] = mask
    out = (images,) + ((masks,) if return_masks else ()) + ((labels,) if return_labels else ())
    return out if len(out) > 1 else images


def demo(n: int = 300, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The unpaired demo domains (A: red discs, B: blue discs), uint8 (n, size, size, 3)."""
    return make_domain("a", n, size, seed), make_domain("b", n, size, seed)


def make_glyphs(n: int, size: int = 32, n_classes: int = 4, seed: int = 0,
                invert: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like data for domain adaptation: ``n`` grey glyphs, uint8 (n, size, size, 3),
    and their class labels, int64 (n,). Class k is one of a vertical bar, a horizontal
    bar, a plus, a square ring, a backslash and a slash (``n_classes`` <= 6), drawn
    bright on dark with random position, extent, thickness and brightness.
    ``invert=True`` gives the other domain: dark glyphs on a bright background."""
    if not 2 <= n_classes <= 6:
        raise ValueError(f"n_classes must lie in 2..6; got {n_classes}.")
    rng = np.random.default_rng([seed, n_classes, int(invert)])
    labels = rng.integers(n_classes, size=n)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    images = np.empty((n, size, size, 3), np.uint8)
    for i, label in enumerate(labels):
        cy, cx = rng.uniform(-0.08, 0.08, size=2)
        half = rng.uniform(0.22, 0.34)
        width = rng.uniform(0.05, 0.09)
        y, x = yy - cy, xx - cx
        inside = (np.abs(x) < half) & (np.abs(y) < half)
        strokes = {
            0: np.abs(x) < width,
            1: np.abs(y) < width,
            2: (np.abs(x) < width) | (np.abs(y) < width),
            3: (np.maximum(np.abs(x), np.abs(y)) > half - 2 * width),
            4: np.abs(x - y) < 1.4 * width,
            5: np.abs(x + y) < 1.4 * width,
        }[int(label)] & inside
        ink = rng.uniform(170, 250) * strokes + rng.uniform(0, 40)
        image = ink + rng.normal(0.0, 8.0, size=(size, size))
        if invert:
            image = 255.0 - image
        images[i] = np.clip(np.round(image), 0, 255).astype(np.uint8)[..., None]
    return images, labels


#: object colours of the generated multi-domain data, one per domain (up to 8)
DOMAIN_COLORS = ((205, 45, 40), (40, 150, 215), (235, 200, 40), (60, 175, 70),
                 (150, 60, 190), (240, 130, 30), (240, 240, 240), (20, 20, 20))


def make_multidomain(n: int, size: int = 32, n_domains: int = 4, seed: int = 0,
                     return_masks: bool = False):
    """Generated multi-domain data (a stand-in for RaFD's expressions): ``n`` images,
    uint8 (n, size, size, 3), of a disc on the demo's textured backgrounds, the disc's
    colour telling the domain, and their domain labels, int64 (n,) in [0, n_domains);
    with ``return_masks`` the disc masks, float32 (n, size, size): the only region that
    changes between domains."""
    if not 2 <= n_domains <= len(DOMAIN_COLORS):
        raise ValueError(f"n_domains must lie in 2..{len(DOMAIN_COLORS)}; got {n_domains}.")
    rng = np.random.default_rng([seed, n_domains, 7])
    labels = rng.integers(n_domains, size=n)
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), np.float32)
    for i, label in enumerate(labels):
        background = _background(rng, size)
        mask, shading = _disc(rng, size)
        obj = (np.array(DOMAIN_COLORS[label], np.float32) * shading[..., None]
               + rng.normal(0.0, 3.0, size=(size, size, 3)))
        image = mask[..., None] * obj + (1.0 - mask[..., None]) * background
        images[i] = np.clip(np.round(image), 0, 255).astype(np.uint8)
        masks[i] = mask
    return (images, labels, masks) if return_masks else (images, labels)
