"""Where DA-GAN loses the class on the quality benchmark's digits task.

Trains DA-GAN as ``attngan bench quality --model dagan --task digits`` does (seed 0,
batch 1, 300 images a side) and every 300 steps prints, on 200 source digits the model
never trained on, one JSON line:

- ``fake_std``: the translations' per-pixel standard deviation across inputs (real
  target digits: 0.34 on [-1, 1]); ``*_train_mode``: the same with batch norm in
  training mode, one image at a time, as the model trains;
- ``dae_s_centroid``: nearest-class-centroid accuracy of DAE(s) (100 digits give the
  centroids, 100 are classified), i.e. whether the encoder holds the class;
- ``dae_fake_centroid``: DAE(F(s)) classified by DAE(s)'s centroids (the consistency
  loss asks for these to agree);
- ``fake_centroid``: the translations classified by their own centroids (whether any
  trace of the class is left in them);
- ``classifier_on_dae_s``: Sec. 3.1's classifier, with ``n_classes=10``.

At the end: the bench's accuracy after translation. Usage (each NAME=VALUE is a DA-GAN
hyper-parameter)::

    python tools/dagan_class_probe.py n_classes=10 [steps=3000]
"""

from __future__ import annotations

import json
import sys

import keras
import numpy as np

from keras_attngan.benchmarks import tasks
from keras_attngan.benchmarks.quality import (
    TASK_IMAGE_SIZE, TRAIN_IMAGES, digits_scores, train_on_task,
)
from keras_attngan.cli.common import parse_set

SIZE, PROBE = TASK_IMAGE_SIZE["digits"], 200


def centroid_accuracy(fit_features, fit_labels, features, labels) -> float:
    fit_features = fit_features.reshape(len(fit_features), -1)
    features = features.reshape(len(features), -1)
    centroids = np.stack([fit_features[fit_labels == c].mean(0) for c in range(10)])
    distances = ((features[:, None] - centroids[None]) ** 2).sum(-1)
    return float((distances.argmin(1) == labels).mean())


class ClassProbe(keras.callbacks.Callback):
    def __init__(self, images, labels):
        super().__init__()
        self.images, self.labels = images, labels

    def passes(self, training: bool):
        """DAE(s), F(s), DAE(F(s)) and (with a classifier) its logits on DAE(s); in
        training mode one image at a time, the moving statistics restored afterwards."""
        model = self.model
        saved = [v.numpy() for v in model.non_trainable_variables]
        rows = []
        step = 1 if training else len(self.images)
        for i in range(0, len(self.images), step):
            x = self.images[i:i + step]
            instances, _ = model.dae(x, training=training)
            fake = model.generator(model._concat(instances), training=training)
            again, _ = model.dae(fake, training=training)
            rows.append([np.asarray(t) for t in (instances, fake, again)])
            if model.classifier is not None:
                logits = model.classifier(model._concat(instances), training=training)
                rows[-1].append(np.asarray(logits))
        for variable, value in zip(model.non_trainable_variables, saved):
            variable.assign(value)
        return [np.concatenate(parts) for parts in zip(*rows)]

    def on_epoch_end(self, epoch, logs=None):
        half, y = PROBE // 2, self.labels
        out = {"step": (epoch + 1) * self.params["steps"]}
        for training in (False, True):
            suffix = "_train_mode" if training else ""
            dae_s, fake, dae_fake, *logits = self.passes(training)
            out["fake_std" + suffix] = round(float(fake.std(0).mean()), 4)
            out["dae_s_centroid" + suffix] = centroid_accuracy(dae_s[:half], y[:half],
                                                               dae_s[half:], y[half:])
            out["dae_fake_centroid" + suffix] = centroid_accuracy(dae_s[:half], y[:half],
                                                                  dae_fake[half:], y[half:])
            out["fake_centroid" + suffix] = centroid_accuracy(fake[:half], y[:half],
                                                              fake[half:], y[half:])
            if logits:
                out["classifier_on_dae_s" + suffix] = float((logits[0].argmax(1) == y).mean())
        out.update({k: round(float(np.mean(v)), 4) for k, v in (logs or {}).items()})
        print(json.dumps(out), flush=True)


def main(argv: list[str]) -> None:
    hparams = parse_set(argv)  # NAME=VALUE as attngan's --set reads them
    steps = int(hparams.pop("steps", 3000))
    a, a_labels = tasks.digits_domain("a", TRAIN_IMAGES, SIZE, 0)
    b, _ = tasks.digits_domain("b", TRAIN_IMAGES, SIZE, 0)
    source, source_labels = tasks.digits_domain("a", 1000, SIZE, 1000)
    target, target_labels = tasks.digits_domain("b", 1000, SIZE, 2000)
    probe = ClassProbe(source[:PROBE].astype("float32") / 127.5 - 1.0, source_labels[:PROBE])
    model, _ = train_on_task("dagan", a, b, steps, 1, 0, callbacks=[probe], augment=False,
                             labels_a=a_labels if hparams.get("n_classes") else None,
                             image_size=SIZE, **hparams)
    print(json.dumps(digits_scores(model, source, source_labels, target, target_labels)))


if __name__ == "__main__":
    main(sys.argv[1:])
