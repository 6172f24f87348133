"""SAT: Show, Attend and Translate (Yang, Xie, Wang; 2018), one direction (a2b).

One generator, no cycle: an initial translation G_0 and an attention branch G_attn,

    G(x) = G_attn(x) * G_0(x) + (1 - G_attn(x)) * x,

trained with L_G = l_adv(G(x), Y) + lambda * l_reg(x, G(x)), where l_adv is the
non-saturating adversarial loss (the paper's Eq. 3 has a sign typo: as printed it would
maximise the discriminator's success) and l_reg the perceptual self-regularisation of
Eq. 4: L1 distances of VGG19 features at conv1_2, conv2_2 and conv3_3 (the last
convolution of each of the first three blocks, our reading of "the first three feature
levels"), weighted 1/32, 1/16, 1/8. l_reg may also be "l1" or "l2" on pixels.

Networks: G_0 is CycleGAN's ResNet generator with batch norm and nine residual blocks
dilated by 2 (the paper is silent on the first and last 7x7 layers, which follow
CycleGAN); G_attn is VGG19 up to conv3_3 (ImageNet warm start), two stride-2
deconvolution blocks and a sigmoid convolution to one channel; D has five convolutions,
three of stride 2 (a PatchGAN).

Training, in three stages set per epoch (``stage_epochs``): (1) G_0 alone (G = G_0);
(2) G_attn with G_0 frozen; (3) both fine-tuned at ``fine_tune_factor`` of the rate.
Adaptive weight induction: lambda starts at 0 and grows by ``lambda_step`` every
``lambda_interval`` steps while the interval's mean adversarial loss stays at or under
``adversarial_threshold``; the first interval above it stops the growth and lambda steps
back to its last value that stayed under, i.e. the largest lambda whose outputs still
look like Y to D (our reading of the paper's ambiguous stopping rule). It restarts in
each stage. History buffer 50, Adam 2e-4, linear decay in the second half.
``use_attention=False`` is the G_0-only model the paper uses for maps and digits.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_attngan import losses
from keras_attngan.layers import conv_block, conv_transpose_block
from keras_attngan.models.base import PACKAGE, TranslationGAN
from keras_attngan.networks import (
    PERCEPTUAL_LAYERS, patch_discriminator, resnet_generator, vgg_features,
)

PERCEPTUAL_WEIGHTS = (1 / 32, 1 / 16, 1 / 8)
REGULARIZERS = ("perceptual", "l1", "l2")


def sat_attention_net(vgg_weights, channels: int = 3, name: str = "attention") -> keras.Model:
    """VGG19 to conv3_3 (1/4 resolution), two stride-2 deconvolution blocks (BN, ReLU),
    a 3x3 convolution to one sigmoid channel at the input resolution."""
    inputs = keras.Input((None, None, channels), name="image")
    x = vgg_features("block3_conv3", vgg_weights, name="attention_vgg")(inputs)
    x = conv_transpose_block(x, 128, norm="batch")
    x = conv_transpose_block(x, 64, norm="batch")
    x = conv_block(x, 1, 3, padding="reflect", norm="none", act="sigmoid")
    return keras.Model(inputs, x, name=name)


class AdaptiveLambda:
    """The adaptive weight induction rule on its own (see the module docstring).

    ``update(adversarial_loss)`` is called once per training step and returns lambda.
    """

    def __init__(self, step: float = 0.1, interval: int = 100, threshold: float = 1.5,
                 value: float = 0.0, stopped: bool = False):
        self.step, self.interval, self.threshold = float(step), int(interval), float(threshold)
        self.value, self.stopped = float(value), bool(stopped)
        self._total, self._count = 0.0, 0

    def reset(self) -> None:
        self.value, self.stopped, self._total, self._count = 0.0, False, 0.0, 0

    def update(self, adversarial_loss: float) -> float:
        if self.stopped:
            return self.value
        self._total += float(adversarial_loss)
        self._count += 1
        if self._count == self.interval:
            mean = self._total / self._count
            self._total, self._count = 0.0, 0
            if mean <= self.threshold:
                self.value += self.step
            else:
                # this lambda made the outputs too unlike Y: keep the last one that did not
                self.value = max(0.0, self.value - self.step)
                self.stopped = True
        return self.value


@keras.saving.register_keras_serializable(package=PACKAGE)
class SAT(TranslationGAN):
    directions = ("a2b",)
    has_attention = True
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
        stage_epochs: tuple[int, int] = (10, 20),
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
        self.regularizer, self.stage_epochs = regularizer, tuple(int(e) for e in stage_epochs)
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
        if regularizer == "perceptual":
            self.perceptual_net = vgg_features(PERCEPTUAL_LAYERS, vgg_weights,
                                               name="perceptual_vgg")
            self.perceptual_net.trainable = False
        # schedule state, saved with the model so a resumed run continues where it was
        self.stage = keras.Variable(1.0, trainable=False, name="stage")
        self.reg_weight = keras.Variable(0.0 if adaptive_lambda else lambda_reg,
                                         trainable=False, name="reg_weight")
        self.lambda_stopped = keras.Variable(0.0, trainable=False, name="lambda_stopped")
        self.last_adversarial_loss = keras.Variable(0.0, trainable=False,
                                                    aggregation="mean",
                                                    name="last_adversarial_loss")
        self.controller = AdaptiveLambda(lambda_step, lambda_interval, adversarial_threshold)
        self.pool = self.make_pool("pool")
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "ngf": self.ngf, "ndf": self.ndf, "n_blocks": self.n_blocks,
            "dilation": self.dilation, "use_attention": self.use_attention,
            # the .keras file carries every weight: loading must not download VGG again
            "vgg_weights": None,
            "regularizer": self.regularizer, "stage_epochs": list(self.stage_epochs),
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
        return self.attention_net.trainable_variables if self.attention_net else []

    @property
    def discriminator_variables(self):
        return self.discriminator.trainable_variables

    # ------------------------------------------------------------------- schedule
    def current_stage(self) -> int:
        return int(round(float(ops.convert_to_numpy(self.stage))))

    def set_epoch(self, epoch: int) -> None:
        second, third = self.stage_epochs
        stage = 1 if not self.use_attention or epoch < second else (2 if epoch < third else 3)
        if stage != self.current_stage():
            self.stage.assign(float(stage))
            if self.adaptive_lambda:  # lambda's induction restarts in each stage
                self.reg_weight.assign(0.0)
                self.lambda_stopped.assign(0.0)
                self.controller.reset()
        self.controller.value = float(ops.convert_to_numpy(self.reg_weight))
        self.controller.stopped = float(ops.convert_to_numpy(self.lambda_stopped)) > 0.5

    def learning_rate_gate(self, role: str) -> float:
        stage = self.current_stage()
        if role == "attention":
            return {1: 0.0, 2: 1.0, 3: self.fine_tune_factor}[stage]
        if role == "generator":
            return {1: 1.0, 2: 0.0, 3: self.fine_tune_factor}[stage]
        return 1.0

    def after_step(self) -> None:
        if not self.adaptive_lambda:
            return
        value = self.controller.update(
            float(ops.convert_to_numpy(self.last_adversarial_loss)))
        self.reg_weight.assign(value)
        self.lambda_stopped.assign(1.0 if self.controller.stopped else 0.0)

    def schedule_logs(self) -> dict[str, float]:
        return {"lambda": float(ops.convert_to_numpy(self.reg_weight)),
                "stage": float(self.current_stage())}

    # ------------------------------------------------------------------ the model
    def _generate(self, x, training=False):
        """(G(x), G_0(x), effective mask): the mask is 1 in stage 1 (G = G_0)."""
        raw = self.generator(x, training=training)
        if self.attention_net is None:
            mask = ops.ones_like(x[..., :1])
        else:
            attention_on = ops.cast(self.stage > 1.5, x.dtype)
            mask = attention_on * self.attention_net(x, training=training) + (
                1.0 - attention_on)
        return mask * raw + (1.0 - mask) * x, raw, mask

    def _translate(self, x, direction="a2b", training=False, return_raw: bool = False):
        image, raw, mask = self._generate(x, training)
        out = {"image": image, "mask": mask}
        if return_raw:
            out["raw"] = raw
        return out

    def sample_rows(self, images_a, images_b):
        image, raw, mask = self._generate(images_a)
        return [{"input": images_a, "initial": raw,
                 "mask": ops.repeat(mask * 2.0 - 1.0, 3, -1), "translation": image}]

    def regularization(self, x, translated):
        """l_reg(x, G(x)): perceptual (VGG19 features, weights 1/32, 1/16, 1/8), l1, l2."""
        if self.regularizer == "l1":
            return losses.l1(translated, x)
        if self.regularizer == "l2":
            return ops.mean(ops.square(ops.cast(translated - x, "float32")))
        total = 0.0
        for weight, a, b in zip(PERCEPTUAL_WEIGHTS, self.perceptual_net(x),
                                self.perceptual_net(translated)):
            total += weight * losses.l1(a, b)
        return total

    # ----------------------------------------------------------------- training
    def train_step(self, data):
        x, y = self.unpack_batch(data)
        with tf.GradientTape() as tape:
            fake, _, _ = self._generate(x, training=True)
            loss = {
                "g_adv": losses.generator_adversarial(
                    self.discriminator(fake, training=True), "vanilla"),
                "reg": self.regularization(x, fake),
            }
            total = loss["g_adv"] + ops.cast(self.reg_weight, "float32") * loss["reg"]
        self.apply_gradients(tape, total, ("generator", "attention"))
        self.last_adversarial_loss.assign(loss["g_adv"])
        pooled = self.pool.query(fake)
        with tf.GradientTape() as tape:
            loss["d"] = losses.discriminator_adversarial(
                self.discriminator(y, training=True),
                self.discriminator(pooled, training=True), "vanilla")
        self.apply_gradients(tape, loss["d"], "discriminator")
        return self.track(loss)
