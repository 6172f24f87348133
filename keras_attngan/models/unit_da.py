"""UNIT for domain adaptation (Liu, Breuel, Kautz; NIPS 2017, Sec. 4 and Table 2).

The UNIT framework (``models/unit.py``: VAEs with a shared latent space, GANs, cycle
consistency, the same objective and weights) with the paper's changes for adapting a
classifier from a labelled source domain (A, 1) to an unlabelled target (B, 2):

- the two discriminators share their high-level layers: D_i = head(T(F_i(x))), with
  per-domain first layers F_i and a shared trunk T;
- a classifier head C on the shared features is trained on the labelled source,
  L_cls = CE(C(T(F_1(x_1))), y_1), in the discriminator update (lambda_class);
- an L1 term ties the discriminators' top features of an image and of its translation,
  L_feat = |T(F_1(x_1)) - T(F_2(x_1->2))|_1 + |T(F_2(x_2)) - T(F_1(x_2->1))|_1
  (lambda_feature), so that the target branch F_2 maps a digit to the features the
  source branch gives its source-domain twin, and C, trained on the source, reads them.

At test time a target image is classified through its own branch:
``classify(x, "b") = softmax(C(T(F_2(x))))``. The paper's results (Table 2): SVHN->MNIST
0.9053, MNIST->USPS 0.9597, USPS->MNIST 0.9358.

The digit networks (32 px; the paper's appendix table and the authors' CoVAE32x32 /
CoDis32x32): encoders 5x5/2 (own), 5x5/2, an (size/4)-wide valid convolution to a 1x1
code, 1x1, 1x1 mu (shared), BN + LeakyReLU, widths from ngf (64, the authors' SVHN
config) to 8 ngf; generators mirror them, the last transposed convolution and the 1x1
tanh output per domain; discriminators 5x5 conv + ReLU + 2x2 max pooling, 64 -> 512
(the first layer own, the rest shared), dropout 0.1/0.3/0.5/0.5, 2x2 valid
convolutions as the adversarial and the classifier heads.

Chosen where the paper is silent (it gives no weights for the two new terms):
lambda_class 10 (equal to the GAN weight lambda0, so the shared trunk serves both
tasks; the authors' config weighs the classifier 10 times its GAN term, which in our
short runs let the classifier take the trunk and adapt far less), lambda_feature 1; the
UNIT paper's weights for the other terms (the authors' DA config weighs them
otherwise); L1 between the real image's and its translation's features, as the paper
words it (the authors' code: a squared distance between the reconstruction's and the
translation's features), taken without dropout. Adam 2e-4 (0.5, 0.999) as the authors'
code, without its weight decay; no (x, y) coordinate channels (one of the authors'
variants feeds them). Images of another size than ``image_size`` are resized to it and
back (the 1x1 code fixes the networks' input size).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_attngan import losses
from keras_attngan.models.base import PACKAGE, to_model_range
from keras_attngan.models.unit import UNIT
from keras_attngan.networks import (
    digit_discriminator_front, digit_discriminator_trunk, feature_head,
    unit_digit_decoder_back, unit_digit_encoder_front, unit_digit_shared_decoder,
    unit_digit_shared_encoder,
)


@keras.saving.register_keras_serializable(package=PACKAGE)
class UNITDA(UNIT):
    """UNIT for domain adaptation (Liu et al. 2017, Sec. 4): shared discriminator layers
    with a classifier head trained on the labelled source. See this module's
    docstring."""
    loss_names = ("d_1", "d_2", "cls", "feature", "gan_1", "gan_2", "recon_1", "recon_2",
                  "kl", "cycle_kl", "cycle_1", "cycle_2")
    size_multiple = 16  # two 2x2 heads after four 2x2 poolings
    needs_source_labels = True
    learning_rate = 2e-4

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 3,
        ngf: int = 64,
        ndf: int = 64,
        n_classes: int = 10,
        lambda_class: float = 10.0,
        lambda_feature: float = 1.0,
        **kwargs,
    ):
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2; got {n_classes}.")
        # the digit networks fix their layers: UNIT's depth options would do nothing
        fixed = sorted(k for k in self.fixed_options if k in kwargs)
        if fixed:
            raise ValueError(f"unit_da's digit networks have a fixed depth; "
                             f"{', '.join(fixed)} apply to unit only. Change ngf / ndf "
                             "for their widths.")
        # read by build_networks, which UNIT.__init__ calls
        self.n_classes = int(n_classes)
        self.lambda_class, self.lambda_feature = float(lambda_class), float(lambda_feature)
        kwargs.setdefault("norm", "batch")
        super().__init__(image_size=image_size, channels=channels, ngf=ngf, ndf=ndf,
                         **kwargs)

    def build_networks(self) -> None:
        """The digit encoders, decoders and discriminators with the shared layers of
        Sec. 4."""
        ngf, ndf, size, channels = self.ngf, self.ndf, self.image_size, self.channels
        self.encoder_front_1 = unit_digit_encoder_front(channels, ngf, "encoder_front_1")
        self.encoder_front_2 = unit_digit_encoder_front(channels, ngf, "encoder_front_2")
        self.shared_encoder = unit_digit_shared_encoder(ngf, size, "shared_encoder")
        self.shared_decoder = unit_digit_shared_decoder(ngf, size, "shared_decoder")
        self.decoder_back_1 = unit_digit_decoder_back(ngf, channels, "decoder_back_1")
        self.decoder_back_2 = unit_digit_decoder_back(ngf, channels, "decoder_back_2")
        self.discriminator_front_1 = digit_discriminator_front(channels, ndf,
                                                               "discriminator_front_1")
        self.discriminator_front_2 = digit_discriminator_front(channels, ndf,
                                                               "discriminator_front_2")
        self.shared_discriminator = digit_discriminator_trunk(ndf)
        self.adversarial_head = feature_head(ndf, size // 16, 1, "adversarial_head")
        self.classifier_head = feature_head(ndf, size // 16, self.n_classes,
                                            "classifier_head")

    #: UNIT options the fixed digit networks do not take
    fixed_options = ("n_blocks", "n_shared", "n_layers_d", "activation")

    def get_config(self):
        config = {key: value for key, value in super().get_config().items()
                  if key not in self.fixed_options}
        return {**config, "n_classes": self.n_classes, "lambda_class": self.lambda_class,
                "lambda_feature": self.lambda_feature}

    @property
    def discriminator_variables(self):
        nets = (self.discriminator_front_1, self.discriminator_front_2,
                self.shared_discriminator, self.adversarial_head, self.classifier_head)
        return [v for net in nets for v in net.trainable_variables]

    # ------------------------------------------------- the shared discriminator layers
    def top_features(self, x, domain="a", training=False):
        """T(F_i(x)): the shared discriminator layers' output for images of ``domain``."""
        front = (self.discriminator_front_1 if self._domain(domain) == 1
                 else self.discriminator_front_2)
        return self.shared_discriminator(front(x, training=training), training=training)

    def discriminate(self, x, domain="a", training=False):
        """The adversarial scores of images of ``domain``."""
        return self.adversarial_head(self.top_features(x, domain, training))

    def class_logits(self, x, domain="b", training=False):
        """C(T(F_i(x))): class logits for images of ``domain`` in [-1, 1]."""
        return self.classifier_head(self.top_features(x, domain, training))

    def classify(self, images, domain: str = "b", batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, n_classes) of uint8 or [-1, 1] images of ``domain``
        ('a', the labelled source, or 'b', the target), any size (resized)."""
        self._domain(domain)
        x, single = to_model_range(images)
        parts = []
        for start in range(0, len(x), batch_size):
            chunk = self._to_size(tf.constant(x[start:start + batch_size]))
            parts.append(ops.convert_to_numpy(ops.softmax(
                ops.cast(self.class_logits(chunk, domain), "float32"))))
        probabilities = np.concatenate(parts)
        return probabilities[0] if single else probabilities

    # ------------------------------------------------------------------ inference
    def _to_size(self, x):
        if tuple(x.shape[1:3]) == (self.image_size, self.image_size):
            return x
        return tf.image.resize(x, (self.image_size, self.image_size))

    def _translate(self, x, direction, training=False):
        height, width = tf.shape(x)[1], tf.shape(x)[2]
        out = super()._translate(self._to_size(x), direction, training)["image"]
        if tuple(x.shape[1:3]) != (self.image_size, self.image_size):
            out = ops.clip(tf.image.resize(out, (height, width)), -1.0, 1.0)
        return {"image": ops.cast(out, x.dtype)}

    # ------------------------------------------------------------------- training
    def discriminator_losses(self, x1, x2, x12, x21, labels=None):
        """UNIT's discriminator losses plus the classifier and feature terms."""
        if labels is None:
            raise ValueError("unit_da trains its classifier on labelled source images: pass "
                             "labels_a= to kag.data.unpaired() so batches carry them.")
        loss = super().discriminator_losses(x1, x2, x12, x21)
        logits = self.class_logits(x1, 1, training=True)
        loss["cls"] = ops.mean(keras.losses.sparse_categorical_crossentropy(
            labels, ops.cast(logits, "float32"), from_logits=True))
        # the translations come from fixed generators: this term shapes D's features
        # (without dropout, which would make two views of one digit differ at random)
        loss["feature"] = (
            losses.l1(self.top_features(x1, 1), self.top_features(x12, 2))
            + losses.l1(self.top_features(x2, 2), self.top_features(x21, 1)))
        return loss

    def discriminator_objective(self, loss):
        """UNIT's objective plus lambda_class * L_cls + lambda_feature * L_feat."""
        return (super().discriminator_objective(loss) + self.lambda_class * loss["cls"]
                + self.lambda_feature * loss["feature"])
