"""AGGAN: Attention-Guided Generative Adversarial Networks for unsupervised
image-to-image translation (Tang, Xu, Sebe, Yan; IJCNN 2019).

Each generator produces an attention mask M (1 channel, sigmoid) and a content mask R
(3 channels, tanh) and fuses them with its input:

    G_X->Y(x) = R_y * M_y + x * (1 - M_y)

Vanilla discriminators D_X, D_Y judge images; attention-guided ones D_XA, D_YA judge
[mask, image] pairs: fake [M_y, G_y], real [M_y, y]. The generators minimise (Eq. 9)

    (1 - r) * (lambda_gan * L_GAN + lambda_tv * TV(M))
        + r * (lambda_cycle * L_cycle + lambda_pixel * L_pixel)

with least-squares GAN terms (vanilla and attention-guided), L1 cycle loss, the pixel
loss |G_X->Y(x) - x|_1 + |G_Y->X(y) - y|_1, and total variation on both attention masks.
lambda_gan multiplies the whole adversarial sum, vanilla and attention-guided terms
alike: that is Eq. 9, the objective the generators are trained with; Eq. 7 writes the
attention-guided terms' sum without it, but as a definition of that part, not as
another weighting. r is 0.01 for the first ``curriculum_epoch`` epochs (unset: 10 of the
paper's 200, i.e. 5 % of the run), then 0.5; the model's schedule sets it inside any
``fit``. Beyond the paper: unset, the switch also waits until ``curriculum_min_steps``
(1,500) training steps have run, counted inside the compiled step (so it holds for
epochs of any length, unknown included, and in resumed runs). The paper's 10 epochs are
over 10,000 steps, so at its budget this changes nothing; scaled to a short run, 5 % is
too few steps for the generator to learn a texture before the reconstruction terms take
over, and the mask then falls to 0 everywhere (the identity). On ``attngan bench
quality``'s 3,000-step texture task the switch at step 300 did exactly that (mask IoU
0.00); at step 1,500 the mask found the objects (IoU 0.85 one epoch after the switch).
``curriculum_min_steps=0`` gives the plain scaled epoch. Also beyond the paper: r rises
from r_start to r_end over ``curriculum_ramp_steps`` (900) training steps from the
switch's, one share per step, instead of at once. Switched at once, the reconstruction
terms' weight grows 50-fold in one step, and whether the mask then keeps the objects or
falls to 0 everywhere was down to the seed (the bench at 2e-4: IoU 0.89 with seed 0,
0.00 with seed 1); ramped (then by whole epochs), IoU 0.88, 0.85 and 0.88 with seeds 0,
1 and 2. ``curriculum_ramp_steps=0`` switches at once, as the paper does.
The discriminator objective is halved; image pool 50; Adam 1e-4, beta (0.5, 0.999),
batch 1, 200 epochs with linear decay to 0 after 100. Beyond the paper: a run under
20,000 steps with no rate given trains at 2e-4 (said when training starts;
``short_run_learning_rate``): in ``attngan bench quality``'s 3,000 texture steps the
paper's 1e-4 striped 0.25 of the objects; at 2e-4 seeds 0, 1 and 3 met every target.

From the paper: the fusion, the losses and their weights, the curriculum, the
discriminators (C64-C128-C256-C512-C512, global average pooling, one output) and the
generator layout (c7s1-64, d128, d256, residual blocks R256, u128, u64, c7s1-4,
Convolution-BatchNorm-ReLU) with transposed-convolution up-sampling. The number of
residual blocks falls on a page break in our copy of the paper: we use 9, the ResNet
generator the paper builds on at 256 px (the authors' code uses 6, with pixel-shuffle
up-sampling; pass ``n_blocks=6`` to follow it).

Ablations of the paper's Table II: ``attention_discriminator=False`` (no D_XA, D_YA),
``attention_loss=False`` (no TV term), ``pixel_loss=False``.
"""

from __future__ import annotations

import warnings

import keras
import tensorflow as tf
from keras import ops

from keras_attngan import losses
from keras_attngan.layers import NORMS
from keras_attngan.models.base import (
    PACKAGE, Milestone, ScheduleWarning, TranslationGAN, check_choice, step_count,
)
from keras_attngan.networks import global_discriminator, resnet_generator


@keras.saving.register_keras_serializable(package=PACKAGE)
class AGGAN(TranslationGAN):
    """AGGAN (Tang et al. 2019): generators with built-in attention and content masks,
    attention-guided discriminators. The method, the losses and every hyper-parameter
    are described in this module's docstring."""
    loss_names = ("d_x", "d_y", "d_xa", "d_ya", "g_gan", "cycle", "pixel", "tv")
    has_attention = True
    mask_domains = ("a", "b")
    collapse_advice = ("before the curriculum switch (r = 0.01) a mask near 1 is expected, "
                       "the adversarial term dominating; a mask at 0 after it means the "
                       "switch came before the generator learned the change: raise "
                       "curriculum_min_steps or curriculum_epoch, or lengthen the ramp "
                       "(curriculum_ramp_steps)")
    learning_rate = 1e-4
    # a run of a few thousand steps at 1e-4 learns too little (see the module docstring)
    short_run_learning_rate = 2e-4

    def __init__(
        self,
        image_size: int = 256,
        channels: int = 3,
        ngf: int = 64,
        ndf: int = 64,
        n_blocks: int = 9,
        norm: str = "batch",
        gan_mode: str = "lsgan",
        lambda_gan: float = 0.5,
        lambda_cycle: float = 10.0,
        lambda_pixel: float = 1.0,
        lambda_tv: float = 1e-6,
        curriculum_epoch: int | None = None,
        curriculum_min_steps: int = 1500,
        curriculum_ramp_steps: int = 900,
        r_start: float = 0.01,
        r_end: float = 0.5,
        pool_size: int = 50,
        attention_discriminator: bool = True,
        attention_loss: bool = True,
        pixel_loss: bool = True,
        **kwargs,
    ):
        super().__init__(image_size=image_size, channels=channels, pool_size=pool_size,
                         **kwargs)
        check_choice("gan_mode", gan_mode, losses.ADVERSARIAL_KINDS)
        check_choice("norm", norm, NORMS)
        self.ngf, self.ndf, self.n_blocks, self.norm = ngf, ndf, n_blocks, norm
        self.gan_mode = gan_mode
        self.lambda_gan, self.lambda_cycle = float(lambda_gan), float(lambda_cycle)
        self.lambda_pixel, self.lambda_tv = float(lambda_pixel), float(lambda_tv)
        self.curriculum_epoch = None if curriculum_epoch is None else int(curriculum_epoch)
        self.curriculum_min_steps = step_count("curriculum_min_steps", curriculum_min_steps)
        self.curriculum_ramp_steps = step_count("curriculum_ramp_steps",
                                                curriculum_ramp_steps)
        self.r_start, self.r_end = float(r_start), float(r_end)
        self.attention_discriminator = bool(attention_discriminator)
        self.attention_loss, self.pixel_loss = bool(attention_loss), bool(pixel_loss)

        def generator(name):
            # 4 linear outputs: the attention mask (1) and the content mask (3)
            return resnet_generator(channels, ngf=ngf, n_blocks=n_blocks, norm=norm,
                                    output_channels=channels + 1, output_activation=None,
                                    name=name)

        self.generator_x2y = generator("generator_x2y")
        self.generator_y2x = generator("generator_y2x")
        self.discriminator_x = global_discriminator(channels, ndf, norm, "discriminator_x")
        self.discriminator_y = global_discriminator(channels, ndf, norm, "discriminator_y")
        self.discriminator_xa = global_discriminator(channels + 1, ndf, norm,
                                                     "discriminator_xa")
        self.discriminator_ya = global_discriminator(channels + 1, ndf, norm,
                                                     "discriminator_ya")
        # r of Eq. 9, moved inside the step by _advance_curriculum
        self.reconstruction_weight = keras.Variable(self.r_start, trainable=False,
                                                    aggregation="only_first_replica",
                                                    name="reconstruction_weight")
        # pools of (generated image, its attention mask) pairs
        self.pool_x = self.make_pool("pool_x", channels=channels + 1)
        self.pool_y = self.make_pool("pool_y", channels=channels + 1)
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "ngf": self.ngf, "ndf": self.ndf, "n_blocks": self.n_blocks, "norm": self.norm,
            "gan_mode": self.gan_mode, "lambda_gan": self.lambda_gan,
            "lambda_cycle": self.lambda_cycle, "lambda_pixel": self.lambda_pixel,
            "lambda_tv": self.lambda_tv, "curriculum_epoch": self.curriculum_epoch,
            "curriculum_min_steps": self.curriculum_min_steps,
            "curriculum_ramp_steps": self.curriculum_ramp_steps,
            "r_start": self.r_start, "r_end": self.r_end,
            "attention_discriminator": self.attention_discriminator,
            "attention_loss": self.attention_loss, "pixel_loss": self.pixel_loss,
        }

    @property
    def generator_variables(self):
        return self.generator_x2y.trainable_variables + self.generator_y2x.trainable_variables

    @property
    def discriminator_variables(self):
        nets = [self.discriminator_x, self.discriminator_y]
        if self.attention_discriminator:
            nets += [self.discriminator_xa, self.discriminator_ya]
        return [v for net in nets for v in net.trainable_variables]

    paper_curriculum_epoch = 10

    def schedule_epochs(self):
        """The decay start and the curriculum switch (``curriculum_epoch``)."""
        return super().schedule_epochs() + [Milestone(
            "curriculum_epoch", self.curriculum_epoch, self.paper_curriculum_epoch,
            f"curriculum r from {self.r_start} to {self.r_end} at epoch",
            min_steps=self.curriculum_min_steps, min_steps_option="curriculum_min_steps")]

    def start_schedule(self, epochs=None, steps_per_epoch=None, verbose=False):
        """The base schedule, and a warning when the run ends before r's ramp does."""
        resolved = super().start_schedule(epochs, steps_per_epoch, verbose)
        if steps_per_epoch and self.curriculum_ramp_steps:
            milestone = next(m for m in self.schedule_epochs()
                             if m.name == "curriculum_epoch")
            start = max(resolved["curriculum_epoch"] * steps_per_epoch,
                        milestone.step_minimum)
            total = self._run_epochs * steps_per_epoch
            if start < total < start + self.curriculum_ramp_steps:
                reached = self.r_start + (self.r_end - self.r_start) * (
                    (total - start) / self.curriculum_ramp_steps)
                warnings.warn(
                    f"AGGAN: r's ramp (curriculum_ramp_steps={self.curriculum_ramp_steps}) "
                    f"starts at step {start} and this run ends at step {total}, so r "
                    f"reaches only {reached:.2f} of {self.r_end}. Train for more steps or "
                    "lower curriculum_ramp_steps.", ScheduleWarning, stacklevel=2)
        return resolved

    def describe_schedule(self) -> str:
        """The schedule as printed when training starts, with how r ramps."""
        how = ("at once (the paper's switch)" if not self.curriculum_ramp_steps else
               f"linearly over {self.curriculum_ramp_steps} steps from the switch's")
        return (super().describe_schedule() + f"\n  curriculum r rises {how} "
                f"(curriculum_ramp_steps={self.curriculum_ramp_steps})")

    def _advance_curriculum(self, due) -> None:
        """Where ``due`` (inside the step), r takes its next step from r_start to r_end:
        one ``curriculum_ramp_steps``-th of the way per training step, all at once
        when that is 0. r is the ramp's state: it is saved, so a resumed run goes on
        where it was."""
        r, span, n = self.reconstruction_weight, self.r_end - self.r_start, \
            self.curriculum_ramp_steps
        if n and span:
            done = ops.round((ops.cast(r, "float32") - self.r_start) / span * n)
            following = self.r_start + span * ops.minimum(done + 1.0, n) / n
        else:
            following = ops.convert_to_tensor(self.r_end, "float32")
        r.assign(ops.where(due, following, r))

    def switch_opened(self, name: str) -> bool | None:
        """Whether the curriculum switch happened (r has left r_start)."""
        if name != "curriculum_epoch":
            return None
        return bool(ops.convert_to_numpy(self.reconstruction_weight) != self.r_start) \
            or self.r_start == self.r_end

    def schedule_logs(self):
        """The learning rate and ``curriculum_r``."""
        return {**super().schedule_logs(),
                "curriculum_r": float(ops.convert_to_numpy(self.reconstruction_weight))}

    # ------------------------------------------------------------------ the model
    @staticmethod
    def fuse(x, attention, content):
        """G(x) = R * M + x * (1 - M), the mask broadcast over the channels."""
        return content * attention + x * (1.0 - attention)

    def _generate(self, x, direction: str, training=False):
        generator = self.generator_x2y if direction == "a2b" else self.generator_y2x
        out = generator(x, training=training)
        attention = ops.sigmoid(out[..., :1])
        content = ops.tanh(out[..., 1:])
        return self.fuse(x, attention, content), attention, content

    def _translate(self, x, direction, training=False, return_content: bool = False):
        image, attention, content = self._generate(x, direction, training)
        out = {"image": image, "mask": attention}
        if return_content:
            out["content"] = content
        return out

    def sample_rows(self, images_a, images_b):
        """Per direction: input, attention mask, content mask and translation."""
        rows = []
        for direction, x in zip(self.directions, (images_a, images_b)):
            image, attention, content = self._generate(x, direction)
            rows.append({"input": x, "mask": ops.repeat(attention * 2.0 - 1.0, 3, -1),
                         "content": content, "translation": image})
        return rows

    # ----------------------------------------------------------------- training
    def train_step(self, data):
        real_x, real_y = self.unpack_batch(data)
        self._advance_curriculum(self.switch_due("curriculum_epoch"))
        g_losses, fakes = self._generator_step(real_x, real_y)
        d_losses = self._discriminator_step(real_x, real_y, self.pool_x.query(fakes["x"]),
                                            self.pool_y.query(fakes["y"]))
        c = self.channels
        return self.track({**g_losses, **d_losses, **self.mask_statistics(
            {"a": fakes["y"][..., c:], "b": fakes["x"][..., c:]})})

    def _adversarial(self, discriminator, images):
        return losses.generator_adversarial(discriminator(images, training=True),
                                            self.gan_mode)

    def generator_objective(self, loss, r):
        """Eq. 9: (1 - r) (lambda_gan GAN + lambda_tv TV) + r (lambda_cycle cycle +
        lambda_pixel pixel), without the terms the ablation switches turn off."""
        adversarial = self.lambda_gan * loss["g_gan"]
        if self.attention_loss:
            adversarial += self.lambda_tv * loss["tv"]
        reconstruction = self.lambda_cycle * loss["cycle"]
        if self.pixel_loss:
            reconstruction += self.lambda_pixel * loss["pixel"]
        return (1.0 - r) * adversarial + r * reconstruction

    def _generator_step(self, real_x, real_y):
        r = ops.cast(self.reconstruction_weight, "float32")
        with tf.GradientTape() as tape:
            fake_y, mask_y, _ = self._generate(real_x, "a2b", training=True)
            fake_x, mask_x, _ = self._generate(real_y, "b2a", training=True)
            rec_x = self._generate(fake_y, "b2a", training=True)[0]
            rec_y = self._generate(fake_x, "a2b", training=True)[0]
            gan = (self._adversarial(self.discriminator_y, fake_y)
                   + self._adversarial(self.discriminator_x, fake_x))
            if self.attention_discriminator:
                gan += self._adversarial(self.discriminator_ya,
                                         ops.concatenate([mask_y, fake_y], -1))
                gan += self._adversarial(self.discriminator_xa,
                                         ops.concatenate([mask_x, fake_x], -1))
            loss = {
                "g_gan": gan,
                "cycle": losses.cycle_consistency(rec_x, real_x)
                + losses.cycle_consistency(rec_y, real_y),
                # the pixel loss keeps each translation close to its input
                "pixel": losses.l1(fake_y, real_x) + losses.l1(fake_x, real_y),
                "tv": losses.total_variation(mask_y) + losses.total_variation(mask_x),
            }
            total = self.generator_objective(loss, r)
        self.apply_gradients(tape, total, "generator")
        fakes = {"x": ops.concatenate([fake_x, mask_x], -1),
                 "y": ops.concatenate([fake_y, mask_y], -1)}
        return loss, fakes

    def _discriminator_step(self, real_x, real_y, pooled_x, pooled_y):
        c = self.channels
        with tf.GradientTape() as tape:
            loss = {}
            for domain, real, pooled in (("x", real_x, pooled_x), ("y", real_y, pooled_y)):
                fake, mask = pooled[..., :c], pooled[..., c:]
                plain = getattr(self, f"discriminator_{domain}")
                loss[f"d_{domain}"] = losses.discriminator_adversarial(
                    plain(real, training=True), plain(fake, training=True), self.gan_mode)
                if self.attention_discriminator:
                    guided = getattr(self, f"discriminator_{domain}a")
                    # real pair [M, real image], fake pair [M, generated image]
                    loss[f"d_{domain}a"] = losses.discriminator_adversarial(
                        guided(ops.concatenate([mask, real], -1), training=True),
                        guided(ops.concatenate([mask, fake], -1), training=True),
                        self.gan_mode)
                else:
                    loss[f"d_{domain}a"] = tf.zeros(())
            # discriminator_adversarial already halves each objective (Eq. 9's "/ 2")
            total = loss["d_x"] + loss["d_y"] + loss["d_xa"] + loss["d_ya"]
        self.apply_gradients(tape, total, "discriminator")
        return loss
