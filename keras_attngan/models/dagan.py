"""DA-GAN: Instance-level Image Translation by Deep Attention Generative Adversarial
Networks (Shuang Ma, Jianlong Fu, Chang Wen Chen, Tao Mei; CVPR 2018), one direction
(a2b): F = G o DAE.

Deep attention encoder: an encoder E gives a feature map of X; a localisation function
f_loc predicts N region centres (x_i, y_i) inside the image; each region's mask is the
product of differences of sigmoids (Eq. 4),

    M_i = [s(x - x_i + w) - s(x - x_i - w)] * [s(y - y_i + h) - s(y - y_i - h)],
    s(z) = 1 / (1 + exp(-k z)),

with half width w and half height h (``region_size``: the paper's text says half of the
image's; we default to regions half the image's side, w = h = 0.25 in image-relative
coordinates, and make it a parameter) and steepness ``k``. R_i = X * M_i,
Inst_i = E(R_i), DAE(X) = {Inst_i}. G concatenates the instances along channels,
applies residual blocks, then nearest-neighbour up-sampling + 3x3 convolution blocks.
D1 tells F(s) from targets t, D2 tells F(t) from t (against mode collapse). Losses
(Eq. 9): L_GAN^s + L_GAN^t + alpha * d(DAE(s), DAE(F(s))) + beta * d(DAE(t), DAE(F(t)))
with d L1 or L2 (non-saturating GAN terms). With source labels (``unpaired(...,
labels_a=...)``), the geometric regularisation of Sec. 3.1: a classifier on the
DAE features trained with the labels (``lambda_class``). Adam 2e-4 (batch 64 in the
paper's recipes), at a constant rate (the paper states no decay).

The labels are what steer f_loc to the objects: the classifier sees only the attended
regions, so it gains by moving them onto what tells the classes apart. The GAN,
consistency and symmetry terms alone did not move the regions onto the embedded demo's
objects in our runs (the centres hit the object no more often than a fixed point at
the image centre), and they favour regions with little content, whose instance
features are easy to match. ``lambda_class`` is 10 (the paper gives no value): with
1 those terms outweigh the classifier in a short run, with 5 the regions find the
demo's objects and then sometimes lose them, and with 10 they find them in 4 short
epochs for each of 5 seeds we tried (tests/test_dagan.py).

Ablations of the paper's Table 1(a): ``use_dae=False`` (E on the whole image, N = 1),
``consistency_loss=False``, ``symmetry_loss=False``, ``use_d2=False``.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_attngan import losses
from keras_attngan.models.base import PACKAGE, TranslationGAN
from keras_attngan.networks import (
    dense_discriminator, downsampling_encoder, instance_generator, localisation_head,
)


def region_masks(centres, height: int, width: int, half_size: float, steepness: float):
    """Eq. 4 masks, (B, H, W, N), for centres (B, N, 2) of (x, y) in [0, 1]."""
    def sigmoid(z):
        return ops.sigmoid(steepness * z)

    xs = (ops.arange(width, dtype="float32") + 0.5) / ops.cast(width, "float32")
    ys = (ops.arange(height, dtype="float32") + 0.5) / ops.cast(height, "float32")
    cx = centres[:, None, None, :, 0]
    cy = centres[:, None, None, :, 1]
    x = xs[None, None, :, None]
    y = ys[None, :, None, None]
    along_x = sigmoid(x - cx + half_size) - sigmoid(x - cx - half_size)
    along_y = sigmoid(y - cy + half_size) - sigmoid(y - cy - half_size)
    return along_x * along_y


@keras.saving.register_keras_serializable(package=PACKAGE)
class DAGAN(TranslationGAN):
    """DA-GAN (Ma et al. 2018): a deep attention encoder that attends to N regions, and
    a generator that translates the attended instance (a2b). See this module's
    docstring for the losses and switches."""
    directions = ("a2b",)
    has_attention = True
    mask_domains = ("a",)
    size_multiple = 8
    paper_epochs = 100
    paper_decay_start = 100

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        nf: int = 64,
        ngf: int = 64,
        ndf: int = 64,
        n_regions: int = 4,
        region_size: float = 0.25,
        steepness: float = 50.0,
        n_blocks: int = 3,
        distance: str = "l1",
        alpha: float = 1.0,
        beta: float = 1.0,
        n_classes: int = 0,
        lambda_class: float = 10.0,
        use_dae: bool = True,
        consistency_loss: bool = True,
        symmetry_loss: bool = True,
        use_d2: bool = True,
        pool_size: int = 0,
        **kwargs,
    ):
        if distance not in ("l1", "l2"):
            raise ValueError(f"distance must be 'l1' or 'l2'; got {distance!r}.")
        names = ["d1", "g_s"] + (["d2", "g_t"] if use_d2 else [])
        names += (["cst"] if consistency_loss else []) + (["sym"] if symmetry_loss else [])
        names += ["cls"] if n_classes else []
        super().__init__(image_size=image_size, channels=channels, pool_size=pool_size,
                         loss_names=names, mask_domains=("a",) if use_dae else (),
                         **kwargs)
        self.nf, self.ngf, self.ndf, self.n_blocks = nf, ngf, ndf, n_blocks
        self.n_regions = int(n_regions) if use_dae else 1
        self.region_size, self.steepness = float(region_size), float(steepness)
        self.distance, self.alpha, self.beta = distance, float(alpha), float(beta)
        self.n_classes, self.lambda_class = int(n_classes), float(lambda_class)
        self.use_dae, self.consistency_loss = bool(use_dae), bool(consistency_loss)
        self.symmetry_loss, self.use_d2 = bool(symmetry_loss), bool(use_d2)

        self.encoder = downsampling_encoder(channels, nf, name="encoder")
        features = nf * 4
        self.localisation = localisation_head(features, self.n_regions, name="f_loc")
        self.generator = instance_generator(features, self.n_regions, channels, ngf,
                                            n_blocks, name="generator")
        self.discriminator_1 = dense_discriminator(image_size, channels, ndf,
                                                   name="discriminator_1")
        self.discriminator_2 = dense_discriminator(image_size, channels, ndf,
                                                   name="discriminator_2")
        self.classifier = None
        if self.n_classes:
            self.classifier = keras.Sequential([
                keras.Input((None, None, features * self.n_regions)),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(self.n_classes),
            ], name="classifier")
        self.pool_1 = self.make_pool("pool_1")
        self.pool_2 = self.make_pool("pool_2")
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "nf": self.nf, "ngf": self.ngf, "ndf": self.ndf, "n_regions": self.n_regions,
            "region_size": self.region_size, "steepness": self.steepness,
            "n_blocks": self.n_blocks, "distance": self.distance, "alpha": self.alpha,
            "beta": self.beta, "n_classes": self.n_classes,
            "lambda_class": self.lambda_class, "use_dae": self.use_dae,
            "consistency_loss": self.consistency_loss,
            "symmetry_loss": self.symmetry_loss, "use_d2": self.use_d2,
        }

    @property
    def generator_variables(self):
        nets = [self.encoder, self.localisation, self.generator]
        nets += [self.classifier] if self.classifier is not None else []
        return [v for net in nets for v in net.trainable_variables]

    @property
    def discriminator_variables(self):
        nets = [self.discriminator_1] + ([self.discriminator_2] if self.use_d2 else [])
        return [v for net in nets for v in net.trainable_variables]

    @classmethod
    def trains_with_source_labels(cls, hparams) -> bool:
        """True when ``n_classes`` is set: the region classifier trains on source
        labels."""
        return bool(hparams.get("n_classes"))  # Sec. 3.1's classifier on the regions

    # ----------------------------------------------------- the deep attention encoder
    def attend(self, x, training=False):
        """(region centres (B, N, 2) as (x, y) in [0, 1], masks (B, H, W, N))."""
        height, width = x.shape[1] or ops.shape(x)[1], x.shape[2] or ops.shape(x)[2]
        if not self.use_dae:
            return (ops.full((ops.shape(x)[0], 1, 2), 0.5),
                    ops.ones_like(x[..., :1]))
        centres = self.localisation(self.encoder(x, training=training), training=training)
        masks = region_masks(ops.cast(centres, "float32"), height, width, self.region_size,
                             self.steepness)
        return centres, ops.cast(masks, x.dtype)

    def dae(self, x, training=False):
        """DAE(X): the N instance representations E(X * M_i), (B, N, h, w, C), and the
        masks."""
        _, masks = self.attend(x, training)
        instances = [self.encoder(x * masks[..., i:i + 1], training=training)
                     for i in range(self.n_regions)]
        return ops.stack(instances, axis=1), masks

    def _concat(self, instances):
        return ops.concatenate([instances[:, i] for i in range(self.n_regions)], axis=-1)

    def _translate(self, x, direction="a2b", training=False, return_regions: bool = False):
        instances, masks = self.dae(x, training)
        image = self.generator(self._concat(instances), training=training)
        out = {"image": image, "mask": ops.max(masks, axis=-1, keepdims=True)}
        if return_regions:
            centres, _ = self.attend(x, training)
            half = self.region_size
            out["centres"] = centres
            # boxes as (y_min, x_min, y_max, x_max) in [0, 1], tf.image's convention
            out["boxes"] = ops.clip(ops.stack([centres[..., 1] - half, centres[..., 0] - half,
                                               centres[..., 1] + half,
                                               centres[..., 0] + half], -1), 0.0, 1.0)
        return out

    def sample_rows(self, images_a, images_b):
        """The input with its attended regions boxed, the regions' mask and the
        translation."""
        out = self._translate(images_a, return_regions=True)
        colours = tf.constant([[1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 1.0],
                               [1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
        boxed = tf.image.draw_bounding_boxes(ops.cast(images_a, "float32"),
                                             ops.cast(out["boxes"], "float32"), colours)
        return [{"input with regions": boxed, "translation": out["image"]}]

    def _distance(self, a, b):
        if self.distance == "l1":
            return losses.l1(a, b)
        return ops.mean(ops.square(ops.cast(a, "float32") - ops.cast(b, "float32")))

    # ----------------------------------------------------------------- training
    def masks_in_use(self) -> bool:
        """False: the regions have a fixed size, so they move but cannot collapse."""
        return False  # the regions have a fixed size: they move, they cannot collapse

    def train_step(self, data):
        s, t = self.unpack_batch(data)
        labels = data[2] if isinstance(data, (tuple, list)) and len(data) > 2 else None
        with tf.GradientTape() as tape:
            inst_s, masks_s = self.dae(s, training=True)
            fake_s = self.generator(self._concat(inst_s), training=True)
            loss = {"g_s": losses.generator_adversarial(
                self.discriminator_1(fake_s, training=True), "vanilla")}
            total = loss["g_s"]
            if self.use_d2 or self.symmetry_loss:
                inst_t, _ = self.dae(t, training=True)
                fake_t = self.generator(self._concat(inst_t), training=True)
            if self.use_d2:
                loss["g_t"] = losses.generator_adversarial(
                    self.discriminator_2(fake_t, training=True), "vanilla")
                total += loss["g_t"]
            if self.consistency_loss:
                loss["cst"] = self._distance(inst_s, self.dae(fake_s, training=True)[0])
                total += self.alpha * loss["cst"]
            if self.symmetry_loss:
                loss["sym"] = self._distance(inst_t, self.dae(fake_t, training=True)[0])
                total += self.beta * loss["sym"]
            if self.classifier is not None:
                if labels is None:
                    raise ValueError("This DAGAN has n_classes set: pass labels_a= to "
                                     "kag.data.unpaired() so batches carry the labels.")
                logits = self.classifier(self._concat(inst_s), training=True)
                loss["cls"] = ops.mean(keras.losses.sparse_categorical_crossentropy(
                    labels, ops.cast(logits, "float32"), from_logits=True))
                total += self.lambda_class * loss["cls"]
        self.apply_gradients(tape, total, "generator")

        with tf.GradientTape() as tape:
            loss["d1"] = losses.discriminator_adversarial(
                self.discriminator_1(t, training=True),
                self.discriminator_1(self.pool_1.query(fake_s), training=True), "vanilla")
            d_total = loss["d1"]
            if self.use_d2:
                loss["d2"] = losses.discriminator_adversarial(
                    self.discriminator_2(t, training=True),
                    self.discriminator_2(self.pool_2.query(fake_t), training=True),
                    "vanilla")
                d_total += loss["d2"]
        self.apply_gradients(tape, d_total, "discriminator")
        if self.use_dae:  # without the DAE there are no regions to report
            loss.update(self.mask_statistics({"a": ops.max(masks_s, axis=-1,
                                                           keepdims=True)}))
        return self.track(loss)
