import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_attngan as kag
from conftest import scaled

TINY_UNIT_DA = dict(image_size=32, ngf=8, ndf=16, n_classes=4)


def test_paper_networks_and_what_the_discriminators_share():
    model = kag.models.build("unit_da")
    assert (model.n_classes, model.image_size, model.ngf, model.ndf) == (10, 32, 64, 64)
    assert isinstance(model, kag.models.UNIT)  # the UNIT objective, its weights
    assert (model.lambda_gan, model.lambda_recon, model.lambda_cycle) == (10, 100, 100)
    # the code is 1x1 (the 8x8 'valid' convolution), 8 ngf wide
    assert model.encode(np.zeros((1, 32, 32, 3), "float32"), "a").shape == (1, 1, 1, 512)
    trunk = {id(v) for v in model.shared_discriminator.trainable_variables}
    front_1 = {id(v) for v in model.discriminator_front_1.trainable_variables}
    front_2 = {id(v) for v in model.discriminator_front_2.trainable_variables}
    assert trunk and front_1 and not front_1 & front_2
    ids = [id(v) for v in model.discriminator_variables]
    assert len(ids) == len(set(ids)) and trunk <= set(ids)
    assert {id(v) for v in model.classifier_head.trainable_variables} <= set(ids)
    convs = [l for l in model.shared_discriminator.layers
             if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [128, 256, 512]
    with pytest.raises(ValueError, match="n_classes"):
        kag.models.build("unit_da", n_classes=1)
    with pytest.raises(ValueError, match="n_blocks"):
        kag.models.build("unit_da", n_blocks=2)


def test_train_step_needs_labels_classify_and_save_load(tmp_path):
    glyphs, labels = kag.data.builtin.make_glyphs(8, 32, 4, seed=0)
    target, _ = kag.data.builtin.make_glyphs(8, 32, 4, seed=1, invert=True)
    model = kag.models.build("unit_da", **TINY_UNIT_DA)
    model.compile()
    x1, x2 = scaled(glyphs[:4]), scaled(target[:4])
    with pytest.raises(ValueError, match="labels_a"):
        model.train_step((x1, x2))
    logs = model.train_step((x1, x2, tf.constant(labels[:4])))
    assert {"cls", "feature", "d_1", "gan_2"} <= set(logs)
    assert float(logs["cls"]) == pytest.approx(np.log(4), rel=0.2)  # untrained: chance
    probabilities = model.classify(target, "b")
    assert probabilities.shape == (8, 4) and np.allclose(probabilities.sum(-1), 1, atol=1e-5)
    assert model.classify(target[0], "a").shape == (4,)
    # any size: resized to the networks' 32 px and back
    out = model.translate(target[:2, :28, :20], "b2a")["image"]
    assert out.shape == (2, 28, 20, 3) and -1 <= out.min() and out.max() <= 1
    model.save(str(tmp_path / "unit_da.keras"))
    loaded = kag.models.load(str(tmp_path / "unit_da.keras"))
    assert np.allclose(loaded.classify(target, "b"), probabilities, atol=1e-6)
    assert np.array_equal(loaded.translate(glyphs)["image"], model.translate(glyphs)["image"])


@pytest.mark.slow
def test_adapts_the_source_classifier_to_inverted_glyphs():
    # Source: bright glyphs of 4 classes on dark, labelled; target: the same kind of
    # glyphs inverted, unlabelled. A classifier trained on the source alone is at chance
    # on the target; the shared latent space and shared discriminator layers absorb the
    # inversion (the own first layers learn it), so the head reads target digits too.
    keras.utils.set_random_seed(0)
    source, source_labels = kag.data.builtin.make_glyphs(256, 32, 4, seed=0)
    target, _ = kag.data.builtin.make_glyphs(256, 32, 4, seed=1, invert=True)
    test, test_labels = kag.data.builtin.make_glyphs(256, 32, 4, seed=2, invert=True)
    source_only = kag.metrics.classifier_accuracy(
        kag.metrics.train_classifier(source, source_labels, epochs=3, n_classes=4),
        test, test_labels)
    ds = kag.data.unpaired(source, target, image_size=32, augment=False, batch_size=16,
                           seed=0, labels_a=source_labels)
    model = kag.models.build("unit_da", **TINY_UNIT_DA)
    model.compile(learning_rate=1e-3)  # a short run
    model.fit(ds, epochs=5, verbose=0)
    source_accuracy = kag.metrics.classify_accuracy(model, source, source_labels, "a")
    target_accuracy = kag.metrics.classify_accuracy(model, test, test_labels, "b")
    # seed 0: source 1.0, target 0.97, source-only 0.23 (seed 1: 1.0, 0.72, 0.23)
    assert source_accuracy > 0.9, source_accuracy
    assert source_only < 0.4, source_only  # the domains do differ
    assert target_accuracy > max(0.55, source_only + 0.25), (target_accuracy, source_only)


def test_trains_from_the_command_line_with_class_folders(tmp_path, capsys):
    from conftest import write_images
    from keras_attngan import cli

    glyphs, labels = kag.data.builtin.make_glyphs(12, 32, 3, seed=0)
    for k in range(3):
        write_images(str(tmp_path / "A" / str(k)), glyphs[labels == k])
    write_images(str(tmp_path / "B"), kag.data.builtin.make_glyphs(8, 32, 3, seed=1,
                                                                   invert=True)[0])
    common = ["train", "--model", "unit_da", "--data-a", str(tmp_path / "A"), "--data-b",
              str(tmp_path / "B"), "--image-size", "32", "--batch-size", "4",
              "--epochs", "1", "--verbose", "0", "--set", "ngf=8", "--set", "ndf=16"]
    with pytest.raises(SystemExit) as exit_info:  # 3 classes in the folders, 2 asked
        cli.main(common + ["--set", "n_classes=2", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and "n_classes=3" in capsys.readouterr().err
    result = cli.main(common + ["--set", "n_classes=3", "--out", str(tmp_path / "run")])
    assert len(result["history"]["cls"]) == 1
    model = kag.models.load(result["model_path"])
    assert model.classify(glyphs, "a").shape == (12, 3)
    with pytest.raises(SystemExit) as exit_info:  # a flat folder has no labels
        cli.main(["train", "--model", "unit_da", "--data-a", str(tmp_path / "B"),
                  "--data-b", str(tmp_path / "B"), "--image-size", "32", "--epochs", "1",
                  "--out", str(tmp_path / "flat")])
    assert exit_info.value.code == 2 and "sub-folder per class" in capsys.readouterr().err
