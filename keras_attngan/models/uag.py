"""UAG: Unsupervised Attention-guided Image-to-Image Translation (Mejjati, Richardt,
Tompkin, Cosker, Kim; NeurIPS 2018).

Each CycleGAN generator gets an attention network that says where to translate:

    s'  = A_S(s) * F_S->T(s) + (1 - A_S(s)) * s              (mapped image)
    s'' = A_T(s') * F_T->S(s') + (1 - A_T(s')) * s'           (cycle: attention on s')

with least-squares adversarial losses and L1 cycle losses (lambda_cyc = 10), the same for
t. For the first ``attention_stop_epoch`` (30 of 100) epochs the discriminators see
whole images. From then on the attention networks stop training and the discriminators see
only attended regions, thresholded at tau = 0.1 and without instance normalisation:
t_new = t where A_T(t) > tau else 0, s'_new = F_S->T(s) where A_S(s) > tau else 0.

From the paper: the equations, the networks of the appendix (generator c7s1-32, c3s2-64,
c3s2-128, residual blocks r128, tc64s2, tc32s2, c7s1-3-T; attention network; 70x70
PatchGAN discriminator), lambda_cyc, tau, the epoch-30 switch and 100 epochs. From the
authors' released code where the appendix is silent: 9 residual blocks in the
generator, 1 in the attention network, the attention network's stride-2 first layer,
instance norm on every discriminator layer but the last, the first included (their
latest code normalises c1 with the same switch as the others; an earlier version did
not), the generator seeing the whole image, Adam with beta_1 0.5 and rate 2e-4 (1e-4
for horse<->zebra: a recipe setting), constant for half the epochs then linear decay to
0 (their rule, base * (1 - (epoch - half) / half), differs from CycleGAN's by one epoch
in where the ramp starts; we use CycleGAN's rule for every model), and a pool of 50
that stores (image, mask) pairs.

The schedule belongs to the model and runs inside any ``fit``: ``attention_stop_epoch``
unset is 30 % of the run (30 of the paper's 100 epochs), and (beyond the paper) no
earlier than ``attention_stop_min_steps`` (1,800) training steps, counted inside the
compiled step (so the stop comes at its step with epochs of any length, unknown
included, and in resumed runs): the paper's 30 epochs are some 30,000 steps, which this
minimum does not move, but 30 % of a short run leaves the masks frozen half-learned (on
the benchmark's 3,000-step texture task, a stop at step 900 froze them at 0.46 on the
objects and 0.23 on the background). An explicit value the run never reaches is
refused; a minimum the run never reaches is warned of. From the stop's step the
attention networks' rate is 0, and from the next epoch they are out of the compiled step
(no gradient, no optimiser step): their weights, running statistics included, stay
bit-identical. With ``masked_stage_norm=False`` (the paper's), the discriminators'
instance norms switch off.

Three choices made by ``attngan bench quality`` (64 px texture task, 3,000 steps; figures
in the README), each documented and switchable:

- ``attention_layers="authors"`` (default): the attention network's decoder and output
  convolutions are 1x1, as the authors' code computes them (an argument-order slip);
  ``"paper"`` gives the appendix's 3x3 and 7x7. With the appendix's the mask collapsed
  to 0 everywhere within 300 steps (49x the weights feed the output logit, so each
  Adam step moves it further) and stayed there, a zero mask passing the generator no
  gradient; the 1x1 mask sits on the objects (IoU 0.82). On a short colour change (the
  demo test's 64 steps) the 7x7 output learns faster; ``attngan demo`` uses it.
- ``masked_stage_norm=True`` (default; beyond the paper): the discriminators keep their
  instance norm in the masked stage, where the paper and the authors' code switch it
  off (``False``). Switched off, the generators that striped every object at the stop
  drew rings one epoch later (objects striped 0.01; kept on: 0.99); a threshold of 0.5
  in place of 0.1 did not save them (0.06).
- ``attention_norm="running_instance"`` (default; beyond the paper): instance norm while
  training, running means of the real training images' statistics at inference
  (``layers.RunningInstanceNorm``; generated images in the cycle pass do not move them,
  nor does anything after the stop). Instance norm makes the mask relative to the image:
  on an object-free image it still finds an object-sized region (14 % of the pixels
  above 0.5), which the generator then repaints (empty images 20.5 dB); beside an image
  with an object, the same clutter stays dark (0.4 %). With the running statistics,
  object-free images are left alone (39.7 dB) and the mask on objects is unchanged.
  Training is unchanged; ``"instance"`` is the paper's. Without normalisation
  (``"none"``) the mask collapsed to 0.

``attention_bias`` starts the output logit elsewhere than 0 (beyond the paper; with the
appendix's layers a start at 2 did not prevent the collapse).

``masked_fake``: what the masked stage shows a discriminator of a fake. ``"raw"``
(default) is the paper's F_S->T(s) where A_S(s) > tau; ``"translation"`` is the authors'
code's s' there (their discriminator multiplies the image it is given, the
translation, by the thresholded mask). The two agree where the mask is near 0 or 1;
where it stays near one half, only the translation's adversarial loss asks the
generator to make up for the input the mask lets through.

Ablations of the paper's Table 2: ``cycle_loss=False``, ``reuse_attention=True`` (the
cycle pass re-uses A_S(s) instead of A_T(s')), ``attention_a`` / ``attention_b`` False
(that side translates the whole image, mask = 1), ``masked_discriminator=False``
(whole-image discriminators throughout) and ``stop_attention=False``.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_attngan import losses
from keras_attngan.layers import NORMS, SwitchableInstanceNorm, statistics_learning
from keras_attngan.models.base import (
    PACKAGE, Milestone, TranslationGAN, check_choice, step_count,
)
from keras_attngan.networks import attention_net, patch_discriminator, resnet_generator


@keras.saving.register_keras_serializable(package=PACKAGE)
class UAG(TranslationGAN):
    """UAG (Mejjati et al. 2018): CycleGAN generators guided by separate attention
    networks, and discriminators that judge only the attended regions after the
    attention stops. See this module's docstring."""
    loss_names = ("d_a", "g_a2b", "cycle_a", "d_b", "g_b2a", "cycle_b")
    has_attention = True
    mask_domains = ("a", "b")
    collapse_advice = ("the appendix's attention layers (attention_layers=paper) collapse "
                       "so on texture changes, the default 1x1 ones drift less per step; "
                       "try a lower attention learning rate or a later "
                       "attention_stop_epoch")
    optimizer_roles = ("generator", "attention", "discriminator")
    paper_epochs = 100
    paper_decay_start = 50

    def __init__(
        self,
        image_size: int = 256,
        channels: int = 3,
        ngf: int = 32,
        ndf: int = 64,
        n_blocks: int = 9,
        attention_ngf: int = 32,
        attention_blocks: int = 1,
        attention_layers: str = "authors",
        attention_bias: float = 0.0,
        attention_norm: str = "running_instance",
        gan_mode: str = "lsgan",
        lambda_cycle: float = 10.0,
        attention_stop_epoch: int | None = None,
        attention_stop_min_steps: int = 1800,
        threshold: float = 0.1,
        pool_size: int = 50,
        cycle_loss: bool = True,
        reuse_attention: bool = False,
        attention_a: bool = True,
        attention_b: bool = True,
        masked_discriminator: bool = True,
        masked_stage_norm: bool = True,
        stop_attention: bool = True,
        masked_fake: str = "raw",
        **kwargs,
    ):
        super().__init__(image_size=image_size, channels=channels, pool_size=pool_size,
                         **kwargs)
        check_choice("gan_mode", gan_mode, losses.ADVERSARIAL_KINDS)
        check_choice("attention_norm", attention_norm, NORMS)
        check_choice("attention_layers", attention_layers, ("authors", "paper"))
        check_choice("masked_fake", masked_fake, ("raw", "translation"))
        self.ngf, self.ndf, self.n_blocks = ngf, ndf, n_blocks
        self.attention_ngf, self.attention_blocks = attention_ngf, attention_blocks
        self.attention_layers, self.attention_bias = attention_layers, float(attention_bias)
        self.attention_norm = attention_norm
        self.gan_mode, self.lambda_cycle = gan_mode, float(lambda_cycle)
        self.attention_stop_epoch = (None if attention_stop_epoch is None
                                     else int(attention_stop_epoch))
        self.attention_stop_min_steps = step_count("attention_stop_min_steps",
                                                   attention_stop_min_steps)
        self.threshold = float(threshold)
        self.cycle_loss, self.reuse_attention = bool(cycle_loss), bool(reuse_attention)
        self.attention_a, self.attention_b = bool(attention_a), bool(attention_b)
        self.masked_discriminator, self.stop_attention = (bool(masked_discriminator),
                                                          bool(stop_attention))
        self.masked_stage_norm = bool(masked_stage_norm)
        self.masked_fake = masked_fake

        self.generator_a2b = resnet_generator(channels, ngf=ngf, n_blocks=n_blocks,
                                              name="generator_a2b")
        self.generator_b2a = resnet_generator(channels, ngf=ngf, n_blocks=n_blocks,
                                              name="generator_b2a")
        self.attention_net_a, self.attention_net_b = (
            attention_net(channels, attention_ngf, attention_blocks,
                          layers_from=attention_layers, output_bias=self.attention_bias,
                          norm=attention_norm, name=f"attention_{d}") for d in "ab")
        self.discriminator_a = patch_discriminator(channels, ndf, norm="switchable_instance",
                                                   first_norm=True, name="discriminator_a")
        self.discriminator_b = patch_discriminator(channels, ndf, norm="switchable_instance",
                                                   first_norm=True, name="discriminator_b")
        # 1.0 once the discriminators see only attended regions, and once the attention
        # networks stop training: one-way switches set inside the step (_advance_stage)
        self.masked_stage = keras.Variable(0.0, trainable=False, name="masked_stage",
                                           aggregation="only_first_replica")
        self.attention_frozen = keras.Variable(0.0, trainable=False, name="attention_frozen",
                                               aggregation="only_first_replica")
        # attention_frozen as a Python value between epochs, read when the step is traced
        self._attention_stopped = False
        # The pools hold (mapped image, raw generator output, mask) for each fake.
        self.pool_a = self.make_pool("pool_a", channels=2 * channels + 1)
        self.pool_b = self.make_pool("pool_b", channels=2 * channels + 1)
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "ngf": self.ngf, "ndf": self.ndf, "n_blocks": self.n_blocks,
            "attention_ngf": self.attention_ngf, "attention_blocks": self.attention_blocks,
            "attention_layers": self.attention_layers, "attention_bias": self.attention_bias,
            "attention_norm": self.attention_norm,
            "gan_mode": self.gan_mode, "lambda_cycle": self.lambda_cycle,
            "attention_stop_epoch": self.attention_stop_epoch,
            "attention_stop_min_steps": self.attention_stop_min_steps,
            "threshold": self.threshold,
            "cycle_loss": self.cycle_loss, "reuse_attention": self.reuse_attention,
            "attention_a": self.attention_a, "attention_b": self.attention_b,
            "masked_discriminator": self.masked_discriminator,
            "masked_stage_norm": self.masked_stage_norm,
            "stop_attention": self.stop_attention,
            "masked_fake": self.masked_fake,
        }

    @classmethod
    def from_config(cls, config):
        # saved before these options existed: rebuilt as it was trained (the paper's)
        return super().from_config(
            {"attention_norm": "instance", "masked_stage_norm": False,
             "attention_layers": "paper", **config})

    # ------------------------------------------------------------------ variables
    @property
    def generator_variables(self):
        return self.generator_a2b.trainable_variables + self.generator_b2a.trainable_variables

    @property
    def attention_variables(self):
        """Both attention networks' trainable variables."""
        return (self.attention_net_a.trainable_variables
                + self.attention_net_b.trainable_variables)

    @property
    def discriminator_variables(self):
        return (self.discriminator_a.trainable_variables
                + self.discriminator_b.trainable_variables)

    # ------------------------------------------------------------------- schedule
    paper_attention_stop_epoch = 30

    def schedule_epochs(self):
        """The decay start and the attention stop (``attention_stop_epoch``)."""
        milestones = super().schedule_epochs()
        if self.stop_attention or self.masked_discriminator:
            milestones.append(Milestone(
                "attention_stop_epoch", self.attention_stop_epoch,
                self.paper_attention_stop_epoch,
                "attention stops, discriminators see attended regions from epoch",
                min_steps=self.attention_stop_min_steps,
                min_steps_option="attention_stop_min_steps"))
        return milestones

    @property
    def in_masked_stage(self) -> bool:
        """Whether the discriminators see only attended regions now."""
        return float(ops.convert_to_numpy(self.masked_stage)) > 0.5

    def _stops(self) -> bool:
        return self.stop_attention or self.masked_discriminator

    def _advance_stage(self, due) -> None:
        """Opens the attention stop and the masked stage where ``due`` (a 0/1 number or
        tensor), inside the step or between epochs; one way: they never close."""
        if self.masked_discriminator:
            self.masked_stage.assign(ops.maximum(self.masked_stage, due))
        if self.stop_attention:
            self.attention_frozen.assign(ops.maximum(self.attention_frozen, due))
        if self.masked_discriminator and not self.masked_stage_norm:
            for discriminator in (self.discriminator_a, self.discriminator_b):
                for layer in discriminator.layers:
                    if isinstance(layer, SwitchableInstanceNorm):
                        layer.enabled.assign(1.0 - self.masked_stage)

    def set_epoch(self, epoch: int) -> None:
        """Between epochs: opens the stop if it is due at the (0-based) epoch's start
        (inside the step it opens at its step), and reads whether the attention is
        frozen, so the next step is traced without it."""
        if self._stops() and epoch >= self.milestone("attention_stop_epoch") and \
                self.completed_steps_now() >= self._stop_milestone().step_minimum:
            self._advance_stage(1.0)
        self._attention_stopped = bool(ops.convert_to_numpy(self.attention_frozen) > 0.5)

    def _stop_milestone(self) -> Milestone:
        return next(m for m in self.schedule_epochs() if m.name == "attention_stop_epoch")

    def switch_opened(self, name: str) -> bool | None:
        """Whether the attention stop happened (the masked stage or the frozen attention)."""
        if name != "attention_stop_epoch":
            return None
        return bool(max(ops.convert_to_numpy(self.masked_stage),
                        ops.convert_to_numpy(self.attention_frozen)) > 0.5)

    def learning_rate_gate(self, role: str) -> float:
        """0 for the attention networks once they stop, else 1."""
        return 0.0 if role == "attention" and self._attention_stopped else 1.0

    def learning_rate_gate_in_step(self, role: str):
        """0 for the attention networks from the very step they stop."""
        if role == "attention" and self.stop_attention:
            return 1.0 - self.attention_frozen
        return None

    def schedule_logs(self):
        """The learning rate, ``attention_stopped`` and ``masked_discriminator``."""
        return {**super().schedule_logs(),
                "attention_stopped": float(ops.convert_to_numpy(self.attention_frozen)),
                "masked_discriminator": float(ops.convert_to_numpy(self.masked_stage))}

    # ------------------------------------------------------------------ the model
    def _attention(self, x, domain: str, training=False, real: bool = True):
        if not (self.attention_a if domain == "a" else self.attention_b):
            return ops.ones_like(x[..., :1])
        net = self.attention_net_a if domain == "a" else self.attention_net_b
        if not training:
            return net(x)
        # running statistics learn from real images only, until the attention stops
        with statistics_learning(net, (1.0 - self.attention_frozen) if real else 0.0):
            return net(x, training=True)

    def _map(self, x, direction: str, mask=None, training=False, real: bool = True):
        """(mapped image, raw generator output, mask) for ``x`` in ``direction``
        (``real``: a real image, not a generated one)."""
        source = direction[0]
        generator = self.generator_a2b if direction == "a2b" else self.generator_b2a
        if mask is None:
            mask = self._attention(x, source, training, real)
        raw = generator(x, training=training)
        return mask * raw + (1.0 - mask) * x, raw, mask

    def _translate(self, x, direction, training=False):
        image, raw, mask = self._map(x, direction, training=training)
        return {"image": image, "mask": mask, "raw": raw}

    def sample_rows(self, images_a, images_b):
        """Per direction: input, raw generator output, mask, translation,
        reconstruction."""
        rows = []
        for direction, x in zip(self.directions, (images_a, images_b)):
            image, raw, mask = self._map(x, direction)
            back = self._map(image, direction[::-1])[0]
            rows.append({"input": x, "raw": raw, "mask": ops.repeat(mask * 2.0 - 1.0, 3, -1),
                         "translation": image, "reconstruction": back})
        return rows

    def _discriminator_input(self, whole, raw, mask):
        """Stage 1: the whole image; stage 2: where the mask exceeds tau, the raw
        generator output (``masked_fake="raw"``, the paper's F(s)) or the translation
        (``"translation"``, the authors' code). A real image is its own raw output."""
        fake = whole if self.masked_fake == "translation" else raw
        attended = fake * ops.cast(mask > self.threshold, raw.dtype)
        stage = ops.cast(self.masked_stage, whole.dtype)
        return (1.0 - stage) * whole + stage * attended

    # ----------------------------------------------------------------- training
    def train_step(self, data):
        real_a, real_b = self.unpack_batch(data)
        if self._stops():  # the stop opens at its step, inside the compiled step
            self._advance_stage(ops.cast(self.switch_due("attention_stop_epoch"), "float32"))
        g_losses, fakes = self._generator_step(real_a, real_b)
        d_losses = self._discriminator_step(
            real_a, real_b, self.pool_a.query(fakes["a"]), self.pool_b.query(fakes["b"]),
            fakes["mask_real_a"], fakes["mask_real_b"])
        return self.track({**g_losses, **d_losses, **self.mask_statistics(
            {"a": fakes["mask_real_a"], "b": fakes["mask_real_b"]})})

    def _generator_step(self, real_a, real_b):
        with tf.GradientTape() as tape:
            fake_b, raw_b, mask_a = self._map(real_a, "a2b", training=True)
            fake_a, raw_a, mask_b = self._map(real_b, "b2a", training=True)
            # the cycle pass computes attention on the mapped image (A_T(s')), unless the
            # re-used-attention ablation asks for A_S(s)
            rec_a = self._map(fake_b, "b2a", mask=mask_a if self.reuse_attention else None,
                              training=True, real=False)[0]
            rec_b = self._map(fake_a, "a2b", mask=mask_b if self.reuse_attention else None,
                              training=True, real=False)[0]
            loss = {
                "g_a2b": losses.generator_adversarial(self.discriminator_b(
                    self._discriminator_input(fake_b, raw_b, mask_a), training=True),
                    self.gan_mode),
                "g_b2a": losses.generator_adversarial(self.discriminator_a(
                    self._discriminator_input(fake_a, raw_a, mask_b), training=True),
                    self.gan_mode),
                "cycle_a": losses.cycle_consistency(rec_a, real_a),
                "cycle_b": losses.cycle_consistency(rec_b, real_b),
            }
            total = loss["g_a2b"] + loss["g_b2a"]
            if self.cycle_loss:
                total += self.lambda_cycle * (loss["cycle_a"] + loss["cycle_b"])
        self.apply_gradients(tape, total, ("generator", "attention"))
        # the real images' masks, already computed, for the discriminators' real inputs
        fakes = {"a": ops.concatenate([fake_a, raw_a, mask_b], -1),
                 "b": ops.concatenate([fake_b, raw_b, mask_a], -1),
                 "mask_real_a": ops.stop_gradient(mask_a),
                 "mask_real_b": ops.stop_gradient(mask_b)}
        return loss, fakes

    def _discriminator_step(self, real_a, real_b, pooled_a, pooled_b, mask_real_a,
                            mask_real_b):
        c = self.channels
        with tf.GradientTape() as tape:
            loss = {}
            for name, disc, real, pooled, mask_real in (
                    ("d_a", self.discriminator_a, real_a, pooled_a, mask_real_a),
                    ("d_b", self.discriminator_b, real_b, pooled_b, mask_real_b)):
                fake_in = self._discriminator_input(pooled[..., :c], pooled[..., c:2 * c],
                                                    pooled[..., 2 * c:])
                real_in = self._discriminator_input(real, real, mask_real)
                loss[name] = losses.discriminator_adversarial(
                    disc(real_in, training=True), disc(fake_in, training=True),
                    self.gan_mode)
            total = loss["d_a"] + loss["d_b"]
        self.apply_gradients(tape, total, "discriminator")
        return loss
