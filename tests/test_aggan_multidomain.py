import os

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_attngan as kag
from conftest import scaled, write_images

TINY_MD = dict(image_size=32, n_domains=4, ngf=16, ndf=16, n_blocks=2, n_layers_d=3)


def tiny(**overrides):
    model = kag.models.build("aggan_multidomain", **{**TINY_MD, **overrides})
    model.compile()
    return model


def test_paper_defaults_and_the_conditioned_generator():
    model = kag.models.build("aggan_multidomain")
    assert (model.n_domains, model.image_size, model.n_blocks, model.n_layers_d) == (
        8, 128, 6, 6)
    assert (model.lambda_cls, model.lambda_cycle, model.lambda_gan) == (1, 10, 1)
    # the generator sees the image and the 8 code channels
    assert model.generator.input_shape[-1] == 3 + 8
    scores, logits = model.discriminator.output_shape
    assert logits == (None, 8) and scores[-1] == 1
    with pytest.raises(ValueError, match="n_domains"):
        kag.models.build("aggan_multidomain", n_domains=1)


def test_translate_needs_a_domain_and_the_code_matters(tmp_path):
    model = tiny()
    images, labels = kag.data.builtin.make_multidomain(8, 32, 4, seed=0)
    logs = model.train_step((scaled(images[:4]), tf.constant(labels[:4])))
    assert set(logs) == set(model.loss_names) | {
        "mask_input_mean", "mask_input_active_mean", "mask_input_active_fraction"}
    assert 0.0 < float(logs["mask_input_mean"]) < 1.0
    with pytest.raises(ValueError, match="target_domain"):
        model.translate(images)
    with pytest.raises(ValueError, match="0..3"):
        model.translate(images, target_domain=4)
    outs = [model.translate(images, target_domain=k) for k in range(4)]
    assert outs[0]["image"].shape == images.shape and outs[0]["mask"].shape == (8, 32, 32, 1)
    assert not np.allclose(outs[0]["image"], outs[1]["image"])  # the code reaches G
    rows = model.sample_rows(scaled(images[:2]))
    assert list(rows[0]) == ["input"] + [f"{kind} {k}" for k in range(4)
                                         for kind in ("to", "mask")]
    with pytest.raises(ValueError, match="images, domain"):
        model.train_step((scaled(images[:4]), scaled(images[:4]), labels[:4]))
    model.save(str(tmp_path / "md.keras"))
    loaded = kag.models.load(str(tmp_path / "md.keras"))
    again = loaded.translate(images, target_domain=2)
    assert np.array_equal(again["image"], outs[2]["image"])


def test_multidomain_data_from_folders_rafd_names_and_arrays(tmp_path):
    from keras_attngan.data import DataError

    images, labels = kag.data.builtin.make_multidomain(12, 32, 3, seed=0)
    for k, name in enumerate(["angry", "happy", "neutral"]):
        write_images(str(tmp_path / "folders" / name), images[labels == k])
    paths, found, names = kag.data.domain_files(str(tmp_path / "folders"))
    assert names == ("angry", "happy", "neutral") and len(paths) == 12
    assert sorted(found.tolist()) == sorted(labels.tolist())
    rafd = tmp_path / "rafd"
    rafd.mkdir()
    for i, expression in enumerate(["angry", "surprised", "neutral"]):
        tf.io.write_file(str(rafd / f"Rafd090_{i:02d}_Caucasian_female_{expression}_"
                                    "frontal.jpg"), tf.io.encode_jpeg(images[i]))
    _, found, names = kag.data.domain_files(str(rafd))
    assert names == kag.data.RAFD_EXPRESSIONS and found.tolist() == [0, 7, 5]
    tf.io.write_file(str(rafd / "other.png"), tf.io.encode_png(images[0]))
    with pytest.raises(DataError, match="sub-folder"):
        kag.data.domain_files(str(rafd))
    ds = kag.data.multidomain(str(tmp_path / "folders"), image_size=32, load_size=36,
                              batch_size=4, seed=0)
    batch, batch_labels = next(iter(ds))
    assert batch.shape == (4, 32, 32, 3) and batch_labels.dtype == tf.int64
    assert -1 <= float(tf.reduce_min(batch)) and float(tf.reduce_max(batch)) <= 1
    with pytest.raises(DataError, match="n_domains=3"):
        kag.data.multidomain((images, labels), image_size=32, n_domains=2)


@pytest.mark.slow
def test_learns_the_domains_translates_to_them_and_masks_only_what_changes():
    # 4 domains: a disc of one colour per domain on textured backgrounds drawn the same
    # way in every domain; only the disc changes between domains.
    keras.utils.set_random_seed(0)
    images, labels = kag.data.builtin.make_multidomain(256, 32, 4, seed=0)
    test, test_labels, masks = kag.data.builtin.make_multidomain(64, 32, 4, seed=5,
                                                                 return_masks=True)
    ds = kag.data.multidomain((images, labels), image_size=32, batch_size=16,
                              augment=False, seed=0)
    model = kag.models.build("aggan_multidomain", decay_start=6, **TINY_MD)
    model.compile(learning_rate=1e-3)  # a short run
    model.fit(ds, epochs=6, verbose=0)
    real = float(np.mean(model.classify_domain(test).argmax(-1) == test_labels))
    hits, colour_hits, background, disc = [], [], [], []
    colours = np.array(kag.data.builtin.DOMAIN_COLORS[:4], np.float32)
    colours /= np.linalg.norm(colours, axis=1, keepdims=True)
    for k in range(4):
        out = model.translate(test, target_domain=k)
        changed = test_labels != k
        hits.append(np.mean(model.classify_domain(out["image"]).argmax(-1)[changed] == k))
        # judged by colour too, not only by the model's own domain head: each translated
        # disc's mean colour turns toward domain k's (by angle: shading scales it)
        def cosine(images):
            rgb = np.stack([((o + 1) * 127.5)[m > 0.99].mean(axis=0)
                            for o, m in zip(images, masks)])
            return rgb @ colours[k] / np.linalg.norm(rgb, axis=1)
        toward = cosine(out["image"]) > cosine(test / 127.5 - 1) + 0.01
        colour_hits.append(np.mean(toward[changed]))
        background.append(out["mask"][..., 0][masks < 0.01].mean())
        disc.append(out["mask"][..., 0][masks > 0.99].mean())
    # seed 0: real 0.98, translations classified as their target 0.89 (chance 0.25),
    # mask 0.15 on the background against 0.50 on the disc
    assert real > 0.9, real
    assert np.mean(hits) > 0.6, hits
    # seed 0: 0.99 of the translated discs turn toward the target's colour; nearest to
    # it in colour only 0.37 (the mask is 0.5 on the disc: half the source remains)
    assert np.mean(colour_hits) > 0.8, colour_hits
    assert np.mean(background) < 0.25 and np.mean(background) < 0.5 * np.mean(disc), (
        background, disc)


def test_trains_and_exports_from_the_command_line(tmp_path, capsys):
    from keras_attngan import cli

    images, labels = kag.data.builtin.make_multidomain(12, 32, 3, seed=0)
    for k, name in enumerate(["angry", "happy", "neutral"]):
        write_images(str(tmp_path / "faces" / name), images[labels == k])
    common = ["train", "--model", "aggan_multidomain", "--image-size", "32",
              "--load-size", "36", "--batch-size", "4", "--epochs", "1", "--verbose", "0",
              "--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=1",
              "--set", "n_layers_d=3"]
    with pytest.raises(SystemExit) as exit_info:  # 3 domain folders, the default 8
        cli.main(common + ["--data", str(tmp_path / "faces"), "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2 and "n_domains=3" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # two unpaired sets are not its data
        cli.main(common + ["--data-a", str(tmp_path / "faces" / "angry"), "--data-b",
                           str(tmp_path / "faces" / "happy"), "--out", str(tmp_path / "y")])
    assert exit_info.value.code == 2 and "--data DIR" in capsys.readouterr().err
    out = str(tmp_path / "run")
    result = cli.main(common + ["--set", "n_domains=3", "--data", str(tmp_path / "faces"),
                                "--out", out])
    assert "0=angry, 1=happy, 2=neutral" in capsys.readouterr().out
    assert len(result["history"]["d_cls"]) == 1
    grid = tf.io.decode_png(tf.io.read_file(os.path.join(out, "samples",
                                                         "epoch_0001.png"))).numpy()
    assert grid.shape == (4 * 32, (1 + 2 * 3) * 32, 3)  # input | (to k | mask k) x 3
    exported = cli.main(["export", "--checkpoint", result["model_path"], "--format",
                         "saved_model", "--out", str(tmp_path / "export" / "1")])
    signature = tf.saved_model.load(exported["path"]).signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {"images", "target_domain"}
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "cyclegan", "--data", str(tmp_path / "faces"),
                  "--out", str(tmp_path / "z")])


def test_translate_from_the_command_line_to_a_domain(tmp_path, capsys):
    from keras_attngan import cli

    model = tiny()
    model.save(str(tmp_path / "md.keras"))
    images, _ = kag.data.builtin.make_multidomain(2, 32, 4, seed=0)
    write_images(str(tmp_path / "in"), images)
    base = ["translate", "--checkpoint", str(tmp_path / "md.keras"), "--input",
            str(tmp_path / "in"), "--output", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(base)
    assert exit_info.value.code == 2 and "--target-domain K" in capsys.readouterr().err
    written = cli.main(base + ["--target-domain", "3"])
    assert len(written) == 2
    got = tf.io.decode_png(tf.io.read_file(str(tmp_path / "out" / "000.png"))).numpy()
    expected = model.translate(images[0], target_domain=3)["image"]
    assert np.abs(got.astype(int) - np.round((expected + 1) * 127.5)).max() <= 1
    assert os.path.exists(tmp_path / "out" / "000_mask.png")


def test_evaluate_refuses_a_multidomain_model_with_what_to_do_instead():
    model = tiny()
    images, _ = kag.data.builtin.make_multidomain(4, 32, 4, seed=0)
    with pytest.raises(kag.metrics.EvaluationError, match="target_domain=k"):
        kag.metrics.evaluate(model, images, images)
