"""AGGAN for m domains (Tang, Xu, Sebe, Yan; IJCNN 2019: RaFD's 8 facial expressions):
one attention-guided generator conditioned on the target domain, StarGAN's (Choi et al.
2018) domain classification in the discriminator.

The generator takes the image and the target domain's one-hot code c tiled as m extra
input channels, and outputs, as the two-domain AGGAN (``models/aggan.py``), an attention
mask M (sigmoid) and a content mask R (tanh), fused with the input:

    G(x, c) = R * M + x * (1 - M)

The discriminator has two heads on shared features: D_src (real/fake scores, a PatchGAN)
and D_cls (domain logits). With the source domain c' of x and a target c drawn at
random among the other domains:

    L_D = lambda_gan * L_adv(D_src(x), D_src(G(x, c))) + lambda_cls * CE(D_cls(x), c')
    L_G = lambda_gan * L_adv(D_src(G(x, c))) + lambda_cls * CE(D_cls(G(x, c)), c)
          + lambda_cycle * |G(G(x, c), c') - x|_1 + lambda_pixel * |G(x, c) - x|_1
          + lambda_tv * TV(M)

so the domain head learns the domains on real images, and the generator is trained to
make its translations classified as their target; the cycle goes back to the source.

From the paper and its authors' multi-domain code (stargan_attention): the fusion, the
conditioning by tiled codes (with zero padding: a reflected constant channel carries
nothing after instance norm), StarGAN's generator (c7s1-64, two 4x4 stride-2
down-samplings, 6 residual blocks, two up-samplings; instance norm) and discriminator
(6 stride-2 4x4 convolutions at 128 px, LeakyReLU 0.01, the 3x3 source head and the
domain head), lambda_cls 1, lambda_cycle 10, Adam 1e-4 (0.5, 0.999), 200,000 iterations
of batch 16 with linear decay over the second half. Chosen where we could not follow
them: least-squares adversarial terms (AGGAN's two-domain loss) instead of the authors'
WGAN-GP with 5 critic steps per generator step; AGGAN's pixel (lambda_pixel 1) and
attention (total variation, lambda_tv 1e-6) losses, which the two-domain objective has
and which keep the mask off what need not change;
no attention-guided discriminator (the authors' multi-domain code has none); the
content mask through tanh (their code leaves it linear).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_attngan import losses
from keras_attngan.models.aggan import AGGAN
from keras_attngan.layers import NORMS
from keras_attngan.models.base import PACKAGE, TranslationGAN, check_choice
from keras_attngan.networks import classifying_discriminator, resnet_generator


@keras.saving.register_keras_serializable(package=PACKAGE)
class AGGANMultiDomain(TranslationGAN):
    """AGGAN for m domains (Tang et al. 2019, RaFD): one attention-guided generator
    conditioned on the target domain, a discriminator with a domain head.
    ``translate(x, target_domain=k)``; see this module's docstring."""
    #: one direction, "to a target domain": translate(x, target_domain=k)
    directions = ("to_domain",)
    has_attention = True
    #: the mask on the input images, whichever their domain (mask_input_mean, ...)
    mask_domains = ("input",)
    #: batches are (images, domain labels), as ``kag.data.multidomain`` yields
    needs_domain_labels = True
    loss_names = ("d_adv", "d_cls", "g_adv", "g_cls", "cycle", "pixel", "tv")
    learning_rate = 1e-4

    def __init__(
        self,
        image_size: int = 128,
        channels: int = 3,
        n_domains: int = 8,
        ngf: int = 64,
        ndf: int = 64,
        n_blocks: int = 6,
        n_layers_d: int = 6,
        norm: str = "instance",
        gan_mode: str = "lsgan",
        lambda_gan: float = 1.0,
        lambda_cls: float = 1.0,
        lambda_cycle: float = 10.0,
        lambda_pixel: float = 1.0,
        lambda_tv: float = 1e-6,
        pool_size: int = 0,
        **kwargs,
    ):
        if n_domains < 2:
            raise ValueError(f"n_domains must be at least 2; got {n_domains}.")
        if n_layers_d < 1 or image_size % 2**n_layers_d:
            fits = max((k for k in range(1, n_layers_d) if image_size % 2**k == 0),
                       default=None)
            raise ValueError(
                f"image_size={image_size} must be a multiple of 2**n_layers_d="
                f"{2**max(n_layers_d, 0)} for the discriminator's domain head: pass "
                + (f"n_layers_d={fits} (for which image_size must be a multiple of "
                   f"{2**fits}), or " if fits else "")
                + f"an image_size that is a multiple of {2**max(n_layers_d, 0)}.")
        super().__init__(image_size=image_size, channels=channels, pool_size=pool_size,
                         **kwargs)
        check_choice("gan_mode", gan_mode, losses.ADVERSARIAL_KINDS)
        check_choice("norm", norm, NORMS)
        self.n_domains, self.ngf, self.ndf = int(n_domains), ngf, ndf
        self.n_blocks, self.n_layers_d, self.norm, self.gan_mode = (
            n_blocks, n_layers_d, norm, gan_mode)
        self.lambda_gan, self.lambda_cls = float(lambda_gan), float(lambda_cls)
        self.lambda_cycle, self.lambda_pixel = float(lambda_cycle), float(lambda_pixel)
        self.lambda_tv = float(lambda_tv)
        # 4 linear outputs: the attention mask (1) and the content mask (3)
        self.generator = resnet_generator(channels + self.n_domains, ngf=ngf,
                                          n_blocks=n_blocks, norm=norm,
                                          output_channels=channels + 1,
                                          output_activation=None, first_padding="zero",
                                          name="generator")
        self.discriminator = classifying_discriminator(channels, ndf, n_layers_d,
                                                       image_size, self.n_domains,
                                                       "discriminator")
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "n_domains": self.n_domains, "ngf": self.ngf, "ndf": self.ndf,
            "n_blocks": self.n_blocks, "n_layers_d": self.n_layers_d, "norm": self.norm,
            "gan_mode": self.gan_mode, "lambda_gan": self.lambda_gan,
            "lambda_cls": self.lambda_cls, "lambda_cycle": self.lambda_cycle,
            "lambda_pixel": self.lambda_pixel, "lambda_tv": self.lambda_tv,
        }

    @property
    def generator_variables(self):
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self):
        return self.discriminator.trainable_variables

    # ------------------------------------------------------------------ the model
    def domain_code(self, domains, x):
        """One-hot codes of ``domains`` (an int or (B,) ints) tiled to x's (B, H, W, m)."""
        domains = ops.cast(domains, "int32")
        if len(domains.shape) == 0:
            domains = ops.full((ops.shape(x)[0],), domains, "int32")
        code = ops.one_hot(domains, self.n_domains, dtype=x.dtype)[:, None, None, :]
        return ops.tile(code, (1, ops.shape(x)[1], ops.shape(x)[2], 1))

    def _generate(self, x, domains, training=False):
        out = self.generator(ops.concatenate([x, self.domain_code(domains, x)], -1),
                             training=training)
        attention = ops.sigmoid(out[..., :1])
        content = ops.tanh(out[..., 1:])
        return AGGAN.fuse(x, attention, content), attention, content

    def discriminate(self, x, training=False):
        """(real/fake scores (B, h, w, 1), domain logits (B, n_domains))."""
        scores, logits = self.discriminator(x, training=training)
        return scores, logits

    def classify_domain(self, images, batch_size: int = 64) -> np.ndarray:
        """The discriminator's domain probabilities (N, n_domains) for uint8 or [-1, 1]
        images of the model's size."""
        from keras_attngan.models.base import to_model_range

        x, single = to_model_range(images)
        parts = [ops.convert_to_numpy(ops.softmax(ops.cast(
            self.discriminate(tf.constant(x[i:i + batch_size]))[1], "float32")))
            for i in range(0, len(x), batch_size)]
        probabilities = np.concatenate(parts)
        return probabilities[0] if single else probabilities

    def _check_domain(self, target_domain) -> None:
        if target_domain is None:
            raise ValueError(f"{type(self).__name__} translates to a target domain: pass "
                             f"target_domain=k with k in 0..{self.n_domains - 1}.")
        values = np.asarray(target_domain)
        if not np.issubdtype(values.dtype, np.integer) or values.size == 0 or \
                values.min() < 0 or values.max() >= self.n_domains:
            raise ValueError(f"target_domain must be an integer in 0..{self.n_domains - 1}; "
                             f"got {target_domain!r}.")

    def _translate(self, x, direction="to_domain", training=False, target_domain=None,
                   return_content: bool = False):
        if target_domain is None:
            self._check_domain(None)
        image, attention, content = self._generate(x, target_domain, training)
        out = {"image": image, "mask": attention}
        if return_content:
            out["content"] = content
        return out

    def call(self, x, training=False, target_domain=0):
        return self._translate(x, training=training, target_domain=target_domain)["image"]

    def translate(self, images, direction: str | None = None, batch_size: int = 8,
                  target_domain: int | None = None, **options) -> dict[str, np.ndarray]:
        """``images`` translated to domain ``target_domain`` (an int in 0..n_domains-1):
        {"image": [-1, 1], "mask": [0, 1]} (``return_content=True``: also "content")."""
        self._check_domain(target_domain)
        if np.ndim(target_domain):
            raise ValueError("translate takes one target_domain for the whole batch; call "
                             "it once per domain.")
        return super().translate(images, direction, batch_size,
                                 target_domain=int(target_domain), **options)

    def sample_rows(self, images_a, images_b=None) -> list[dict[str, Any]]:
        """One line per input: the input, then for each domain k its translation and
        mask."""
        row = {"input": images_a}
        for k in range(self.n_domains):
            image, attention, _ = self._generate(images_a, k)
            row[f"to {k}"] = image
            row[f"mask {k}"] = ops.repeat(attention * 2.0 - 1.0, 3, axis=-1)
        return [row]

    # ----------------------------------------------------------------- training
    def unpack_domain_batch(self, data) -> tuple[tf.Tensor, tf.Tensor]:
        """(images, labels) from what ``kag.data.multidomain`` yields, checked."""
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError(f"{type(self).__name__} trains on batches (images, domain "
                             "labels), as keras_attngan.data.multidomain() yields; got "
                             f"{type(data).__name__}.")
        images, labels = data
        expected = (self.image_size, self.image_size, self.channels)
        if len(images.shape) != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"Images of shape {tuple(images.shape)}, but this model was "
                             f"built for (batch, {self.image_size}, {self.image_size}, "
                             f"{self.channels}). Pass the same image_size to "
                             "kag.data.multidomain() and kag.models.build().")
        if len(labels.shape) != 1:
            raise ValueError(f"Domain labels must be (batch,) integers; got shape "
                             f"{tuple(labels.shape)}.")
        return ops.cast(images, self.compute_dtype), ops.cast(labels, "int32")

    def train_step(self, data):
        x, source = self.unpack_domain_batch(data)
        # a target among the other domains, at random
        shift = tf.random.uniform(tf.shape(source), 1, self.n_domains, dtype=tf.int32)
        target = (source + shift) % self.n_domains
        d_losses = self._discriminator_step(x, source, target)
        g_losses, mask = self._generator_step(x, source, target)
        return self.track({**d_losses, **g_losses, **self.mask_statistics({"input": mask})})

    def _cross_entropy(self, labels, logits):
        return ops.mean(keras.losses.sparse_categorical_crossentropy(
            labels, ops.cast(logits, "float32"), from_logits=True))

    def _discriminator_step(self, x, source, target):
        fake = self._generate(x, target, training=True)[0]
        with tf.GradientTape() as tape:
            real_scores, real_logits = self.discriminate(x, training=True)
            fake_scores, _ = self.discriminate(fake, training=True)
            loss = {"d_adv": losses.discriminator_adversarial(real_scores, fake_scores,
                                                              self.gan_mode),
                    # the domain head learns on real images only
                    "d_cls": self._cross_entropy(source, real_logits)}
            total = self.lambda_gan * loss["d_adv"] + self.lambda_cls * loss["d_cls"]
        self.apply_gradients(tape, total, "discriminator")
        return loss

    def _generator_step(self, x, source, target):
        with tf.GradientTape() as tape:
            fake, mask, _ = self._generate(x, target, training=True)
            scores, logits = self.discriminate(fake, training=True)
            reconstruction = self._generate(fake, source, training=True)[0]
            loss = {
                "g_adv": losses.generator_adversarial(scores, self.gan_mode),
                "g_cls": self._cross_entropy(target, logits),
                "cycle": losses.cycle_consistency(reconstruction, x),
                "pixel": losses.l1(fake, x),
                "tv": losses.total_variation(mask),
            }
            total = (self.lambda_gan * loss["g_adv"] + self.lambda_cls * loss["g_cls"]
                     + self.lambda_cycle * loss["cycle"] + self.lambda_pixel * loss["pixel"]
                     + self.lambda_tv * loss["tv"])
        self.apply_gradients(tape, total, "generator")
        return loss, mask
