"""Loss functions. Each returns the mean over the batch it is given (the per-replica batch
under tf.distribute); ``TranslationGAN`` divides by the replica count before gradients."""

from __future__ import annotations

from keras import ops

ADVERSARIAL_KINDS = ("lsgan", "vanilla", "hinge")


def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_KINDS:
        raise ValueError(f"Unknown adversarial loss {kind!r}; use one of {ADVERSARIAL_KINDS}.")


def generator_adversarial(fake_scores, kind: str = "lsgan"):
    """What the generator minimises so that D scores its output as real.

    lsgan: (D(G(x)) - 1)^2 (Mao et al.); vanilla: the non-saturating -log sigmoid(D(G(x)));
    hinge: -D(G(x)).
    """
    _check_kind(kind)
    fake_scores = ops.cast(fake_scores, "float32")
    if kind == "lsgan":
        return ops.mean(ops.square(fake_scores - 1.0))
    if kind == "vanilla":
        return ops.mean(ops.softplus(-fake_scores))
    return -ops.mean(fake_scores)


def discriminator_adversarial(real_scores, fake_scores, kind: str = "lsgan"):
    """The discriminator objective, averaged over its real and fake halves (the reference's
    0.5 factor, which slows D relative to G)."""
    _check_kind(kind)
    real_scores = ops.cast(real_scores, "float32")
    fake_scores = ops.cast(fake_scores, "float32")
    if kind == "lsgan":
        real = ops.mean(ops.square(real_scores - 1.0))
        fake = ops.mean(ops.square(fake_scores))
    elif kind == "vanilla":
        real = ops.mean(ops.softplus(-real_scores))
        fake = ops.mean(ops.softplus(fake_scores))
    else:
        real = ops.mean(ops.relu(1.0 - real_scores))
        fake = ops.mean(ops.relu(1.0 + fake_scores))
    return 0.5 * (real + fake)


def l1(x, y):
    """Mean absolute error: the cycle-consistency and identity losses."""
    return ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))


cycle_consistency = l1
identity = l1


def total_variation(images):
    """Anisotropic total variation: the sum over pixels of |vertical| + |horizontal|
    neighbour differences, averaged over the batch (AGGAN's attention loss; its weight
    1e-6 is sized for this per-image sum). Small for smooth masks."""
    images = ops.cast(images, "float32")
    dy = ops.sum(ops.abs(images[:, 1:] - images[:, :-1]), axis=(1, 2, 3))
    dx = ops.sum(ops.abs(images[:, :, 1:] - images[:, :, :-1]), axis=(1, 2, 3))
    return ops.mean(dy + dx)
