"""SAT: Show, Attend and Translate: Unsupervised Image Translation with Self-Regularization
and Attention (Chao Yang, Taehwan Kim, Ruizhe Wang, Hao Peng, C.-C. Jay Kuo; IEEE TIP
2019, arXiv 1806.06195), one direction (a2b).

One generator, no cycle: an initial translation G_0 and an attention branch G_attn,

    G(x) = G_attn(x) * G_0(x) + (1 - G_attn(x)) * x,

trained with L_G = l_adv(G(x), Y) + lambda * l_reg(x, G(x)), where l_adv is the
non-saturating adversarial loss (the paper's Eq. 3 has a sign typo: as printed it would
maximise the discriminator's success) and l_reg the perceptual self-regularisation of
Eq. 4, as written: the squared l2 norm of the weighted VGG19 feature differences,
sum_l ||w_l (phi_l(x) - phi_l(G(x)))||_2^2, the weights inside the norm, at conv1_2,
conv2_2 and conv3_3 (the last convolution of each of the first three blocks, our
reading of "the first three feature levels") with w = 1/32, 1/16, 1/8; each norm is
divided by its number of elements so the three levels and image sizes compare (the
paper does not say how it normalises). ``regularizer`` may also be "perceptual_l1"
(the same weights on L1 feature distances), or "l1" / "l2" on pixels.

Networks: G_0 is CycleGAN's ResNet generator with batch norm and nine residual blocks
dilated by 2 (the paper is silent on the first and last 7x7 layers, which follow
CycleGAN); G_attn is VGG19 up to conv3_3 (ImageNet warm start), two stride-2
deconvolution blocks and a sigmoid convolution to one channel; D has five convolutions,
three of stride 2 (a PatchGAN).

Training, in three stages (``stage_epochs``, unset: the paper's 10 and 20 of 30 epochs
scaled to the run): (1) G_0 alone (G = G_0); (2) G_attn with G_0 frozen; (3) both
fine-tuned at ``fine_tune_factor`` of the rate. A frozen network is out of the compiled
step: no update, no optimiser step, and batch norm in inference mode (its moving
statistics stay as they are). Adaptive weight induction: lambda starts at 0 and grows
by ``lambda_step`` every ``lambda_interval`` steps while the interval's mean adversarial
loss stays at or under ``adversarial_threshold``; the first interval above it stops the
growth and lambda steps back to its last value that stayed under, i.e. the largest
lambda whose outputs still look like Y to D (our reading of the paper's ambiguous
stopping rule). It restarts in each stage, runs inside the compiled step (so any
``steps_per_execution`` gives the same lambda) and is saved with the model. History
buffer 50, Adam 2e-4, constant then linear decay to 0 over the second half (the
rate rule we could not check against the paper's text: see the README).
``use_attention=False`` is the G_0-only model the paper uses for maps and digits.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_attngan import losses
from keras_attngan.layers import conv_block, conv_transpose_block
from keras_attngan.models.base import PACKAGE, Milestone, TranslationGAN
from keras_attngan.networks import (
    PERCEPTUAL_LAYERS, patch_discriminator, resnet_generator, vgg_features,
)

PERCEPTUAL_WEIGHTS = (1 / 32, 1 / 16, 1 / 8)
REGULARIZERS = ("perceptual", "perceptual_l1", "l1", "l2")


def sat_attention_net(vgg_weights, channels: int = 3, name: str = "attention") -> keras.Model:
    """VGG19 to conv3_3 (1/4 resolution), two stride-2 deconvolution blocks (BN, ReLU),
    a 3x3 convolution to one sigmoid channel at the input resolution."""
    inputs = keras.Input((None, None, channels), name="image")
    x = vgg_features("block3_conv3", vgg_weights, name="attention_vgg")(inputs)
    x = conv_transpose_block(x, 128, norm="batch")
    x = conv_transpose_block(x, 64, norm="batch")
    x = conv_block(x, 1, 3, padding="reflect", norm="none", act="sigmoid")
    return keras.Model(inputs, x, name=name)


def adaptive_lambda_update(weight, stopped, total, count, step: float, interval: int,
                           threshold: float):
    """The adaptive weight induction (see the module docstring) after one step, on tensors
    or floats. ``total`` and ``count`` are the interval's sum of adversarial losses and its
    number of steps, this step's included. Returns the new (lambda, stopped, sum, count):
    at an interval's end lambda grows, or steps back and stops, and the interval
    restarts."""
    end = count >= interval
    decide = ops.logical_and(end, stopped < 0.5)
    under = total / ops.maximum(count, 1.0) <= threshold
    grow = ops.logical_and(decide, under)
    stop = ops.logical_and(decide, ops.logical_not(under))
    weight = ops.where(grow, weight + step,
                       ops.where(stop, ops.maximum(weight - step, 0.0), weight))
    stopped = ops.where(stop, 1.0, stopped)
    return weight, stopped, ops.where(end, 0.0, total), ops.where(end, 0.0, count)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SAT(TranslationGAN):
    """SAT, Show, Attend and Translate (Yang et al. 2018): one generator with an
    attention branch, VGG self-regularisation and an adaptive loss weight, in three
    stages (a2b). See this module's docstring."""
    directions = ("a2b",)
    has_attention = True
    mask_domains = ("a",)
    loss_names = ("d", "g_adv", "reg")
    optimizer_roles = ("generator", "attention", "discriminator")
    paper_epochs = 30
    paper_decay_start = 15

    def __init__(
        self,
        image_size: int = 256,
        channels: int = 3,
        ngf: int = 64,
        ndf: int = 64,
        n_blocks: int = 9,
        dilation: int = 2,
        use_attention: bool = True,
        vgg_weights: str | None = "imagenet",
        regularizer: str = "perceptual",
        stage_epochs: tuple[int, int] | None = None,
        fine_tune_factor: float = 0.1,
        adaptive_lambda: bool = True,
        lambda_reg: float = 0.0,
        lambda_step: float = 0.1,
        lambda_interval: int = 100,
        adversarial_threshold: float = 1.5,
        pool_size: int = 50,
        **kwargs,
    ):
        super().__init__(image_size=image_size, channels=channels, pool_size=pool_size,
                         **kwargs)
        if regularizer not in REGULARIZERS:
            raise ValueError(f"regularizer must be one of {REGULARIZERS}; got {regularizer!r}.")
        self.ngf, self.ndf, self.n_blocks, self.dilation = ngf, ndf, n_blocks, dilation
        self.use_attention, self.vgg_weights = bool(use_attention), vgg_weights
        self.regularizer = regularizer
        self.stage_epochs = None if stage_epochs is None else tuple(int(e) for e in stage_epochs)
        if self.stage_epochs is not None and (len(self.stage_epochs) != 2
                                              or self.stage_epochs[0] >= self.stage_epochs[1]):
            raise ValueError("stage_epochs takes two epochs, (stage 2 start, stage 3 start), "
                             f"the first smaller; got {stage_epochs!r}.")
        self.fine_tune_factor = float(fine_tune_factor)
        self.adaptive_lambda, self.lambda_reg = bool(adaptive_lambda), float(lambda_reg)
        self.lambda_step, self.lambda_interval = float(lambda_step), int(lambda_interval)
        self.adversarial_threshold = float(adversarial_threshold)

        self.generator = resnet_generator(channels, ngf=ngf, n_blocks=n_blocks, norm="batch",
                                          dilation=dilation, name="generator_0")
        self.attention_net = (sat_attention_net(vgg_weights, channels)
                              if self.use_attention else None)
        self.discriminator = patch_discriminator(channels, ndf, n_layers=3, norm="batch",
                                                 name="discriminator")
        self.perceptual_net = None
        if regularizer.startswith("perceptual"):
            self.perceptual_net = vgg_features(PERCEPTUAL_LAYERS, vgg_weights,
                                               name="perceptual_vgg")
            self.perceptual_net.trainable = False
        # schedule state, saved with the model so a resumed run continues where it was
        self.stage = keras.Variable(1.0, trainable=False, name="stage")
        self.reg_weight = keras.Variable(0.0 if adaptive_lambda else lambda_reg,
                                         trainable=False, name="reg_weight",
                                         aggregation="only_first_replica")
        # the induction's state; replicas compute the same values, the interval sum takes
        # the mean of their adversarial losses
        self.lambda_stopped = keras.Variable(0.0, trainable=False, name="lambda_stopped",
                                             aggregation="only_first_replica")
        self.lambda_sum = keras.Variable(0.0, trainable=False, name="lambda_sum",
                                         aggregation="mean")
        self.lambda_count = keras.Variable(0.0, trainable=False, name="lambda_count",
                                           aggregation="only_first_replica")
        self._stage = 1  # the stage as a Python value, read when the step is traced
        self.pool = self.make_pool("pool")
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "ngf": self.ngf, "ndf": self.ndf, "n_blocks": self.n_blocks,
            "dilation": self.dilation, "use_attention": self.use_attention,
            # the .keras file carries every weight: loading must not download VGG again
            "vgg_weights": None,
            "regularizer": self.regularizer,
            "stage_epochs": None if self.stage_epochs is None else list(self.stage_epochs),
            "fine_tune_factor": self.fine_tune_factor,
            "adaptive_lambda": self.adaptive_lambda, "lambda_reg": self.lambda_reg,
            "lambda_step": self.lambda_step, "lambda_interval": self.lambda_interval,
            "adversarial_threshold": self.adversarial_threshold,
        }

    # ------------------------------------------------------------------ variables
    @property
    def generator_variables(self):
        return self.generator.trainable_variables

    @property
    def attention_variables(self):
        """The attention branch's trainable variables (none without attention)."""
        return self.attention_net.trainable_variables if self.attention_net else []

    @property
    def discriminator_variables(self):
        return self.discriminator.trainable_variables

    # ------------------------------------------------------------------- schedule
    paper_stage_epochs = (10, 20)

    def schedule_epochs(self):
        """The decay start and, with attention, the starts of stages 2 and 3."""
        milestones = super().schedule_epochs()
        if self.use_attention:
            given = self.stage_epochs or (None, None)
            for i, (value, paper, meaning) in enumerate(zip(
                    given, self.paper_stage_epochs,
                    ("stage 2 (attention, G_0 frozen) from epoch",
                     "stage 3 (both fine-tuned) from epoch"))):
                milestones.append(Milestone(f"stage_epochs[{i}]", value, paper, meaning,
                                            name=f"stage_{i + 2}"))
        return milestones

    def masks_in_use(self) -> bool:
        """True from stage 2 on, where the attention branch decides the translation."""
        return self.use_attention and self._stage > 1

    def current_stage(self) -> int:
        """The training stage (1, 2 or 3) of the current epoch."""
        return self._stage

    def set_epoch(self, epoch: int) -> None:
        """Sets the stage of the (0-based) epoch."""
        stage = 1
        if self.use_attention:
            stage = 3 if epoch >= self.milestone("stage_3") else (
                2 if epoch >= self.milestone("stage_2") else 1)
        saved = int(round(float(ops.convert_to_numpy(self.stage))))
        if stage != saved:
            self.stage.assign(float(stage))
            if self.adaptive_lambda:  # lambda's induction restarts in each stage
                for variable in (self.reg_weight, self.lambda_stopped, self.lambda_sum,
                                 self.lambda_count):
                    variable.assign(0.0)
        self._stage = stage

    def learning_rate_gate(self, role: str) -> float:
        """Each role's share of the rate in the current stage (0 freezes it)."""
        stage = self._stage
        if role == "attention":
            return {1: 0.0, 2: 1.0, 3: self.fine_tune_factor}[stage] if self.use_attention \
                else 0.0
        if role == "generator":
            return {1: 1.0, 2: 0.0, 3: self.fine_tune_factor}[stage]
        return 1.0

    def schedule_logs(self) -> dict[str, float]:
        """The learning rate, the adaptive ``lambda`` and the ``stage``."""
        return {**super().schedule_logs(),
                "lambda": float(ops.convert_to_numpy(self.reg_weight)),
                "stage": float(self._stage)}

    # ------------------------------------------------------------------ the model
    def _generate(self, x, training=False):
        """(G(x), G_0(x), effective mask): the mask is 1 in stage 1 (G = G_0). In
        training, a network its stage freezes runs in inference mode."""
        trained = self.trained_roles() if training else ()
        raw = self.generator(x, training="generator" in trained)
        if self.attention_net is None:
            mask = ops.ones_like(x[..., :1])
        else:
            attention_on = ops.cast(self.stage > 1.5, x.dtype)
            mask = attention_on * self.attention_net(x, training="attention" in trained) + (
                1.0 - attention_on)
        return mask * raw + (1.0 - mask) * x, raw, mask

    def _translate(self, x, direction="a2b", training=False, return_raw: bool = False):
        image, raw, mask = self._generate(x, training)
        out = {"image": image, "mask": mask}
        if return_raw:
            out["raw"] = raw
        return out

    def sample_rows(self, images_a, images_b):
        """Input, initial translation, attention mask and translation."""
        image, raw, mask = self._generate(images_a)
        return [{"input": images_a, "initial": raw,
                 "mask": ops.repeat(mask * 2.0 - 1.0, 3, -1), "translation": image}]

    def regularization(self, x, translated):
        """l_reg(x, G(x)): Eq. 4's perceptual term (see the module docstring),
        "perceptual_l1", or "l1" / "l2" on pixels."""
        if self.regularizer == "l1":
            return losses.l1(translated, x)
        if self.regularizer == "l2":
            return ops.mean(ops.square(ops.cast(translated - x, "float32")))
        total = 0.0
        for weight, a, b in zip(PERCEPTUAL_WEIGHTS, self.perceptual_net(x),
                                self.perceptual_net(translated)):
            if self.regularizer == "perceptual_l1":
                total += weight * losses.l1(a, b)
            else:  # Eq. 4: the weight inside the squared norm
                total += ops.mean(ops.square(weight * (ops.cast(a, "float32")
                                                       - ops.cast(b, "float32"))))
        return total

    # ----------------------------------------------------------------- training
    def train_step(self, data):
        x, y = self.unpack_batch(data)
        with tf.GradientTape() as tape:
            fake, _, mask = self._generate(x, training=True)
            loss = {
                "g_adv": losses.generator_adversarial(
                    self.discriminator(fake, training=True), "vanilla"),
                "reg": self.regularization(x, fake),
            }
            total = loss["g_adv"] + ops.cast(self.reg_weight, "float32") * loss["reg"]
        self.apply_gradients(tape, total, ("generator", "attention"))
        if self.adaptive_lambda:
            self._induce_lambda(loss["g_adv"])
        pooled = self.pool.query(fake)
        with tf.GradientTape() as tape:
            loss["d"] = losses.discriminator_adversarial(
                self.discriminator(y, training=True),
                self.discriminator(pooled, training=True), "vanilla")
        self.apply_gradients(tape, loss["d"], "discriminator")
        return self.track({**loss, **self.mask_statistics({"a": mask})})

    def _induce_lambda(self, adversarial_loss) -> None:
        """The adaptive weight induction's step, inside the compiled step. The sum is
        mean-aggregated, so it adds the replicas' mean adversarial loss and every replica
        then decides the same."""
        self.lambda_sum.assign_add(ops.cast(adversarial_loss, "float32"))
        self.lambda_count.assign_add(1.0)
        state = adaptive_lambda_update(
            self.reg_weight.value, self.lambda_stopped.value, self.lambda_sum.value,
            self.lambda_count.value, self.lambda_step, self.lambda_interval,
            self.adversarial_threshold)
        for variable, value in zip((self.reg_weight, self.lambda_stopped, self.lambda_sum,
                                    self.lambda_count), state):
            variable.assign(value)
