"""kag.metrics.evaluate, `attngan evaluate`, the evaluation callback and `attngan train
--eval-every`, and `attngan bench evaluate`, on tiny models and feature networks."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_attngan as kag
from keras_attngan import cli
from keras_attngan.metrics import EvaluationError
from conftest import write_images

M = kag.metrics


def tiny_network():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, {"features": keras.layers.Dense(6)(x),
                                "logits": keras.layers.Dense(4)(x)}, name="tiny_features")


@pytest.fixture(scope="module")
def network_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    path = str(tmp_path_factory.mktemp("net") / "tiny_features.keras")
    tiny_network().save(path)
    return path


@pytest.fixture(scope="module")
def data():
    a, masks = kag.data.builtin.make_domain("a", 12, 32, seed=3, return_masks=True)
    b = kag.data.builtin.make_domain("b", 12, 32, seed=3)
    return a, b, masks


class Identity:
    """A translator that returns its input and an all-ones mask."""

    directions = ("a2b", "b2a")
    image_size, size_multiple, has_attention = 32, 4, True

    def translate(self, images, direction=None):
        x = np.asarray(images)
        x = x / 127.5 - 1 if x.dtype == np.uint8 else x
        return {"image": x.astype("float32"), "mask": np.ones(x.shape[:3] + (1,), "float32")}


def test_evaluate_wires_every_metric_to_its_definition(data, tmp_path):
    a, b, masks = data
    network = M.feature_extractor(tiny_network())
    write_images(str(tmp_path / "masks"), np.repeat((masks[..., None] * 255).round()
                                                    .astype(np.uint8), 3, axis=-1))
    report = M.evaluate(Identity(), a, b, metrics=list(M.METRICS), pairs=a,
                        masks=str(tmp_path / "masks"), network=network, kid_subsets=5,
                        kid_subset_size=8, is_splits=3, batch_size=5, progress=False)
    got = report["metrics"]
    # the identity against its own input
    assert got["mse"]["mean"] == 0.0 and got["ssim"]["mean"] == pytest.approx(1.0)
    assert got["pixel_accuracy_unit"]["mean"] == got["pixel_accuracy_sat"]["mean"] == 1.0
    assert got["psnr"]["identical_images"] == 12
    # all-ones masks: IoU is the object's share of the image
    expected_iou = ((masks > 0.5).reshape(12, -1).mean(axis=1)).mean()
    assert got["mask_iou"]["mean"] == pytest.approx(expected_iou, rel=1e-6)
    # KID, FID and IS are the functions on the same features
    fake = M.compute_features(a, network, progress=False, outputs=("features", "logits"))
    real = M.compute_features(b, network, progress=False)["features"]
    kid = M.kid_from_features(real, fake["features"], 5, 8, seed=0)
    assert (got["kid"]["mean"], got["kid"]["std"]) == pytest.approx(kid, rel=1e-5)
    assert got["fid"]["value"] == pytest.approx(M.fid_from_features(real, fake["features"]),
                                                rel=1e-4)
    assert got["is"]["mean"] == pytest.approx(
        M.inception_score(M.softmax(fake["logits"]), 3)[0], rel=1e-5)
    assert report["sizes"] == {"image_size": 32, "translated": 12, "real": 12,
                               "batch_size": 5}
    assert "resized to 16 px" in report["notes"][0]
    assert report["grid"].shape == (8 * 32 + 2, 5 * 32, 3)  # 4 best, a line, 4 worst
    assert len(report["per_image"]["mse"]) == 12
    json.dumps(M.scoring.to_json(report))  # everything serialisable
    # cached real features give the same KID
    again = M.evaluate(Identity(), a, None, metrics=["kid"], network=network,
                       kid_subsets=5, kid_subset_size=8, progress=False,
                       real_features=report["real_features"])
    assert again["metrics"]["kid"]["mean"] == pytest.approx(got["kid"]["mean"])


class Shifted(Identity):
    """The identity, 10 grey levels brighter (clipped at 255)."""

    def translate(self, images, direction=None):
        x = np.asarray(images)
        if x.dtype != np.uint8:
            x = np.round((x + 1) * 127.5).astype(np.uint8)
        return super().translate(np.minimum(x.astype(np.int32) + 10, 255).astype(np.uint8),
                                 direction)


def test_paired_metrics_score_the_translation_not_its_source(data):
    """A translator 10 levels off its targets: MSE and PSNR are those of the shift (the
    identity test above cannot tell the translation from the source)."""
    a, _, _ = data
    report = M.evaluate(Shifted(), a, None, metrics=["mse", "psnr"], pairs=a,
                        batch_size=5, progress=False)
    errors = ((np.minimum(a.astype(np.int64) + 10, 255) - a) ** 2).reshape(12, -1)
    assert errors.mean() > 50  # most pixels moved the full 10 levels
    got = report["metrics"]
    assert got["mse"]["mean"] == pytest.approx(errors.mean(axis=1).mean(), rel=1e-4)
    assert report["per_image"]["psnr"] == pytest.approx(
        10 * np.log10(255.0 ** 2 / errors.mean(axis=1)), rel=1e-4)


def test_defaults_per_model():
    assert M.default_metrics("uag") == ["kid"]
    assert M.default_metrics("dagan") == ["kid", "is"]
    assert M.default_metrics("unit", pairs=True)[:2] == ["kid", "pixel_accuracy_unit"]
    assert "pixel_accuracy_sat" in M.default_metrics("sat", pairs=True)
    assert M.default_metrics("aggan", pairs=True, masks=True)[-1] == "mask_iou"


@pytest.mark.parametrize("kwargs, words", [
    (dict(metrics=["kid"], kid_subset_size=50), "kid_subset_size"),
    (dict(metrics=["psnr"]), "pairs"),
    (dict(metrics=["mask_iou"]), "masks"),
    (dict(metrics=["bleu"]), "Unknown metric"),
    (dict(metrics=["psnr"], pairs="a[:5]"), "one per source image"),
    (dict(metrics=["kid"], direction="x2y"), "direction"),
])
def test_evaluate_refuses_unusable_inputs(data, kwargs, words):
    a, b, _ = data
    if kwargs.get("pairs") == "a[:5]":
        kwargs["pairs"] = a[:5]
    with pytest.raises(EvaluationError, match=words):
        M.evaluate(Identity(), a, b, network=tiny_network(), progress=False, **kwargs)


def test_evaluate_refuses_non_translators_and_masks_without_attention(data, tiny_cyclegan):
    a, b, masks = data
    with pytest.raises(EvaluationError, match="not a translator"):
        M.evaluate(keras.Sequential([keras.layers.Dense(1)]), a, b, progress=False)
    with pytest.raises(EvaluationError, match="attention"):
        M.evaluate(tiny_cyclegan(), a, b, metrics=["mask_iou"], masks=masks, progress=False)


def test_a_saved_model_scores_as_its_keras_model(data, tiny_cyclegan, tmp_path):
    a, b, _ = data
    model = tiny_cyclegan()
    path = kag.export.saved_model(model, str(tmp_path / "export" / "1"), max_side=64)
    translator, info = M.load_translator(path)
    assert info["format"] == "saved_model" and translator.directions == ("a2b", "b2a")
    with pytest.raises(EvaluationError, match="image size"):
        M.evaluate(translator, a, b, metrics=["psnr"], pairs=b, progress=False)
    scores = [M.evaluate(m, a, b, direction="b2a", metrics=["psnr", "mse"], pairs=a,
                         image_size=32, progress=False)["metrics"]
              for m in (model, translator)]
    assert scores[1]["psnr"]["mean"] == pytest.approx(scores[0]["psnr"]["mean"], abs=0.05)


# ------------------------------------------------------------------ callback
def test_periodic_evaluation_logs_kid_and_keeps_the_best(data, tiny_cyclegan, tmp_path):
    a, b, _ = data
    model = tiny_cyclegan()
    callback = kag.callbacks.PeriodicEvaluation(
        a, b, every=1, log_dir=str(tmp_path), network=tiny_network(), kid_subsets=3,
        kid_subset_size=8, verbose=0)
    # driven as fit drives it (fit itself: test_cli_train_evaluates_every_epoch)
    callback.set_model(model)
    callback.on_train_begin()
    history, weights = {"eval_kid": []}, []
    for epoch in range(3):
        logs = {}
        weights.append([v.numpy() for v in model.generator_a2b.trainable_variables])
        callback.on_epoch_end(epoch, logs)
        history["eval_kid"].append(logs["eval_kid"])
        for variable in model.generator_a2b.trainable_variables:  # another model; the
            # last one translates every image to one grey image: the worst
            variable.assign(variable * (1.5 if epoch == 0 else 0.0))
    callback.on_train_end()
    assert np.all(np.isfinite(history["eval_kid"]))
    assert history["eval_kid"][0] != history["eval_kid"][1]
    assert [e["epoch"] for e in callback.history] == [1, 2, 3]
    record = json.load(open(tmp_path / "best.json"))
    assert record["value"] == pytest.approx(min(history["eval_kid"]))
    # best.keras holds the best epoch's model, not the last one's
    best = int(np.argmin(history["eval_kid"]))
    assert best != 2
    saved = kag.models.load(str(tmp_path / "best.keras"))
    assert saved.image_size == 32
    for kept, then in zip(saved.generator_a2b.trainable_variables, weights[best]):
        np.testing.assert_array_equal(kept.numpy(), then)
    assert os.listdir(tmp_path / "eval")  # TensorBoard events
    # a resumed run knows the best so far
    resumed = kag.training.PeriodicEvaluation(a, b, log_dir=str(tmp_path),
                                              network=tiny_network(), kid_subset_size=8)
    assert resumed.best["value"] == record["value"]
    with pytest.raises(ValueError, match="kid"):
        kag.training.PeriodicEvaluation(a, b, metric="is", network=tiny_network())


# ----------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, data):
    """A tiny CycleGAN saved as a run folder, and its test images as folders."""
    a, b, _ = data
    root = tmp_path_factory.mktemp("evalrun")
    keras.utils.set_random_seed(0)
    model = kag.models.build("cyclegan", image_size=32, ngf=8, ndf=8, n_blocks=1)
    (root / "run").mkdir()
    model.save(str(root / "run" / "model.keras"))
    write_images(str(root / "A"), a)
    write_images(str(root / "B"), b)
    return str(root / "run"), str(root / "A"), str(root / "B")


def test_cli_evaluate_prints_a_table_and_writes_eval_json_and_grid(run_folder, network_file,
                                                                   capsys):
    run, folder_a, folder_b = run_folder
    report = cli.main(["evaluate", "--checkpoint", run, "--data-a", folder_a, "--data-b",
                       folder_b, "--pairs", folder_b, "--metrics", "kid,fid,psnr,ssim",
                       "--feature-network", network_file, "--kid-subset-size", "8",
                       "--verbose", "0"])
    printed = capsys.readouterr().out
    assert "KID x100" in printed and "PSNR" in printed and "tiny_features" in printed
    assert os.path.join(run, "eval", "eval.json") in printed
    record = json.load(open(os.path.join(run, "eval", "eval.json")))
    assert set(record["metrics"]) == {"kid", "fid", "psnr", "ssim"}
    assert record["model"]["name"] == "cyclegan" and record["direction"] == "a2b"
    assert record["data"]["source"]["source"] == folder_a
    assert record["feature_network"]["description"].startswith("Keras model 'tiny_features'")
    assert record["sizes"]["translated"] == 12 and record["seed"] == 0
    grid = tf.io.decode_png(tf.io.read_file(report["grid_path"])).numpy()
    assert grid.shape == (8 * 32 + 2, 3 * 32, 3)  # input | translation | target


def test_cli_evaluate_records_random_inception_as_tests_only(run_folder, tmp_path, capsys):
    run, folder_a, folder_b = run_folder
    cli.main(["evaluate", "--checkpoint", os.path.join(run, "model.keras"), "--data-a",
              folder_a, "--data-b", folder_b, "--direction", "b2a", "--inception-weights",
              "none", "--kid-subset-size", "6", "--kid-subsets", "2", "--out",
              str(tmp_path / "ev"), "--verbose", "0"])
    record = json.load(open(tmp_path / "ev" / "eval.json"))
    assert M.RANDOM_INIT in record["feature_network"]["description"]
    assert record["feature_network"]["random_init"] is True
    assert "not comparable" in capsys.readouterr().out


@pytest.mark.parametrize("extra, words", [
    (["--metrics", "kid,bleu"], "unknown metric"),
    (["--masks", "MASKS", "--metrics", "mask_iou"], "attention"),
    (["--kid-subset-size", "50"], "--kid-subset-size"),
    (["--direction", "c2d"], "translates"),
    (["--inception-weights", "imagenet", "--kid-subset-size", "8"],
     "--inception-weights PATH"),
])
def test_cli_evaluate_user_mistakes_exit_2(run_folder, extra, words, monkeypatch, capsys):
    run, folder_a, folder_b = run_folder

    def offline(**kwargs):
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    extra = [folder_a if e == "MASKS" else e for e in extra]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "--checkpoint", run, "--data-a", folder_a, "--data-b",
                  folder_b, "--verbose", "0", *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("attngan evaluate: error: ") and words in err


def test_cli_evaluate_exit_status_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "keras_attngan.cli", "evaluate",
                           "--checkpoint", str(tmp_path / "missing.keras"), "--data-a",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "attngan evaluate: error: No model at" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_train_evaluates_every_epoch(run_folder, network_file, tmp_path, capsys):
    _, folder_a, folder_b = run_folder
    out = str(tmp_path / "train")
    result = cli.main(["train", "--model", "cyclegan", "--data-a", folder_a, "--data-b",
                       folder_b, "--epochs", "1", "--batch-size", "4", "--out", out,
                       "--verbose", "0", "--image-size", "32", "--load-size", "36",
                       "--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=1",
                       "--seed", "0", "--eval-data-a", folder_a, "--eval-data-b", folder_b,
                       "--eval-feature-network", network_file, "--kid-subset-size", "8"])
    assert len(result["history"]["eval_kid"]) == 1
    assert os.path.exists(os.path.join(out, "best.keras"))
    assert "held-out KID" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["train", "--data-a", folder_a, "--data-b", folder_b, "--out",
                  str(tmp_path / "t2"), "--eval-every", "2"])
    assert "--eval-data-a" in capsys.readouterr().err


def test_cli_bench_evaluate(capsys):
    result = cli.main(["bench", "evaluate", "--steps", "8", "--batch-size", "4"])
    assert result["images"] == 8 and result["images_per_second"] > 0
    assert result["peak_rss_mb"] > 0 and result["features_shape"] == [8, 2048]
    assert "images/s at 299 px" in capsys.readouterr().out
