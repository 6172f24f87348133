"""UNIT: Unsupervised Image-to-Image Translation Networks (Liu, Breuel, Kautz; NIPS 2017).

Two VAE-GANs tied by a shared latent space: encoders E1, E2 map images to the mean of a
unit-variance Gaussian latent code, generators G1, G2 decode codes into images, and the
last ``n_shared`` layers of E1 and E2, like the first ``n_shared`` of G1 and G2, are the
same layers. Translation is x1 -> E1 -> z -> G2. In training z = mu + eta with
eta ~ N(0, I); at inference z = mu. The objective (Eq. 2-8):

    VAE_i   = lambda1 * KL(q_i(z|x_i) || N(0, I)) + lambda2 * |G_i(z_i) - x_i|_1
    GAN_i   = lambda0 * GAN loss of D_i on G_i(z_j), x_i       (translations only)
    CC_i    = lambda3 * (KL(q_i(z|x_i)) + KL(q_j(z|x_i->j))) + lambda4 * |G_i(E_j(x_i->j)) - x_i|_1

with lambda0 = 10, lambda1 = 0.1, lambda2 = 100, lambda3 = 0.1, lambda4 = 100. The KL
of a unit-variance Gaussian against N(0, I) is, up to constants, the mean of mu^2, as in
the authors' code. Updates alternate: discriminators, then encoders and generators;
Adam 1e-4, beta (0.5, 0.999), one image per domain per batch, at a constant rate: the
paper states no decay (the authors' code halves the rate every 100k iterations; we
follow the paper). ``decay_start`` gives a linear decay if wanted. Beyond the paper: a
run under 20,000 steps with no rate given trains at 2e-4 (said when training starts;
``short_run_learning_rate``): the paper's 1e-4 is for hundreds of thousands of
iterations, and in ``attngan bench quality``'s 3,000 digits steps it kept 0.88 of the
digits (mean of 3 seeds) against 0.91 at 2e-4.

From the paper: the objective and weights, weight sharing (n_shared = 1 by default; the
paper's Fig. 2 ablates 1 to 4), encoders of three convolutions and four residual blocks,
generators of four residual blocks and three transposed convolutions, 5-layer
discriminators, LeakyReLU. From the authors' code where the paper is silent: layer
widths (64-128-256), 7x7 first convolution, instance norm, the mean-of-mu^2 KL, the
non-saturating GAN loss. Their later master branch dropped the weight sharing; the
paper's model shares, and so does this one (``n_shared=0`` turns it off, for the
ablation: each domain then owns all ``n_blocks`` blocks, so the networks keep their depth
and only the tying goes, as in the paper's comparison of sharing depths). There is no
image pool (the paper uses none): ``pool_size`` defaults to 0.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_attngan import losses
from keras_attngan.layers import NORMS
from keras_attngan.models.base import PACKAGE, TranslationGAN, check_choice
from keras_attngan.networks import (
    conv_discriminator, residual_stack, unit_decoder_back, unit_encoder_front,
)


def kl_unit_gaussian(mu):
    """KL(N(mu, I) || N(0, I)) up to its constant and factor: mean(mu^2)."""
    return ops.mean(ops.square(ops.cast(mu, "float32")))


@keras.saving.register_keras_serializable(package=PACKAGE)
class UNIT(TranslationGAN):
    """UNIT (Liu et al. 2017): two VAE-GANs with a shared latent space; translation
    encodes with one domain's encoder and decodes with the other's generator. See
    this module's docstring."""
    loss_names = ("d_1", "d_2", "gan_1", "gan_2", "recon_1", "recon_2", "kl",
                  "cycle_kl", "cycle_1", "cycle_2")
    learning_rate = 1e-4
    # a run of a few thousand steps at 1e-4 learns too little (see the module docstring)
    short_run_learning_rate = 2e-4
    paper_epochs = 100
    paper_decay_start = 100  # the paper states no decay: a constant rate

    def __init__(
        self,
        image_size: int = 256,
        channels: int = 3,
        ngf: int = 64,
        ndf: int = 64,
        n_blocks: int = 4,
        n_shared: int = 1,
        n_layers_d: int = 5,
        norm: str = "instance",
        activation: str = "leaky_relu",
        gan_mode: str = "vanilla",
        lambda_gan: float = 10.0,
        lambda_kl: float = 0.1,
        lambda_recon: float = 100.0,
        lambda_cycle_kl: float = 0.1,
        lambda_cycle: float = 100.0,
        cycle: bool = True,
        pool_size: int = 0,
        **kwargs,
    ):
        super().__init__(image_size=image_size, channels=channels, pool_size=pool_size,
                         **kwargs)
        check_choice("gan_mode", gan_mode, losses.ADVERSARIAL_KINDS)
        check_choice("norm", norm, NORMS)
        if not 0 <= n_shared <= n_blocks:
            raise ValueError(f"n_shared={n_shared} must lie in [0, n_blocks={n_blocks}].")
        self.ngf, self.ndf, self.n_blocks, self.n_shared = ngf, ndf, n_blocks, n_shared
        self.n_layers_d, self.norm, self.activation = n_layers_d, norm, activation
        self.gan_mode = gan_mode
        self.lambda_gan, self.lambda_kl = float(lambda_gan), float(lambda_kl)
        self.lambda_recon, self.lambda_cycle_kl = float(lambda_recon), float(lambda_cycle_kl)
        self.lambda_cycle, self.cycle = float(lambda_cycle), bool(cycle)

        self.build_networks()
        self.pool_1 = self.make_pool("pool_1")
        self.pool_2 = self.make_pool("pool_2")
        self.built = True

    def build_networks(self) -> None:
        """E1, E2, G1, G2 (their shared layers once) and D1, D2; a variant with other
        networks (``unit_da``) overrides this and keeps the rest."""
        ngf, width = self.ngf, 4 * self.ngf
        common = dict(n_blocks=self.n_blocks, n_shared=self.n_shared, norm=self.norm,
                      act=self.activation)
        channels, norm = self.channels, self.norm
        self.encoder_front_1 = unit_encoder_front(channels, ngf, name="encoder_front_1",
                                                  **common)
        self.encoder_front_2 = unit_encoder_front(channels, ngf, name="encoder_front_2",
                                                  **common)
        self.shared_encoder = residual_stack(width, self.n_shared, norm, name="shared_encoder")
        self.shared_decoder = residual_stack(width, self.n_shared, norm, name="shared_decoder")
        self.decoder_back_1 = unit_decoder_back(width, channels, name="decoder_back_1",
                                                **common)
        self.decoder_back_2 = unit_decoder_back(width, channels, name="decoder_back_2",
                                                **common)
        self.discriminator_1 = conv_discriminator(channels, self.ndf, self.n_layers_d,
                                                  "discriminator_1")
        self.discriminator_2 = conv_discriminator(channels, self.ndf, self.n_layers_d,
                                                  "discriminator_2")

    def get_config(self):
        return {
            **super().get_config(),
            "ngf": self.ngf, "ndf": self.ndf, "n_blocks": self.n_blocks,
            "n_shared": self.n_shared, "n_layers_d": self.n_layers_d, "norm": self.norm,
            "activation": self.activation, "gan_mode": self.gan_mode,
            "lambda_gan": self.lambda_gan, "lambda_kl": self.lambda_kl,
            "lambda_recon": self.lambda_recon, "lambda_cycle_kl": self.lambda_cycle_kl,
            "lambda_cycle": self.lambda_cycle, "cycle": self.cycle,
        }

    @property
    def generator_variables(self):
        """Encoders and generators, the shared layers once."""
        nets = (self.encoder_front_1, self.encoder_front_2, self.shared_encoder,
                self.shared_decoder, self.decoder_back_1, self.decoder_back_2)
        return [v for net in nets for v in net.trainable_variables]

    @property
    def discriminator_variables(self):
        return (self.discriminator_1.trainable_variables
                + self.discriminator_2.trainable_variables)

    # ------------------------------------------------------- the shared latent space
    @staticmethod
    def _domain(domain) -> int:
        index = {"a": 1, "b": 2, "1": 1, "2": 2, 1: 1, 2: 2}.get(domain)
        if index is None:
            raise ValueError(f"domain must be 'a' (1) or 'b' (2); got {domain!r}.")
        return index

    def encode(self, x, domain="a", training=False):
        """The latent code's mean mu for images ``x`` of ``domain`` ('a'/1 or 'b'/2)."""
        front = self.encoder_front_1 if self._domain(domain) == 1 else self.encoder_front_2
        return self.shared_encoder(front(x, training=training), training=training)

    def decode(self, z, domain="a", training=False):
        """Images of ``domain`` for latent codes ``z``."""
        back = self.decoder_back_1 if self._domain(domain) == 1 else self.decoder_back_2
        return back(self.shared_decoder(z, training=training), training=training)

    def discriminate(self, x, domain="a", training=False):
        """D_i's real/fake logits for images ``x`` of ``domain``."""
        net = self.discriminator_1 if self._domain(domain) == 1 else self.discriminator_2
        return net(x, training=training)

    def _translate(self, x, direction, training=False):
        source, target = direction[0], direction[-1]
        return {"image": self.decode(self.encode(x, source, training), target, training)}

    # ----------------------------------------------------------------- training
    def train_step(self, data):
        x1, x2 = self.unpack_batch(data)
        d_losses = self._discriminator_step(x1, x2, self.unpack_labels(data))
        g_losses = self._generator_step(x1, x2)
        return self.track({**d_losses, **g_losses})

    def _sample(self, mu):
        return mu + tf.random.normal(tf.shape(mu), dtype=mu.dtype)

    def _discriminator_step(self, x1, x2, labels=None):
        # translations from the current encoders and generators, held fixed here
        x12 = self.decode(self._sample(self.encode(x1, 1, True)), 2, True)
        x21 = self.decode(self._sample(self.encode(x2, 2, True)), 1, True)
        with tf.GradientTape() as tape:
            loss = self.discriminator_losses(x1, x2, x12, x21, labels)
            total = self.discriminator_objective(loss)
        self.apply_gradients(tape, total, "discriminator")
        return loss

    def discriminator_losses(self, x1, x2, x12, x21, labels=None) -> dict:
        """lambda0 times the GAN terms of D1 and D2 (Eq. 3, 4) on real images and
        (pooled) translations; ``x12``, ``x21`` are the translations of ``x1``, ``x2``."""
        fake_12, fake_21 = self.pool_2.query(x12), self.pool_1.query(x21)
        return {
            "d_1": self.lambda_gan * losses.discriminator_adversarial(
                self.discriminate(x1, 1, True), self.discriminate(fake_21, 1, True),
                self.gan_mode),
            "d_2": self.lambda_gan * losses.discriminator_adversarial(
                self.discriminate(x2, 2, True), self.discriminate(fake_12, 2, True),
                self.gan_mode),
        }

    def discriminator_objective(self, loss):
        """The two discriminators' losses, summed."""
        return loss["d_1"] + loss["d_2"]

    def generator_objective(self, loss):
        """Eq. 2-8 for the encoders and generators: lambda0 GAN + lambda1 KL + lambda2 L1
        (VAEs) + lambda3 KL + lambda4 L1 (cycle, unless ``cycle=False``)."""
        total = (self.lambda_gan * (loss["gan_1"] + loss["gan_2"])
                 + self.lambda_kl * loss["kl"]
                 + self.lambda_recon * (loss["recon_1"] + loss["recon_2"]))
        if self.cycle:
            total += (self.lambda_cycle_kl * loss["cycle_kl"]
                      + self.lambda_cycle * (loss["cycle_1"] + loss["cycle_2"]))
        return total

    def _generator_step(self, x1, x2):
        with tf.GradientTape() as tape:
            mu1, mu2 = self.encode(x1, 1, True), self.encode(x2, 2, True)
            z1, z2 = self._sample(mu1), self._sample(mu2)
            x11, x22 = self.decode(z1, 1, True), self.decode(z2, 2, True)  # within domain
            x12, x21 = self.decode(z1, 2, True), self.decode(z2, 1, True)  # translations
            mu12, mu21 = self.encode(x12, 2, True), self.encode(x21, 1, True)
            x121 = self.decode(self._sample(mu12), 1, True)
            x212 = self.decode(self._sample(mu21), 2, True)
            loss = {
                "gan_1": losses.generator_adversarial(
                    self.discriminate(x21, 1, True), self.gan_mode),
                "gan_2": losses.generator_adversarial(
                    self.discriminate(x12, 2, True), self.gan_mode),
                "recon_1": losses.l1(x11, x1),
                "recon_2": losses.l1(x22, x2),
                "kl": kl_unit_gaussian(mu1) + kl_unit_gaussian(mu2),
                "cycle_1": losses.cycle_consistency(x121, x1),
                "cycle_2": losses.cycle_consistency(x212, x2),
                # Eq. 7: lambda3 KL on q(z|x) and on q(z|x->), then lambda4 L1
                "cycle_kl": kl_unit_gaussian(mu1) + kl_unit_gaussian(mu2)
                + kl_unit_gaussian(mu12) + kl_unit_gaussian(mu21),
            }
            total = self.generator_objective(loss)
        self.apply_gradients(tape, total, "generator")
        return loss
