"""CycleGAN (Zhu, Park, Isola, Efros, ICCV 2017): the baseline of every model here.

Two generators G_a2b: A -> B, G_b2a: B -> A and two discriminators D_a, D_b (D_b tells real
B images from G_a2b's). The generators minimise

    L = L_GAN(G_a2b, D_b) + L_GAN(G_b2a, D_a)
        + lambda_cycle * (|G_b2a(G_a2b(a)) - a|_1 + |G_a2b(G_b2a(b)) - b|_1)
        + lambda_cycle * lambda_identity * (|G_a2b(b) - b|_1 + |G_b2a(a) - a|_1)

with least-squares GAN losses; the discriminators train on a history of 50 generated
images. Defaults are the reference implementation's: ResNet-9 generator (ngf 64), 70x70
PatchGAN (ndf 64), instance norm, lambda_cycle 10, lambda_identity 0.5, Adam 2e-4 with
beta_1 0.5, batch 1, 100 epochs at constant rate then 100 decaying linearly to 0.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_attngan import losses
from keras_attngan.layers import NORMS
from keras_attngan.models.base import PACKAGE, TranslationGAN, check_choice
from keras_attngan.networks import patch_discriminator, resnet_generator


@keras.saving.register_keras_serializable(package=PACKAGE)
class CycleGAN(TranslationGAN):
    """CycleGAN (Zhu et al. 2017): two ResNet generators, two PatchGAN discriminators,
    cycle and identity losses. The baseline every other model is compared with; see
    this module's docstring."""
    loss_names = ("d_a", "g_a2b", "cycle_a", "idt_a", "d_b", "g_b2a", "cycle_b", "idt_b")

    def __init__(
        self,
        image_size: int = 256,
        channels: int = 3,
        ngf: int = 64,
        ndf: int = 64,
        n_blocks: int = 9,
        n_layers_d: int = 3,
        norm: str = "instance",
        gan_mode: str = "lsgan",
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        **kwargs,
    ):
        super().__init__(image_size=image_size, channels=channels, pool_size=pool_size,
                         **kwargs)
        check_choice("gan_mode", gan_mode, losses.ADVERSARIAL_KINDS)
        check_choice("norm", norm, NORMS)
        self.ngf, self.ndf, self.n_blocks, self.n_layers_d = ngf, ndf, n_blocks, n_layers_d
        self.norm, self.gan_mode = norm, gan_mode
        self.lambda_cycle, self.lambda_identity = float(lambda_cycle), float(lambda_identity)

        def generator(name):
            return resnet_generator(channels, ngf=ngf, n_blocks=n_blocks, norm=norm, name=name)

        def discriminator(name):
            return patch_discriminator(channels, ndf=ndf, n_layers=n_layers_d, norm=norm,
                                       name=name)

        self.generator_a2b = generator("generator_a2b")
        self.generator_b2a = generator("generator_b2a")
        self.discriminator_a = discriminator("discriminator_a")
        self.discriminator_b = discriminator("discriminator_b")
        self.pool_a = self.make_pool("pool_a")
        self.pool_b = self.make_pool("pool_b")
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "ngf": self.ngf, "ndf": self.ndf, "n_blocks": self.n_blocks,
            "n_layers_d": self.n_layers_d, "norm": self.norm, "gan_mode": self.gan_mode,
            "lambda_cycle": self.lambda_cycle, "lambda_identity": self.lambda_identity,
        }

    @property
    def generator_variables(self):
        return self.generator_a2b.trainable_variables + self.generator_b2a.trainable_variables

    @property
    def discriminator_variables(self):
        return (self.discriminator_a.trainable_variables
                + self.discriminator_b.trainable_variables)

    def _translate(self, x, direction, training=False):
        generator = self.generator_a2b if direction == "a2b" else self.generator_b2a
        return {"image": generator(x, training=training)}

    def train_step(self, data):
        real_a, real_b = self.unpack_batch(data)
        g_losses, fake_a, fake_b = self._generator_step(real_a, real_b)
        d_losses = self._discriminator_step(real_a, real_b, self.pool_a.query(fake_a),
                                            self.pool_b.query(fake_b))
        return self.track({**g_losses, **d_losses})

    def generator_objective(self, loss):
        """GAN terms + lambda_cycle cycle + lambda_cycle * lambda_identity identity (the
        reference's identity weight is relative to the cycle weight)."""
        return (loss["g_a2b"] + loss["g_b2a"]
                + self.lambda_cycle * (loss["cycle_a"] + loss["cycle_b"])
                + self.lambda_cycle * self.lambda_identity * (loss["idt_a"] + loss["idt_b"]))

    def _generator_step(self, real_a, real_b):
        with tf.GradientTape() as tape:
            fake_b = self.generator_a2b(real_a, training=True)
            fake_a = self.generator_b2a(real_b, training=True)
            loss = {
                "g_a2b": losses.generator_adversarial(
                    self.discriminator_b(fake_b, training=True), self.gan_mode),
                "g_b2a": losses.generator_adversarial(
                    self.discriminator_a(fake_a, training=True), self.gan_mode),
                "cycle_a": losses.cycle_consistency(
                    self.generator_b2a(fake_b, training=True), real_a),
                "cycle_b": losses.cycle_consistency(
                    self.generator_a2b(fake_a, training=True), real_b),
            }
            if self.lambda_identity > 0:
                # G_a2b should leave B images alone (and G_b2a A images): keeps colours.
                loss["idt_a"] = losses.identity(self.generator_a2b(real_b, training=True),
                                                real_b)
                loss["idt_b"] = losses.identity(self.generator_b2a(real_a, training=True),
                                                real_a)
            else:
                loss["idt_a"] = loss["idt_b"] = tf.zeros(())
            total = self.generator_objective(loss)
        self.apply_gradients(tape, total, "generator")
        return loss, fake_a, fake_b

    def _discriminator_step(self, real_a, real_b, fake_a, fake_b):
        with tf.GradientTape() as tape:
            loss = {
                "d_a": losses.discriminator_adversarial(
                    self.discriminator_a(real_a, training=True),
                    self.discriminator_a(fake_a, training=True), self.gan_mode),
                "d_b": losses.discriminator_adversarial(
                    self.discriminator_b(real_b, training=True),
                    self.discriminator_b(fake_b, training=True), self.gan_mode),
            }
            total = loss["d_a"] + loss["d_b"]
        self.apply_gradients(tape, total, "discriminator")
        return loss
