"""Saved work survives upgrades: every file layout an earlier release wrote (fixtures in
tests/fixtures/formatN, made by tests/fixtures/make_fixtures.py from those commits)
loads with today's code and translates as it did; today's files record their format and
do not depend on which convolution algorithm runs."""

import glob
import json
import os
import shutil
import warnings
import zipfile

import h5py
import keras
import numpy as np
import pytest

import keras_attngan as kag
from keras_attngan import cli
from keras_attngan.models.formats import FORMAT_VERSION, FormatUpgradeWarning

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
FILES = sorted(glob.glob(os.path.join(FIXTURES, "format*", "*.keras")))


def fixture_id(path):
    return f"{os.path.basename(os.path.dirname(path))}-{os.path.basename(path)[:-6]}"


def test_fixtures_cover_every_format_and_todays_every_model():
    formats = {os.path.basename(os.path.dirname(p)) for p in FILES}
    assert formats == {f"format{n}" for n in range(1, FORMAT_VERSION + 1)}
    today = {os.path.basename(p)[:-6] for p in FILES if f"format{FORMAT_VERSION}" in p}
    assert today == set(kag.models.available())


@pytest.mark.parametrize("path", FILES, ids=fixture_id)
def test_each_saved_model_loads_and_translates_as_it_did(path):
    stored = np.load(path[:-6] + ".npz")
    name = os.path.basename(path)[:-6]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = kag.models.load(path)
    upgraded = [w for w in caught if issubclass(w.category, FormatUpgradeWarning)]
    options = {"target_domain": 1} if name == "aggan_multidomain" else {}
    out = model.translate(stored["x"], **options)
    np.testing.assert_allclose(out["image"], stored["image"], atol=2e-5)
    if "mask" in stored:
        np.testing.assert_allclose(out["mask"], stored["mask"], atol=2e-5)
    # the optimisers came back too (training can go on from the file)
    for role in model.optimizer_roles:
        assert getattr(model, f"{role}_optimizer") is not None
    if f"format{FORMAT_VERSION}" in path:
        assert not upgraded
    # a file whose layout changed says so once; formats 1-4 differ in class names
    # or biases for every model that has a package convolution before a norm
    elif name != "dagan":
        assert len(upgraded) <= 1


def test_the_old_optimiser_state_follows_its_variables():
    """A CycleGAN trained one step in format 2 (biases before the norms): after the
    upgrade, each Adam slot sits beside the variable it belongs to (the same shape)
    and holds the values it held."""
    path = os.path.join(FIXTURES, "format2", "cyclegan.keras")
    model = kag.models.load(path)
    optimizer = model.generator_optimizer
    assert int(optimizer.iterations.numpy()) == 1
    slots = [v for v in optimizer.variables if len(v.shape) > 0]
    variables = model.generator_variables
    assert len(slots) == 2 * len(variables)
    for i, variable in enumerate(variables):
        assert tuple(slots[2 * i].shape) == tuple(variable.shape)
        # one Adam step: every trained kernel has a second moment above 0
        if len(variable.shape) == 4:
            assert float(np.abs(slots[2 * i + 1].numpy()).max()) > 0, variable.path


def test_todays_files_record_their_format_and_name_convolutions_plainly(tmp_path):
    model = kag.models.build("cyclegan", image_size=32, ngf=4, ndf=4, n_blocks=1)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))["config"]
        with open(tmp_path / "w.h5", "wb") as f:
            f.write(archive.read("model.weights.h5"))
    assert config["format_version"] == FORMAT_VERSION
    assert config["package_version"] == kag.__version__
    names = []
    with h5py.File(tmp_path / "w.h5", "r") as f:
        f.visit(names.append)
    assert not [n for n in names if "winograd" in n or "few_filters" in n]
    assert any(n.endswith("layers/conv2d_1") for n in names)


def test_a_dropped_bias_moves_the_batch_norms_moving_mean(tmp_path):
    """Format 2 kept a bias before each batch norm; batch norm's moving mean, used at
    inference, had it in. Shift both by 1,000 in the file (the old model's function is
    unchanged): the upgraded model's moving mean is the one before the shift, and it
    translates as the stored translation."""
    source = os.path.join(FIXTURES, "format2", "aggan.keras")
    path = str(tmp_path / "aggan.keras")
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    weights = str(tmp_path / "w.h5")
    with open(weights, "wb") as f:
        f.write(members["model.weights.h5"])
    with h5py.File(weights, "r+") as f:
        f["generator_x2y/layers/conv2d/vars/1"][...] += 1000.0
        f["generator_x2y/layers/batch_normalization_1/vars/2"][...] += 1000.0
    with open(weights, "rb") as f:
        members["model.weights.h5"] = f.read()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    stored = np.load(os.path.join(FIXTURES, "format2", "aggan.npz"))
    model = kag.models.load(path)
    # the second batch norm of the generator: the one after conv2d (names are global)
    norm = [layer for layer in model.generator_x2y.layers
            if isinstance(layer, keras.layers.BatchNormalization)][1]
    np.testing.assert_allclose(norm.moving_mean.numpy(), 0.0, atol=1e-4)  # 1000 - 1000
    out = model.translate(stored["x"])
    np.testing.assert_allclose(out["image"], stored["image"], atol=2e-5)


def test_resume_continues_a_run_whose_backup_an_earlier_release_wrote(tmp_path):
    a, b = kag.data.builtin.demo(n=4, size=32, seed=0)
    out = str(tmp_path / "run")
    common = ["train", "--model", "cyclegan", "--image-size", "32", "--set", "ngf=4",
              "--set", "ndf=4", "--set", "n_blocks=1", "--set", "pool_size=0",
              "--batch-size", "2", "--verbose", "0", "--out", out]
    folders = []
    for side, images in (("A", a), ("B", b)):
        folder = tmp_path / side
        folder.mkdir()
        for i, image in enumerate(images):
            kag.training.callbacks.write_png(str(folder / f"{i}.png"), image)
        folders.append(str(folder))
    data = ["--data-a", folders[0], "--data-b", folders[1]]
    cli.main(common + data + ["--epochs", "1"])
    # the backup as the format-2 release wrote it (same model, same hyper-parameters)
    latest = json.load(open(os.path.join(out, "backup", "latest.json")))
    state = os.path.join(out, "backup", latest["state"])
    old = os.path.join(FIXTURES, "format2", "cyclegan.weights.h5")
    shutil.copy(old, os.path.join(state, "model.weights.h5"))
    stored = np.load(os.path.join(FIXTURES, "format2", "cyclegan.npz"))
    with pytest.warns(FormatUpgradeWarning, match="earlier layout"):
        result = cli.main(common + data + ["--epochs", "2", "--resume"])
    assert json.load(open(os.path.join(out, "backup", "latest.json")))["epoch"] == 2
    assert len(result["history"]["g_a2b"]) == 1  # one more epoch, not two
    # it trained on from the old weights: one epoch from them, not from scratch
    trained = result["model"].translate(stored["x"])["image"]
    assert np.abs(trained - stored["image"]).mean() < 0.2


EXPORTS = sorted(glob.glob(os.path.join(FIXTURES, "format*", "exports.npz")))
RUNS = sorted(glob.glob(os.path.join(FIXTURES, "format*", "run")))


def test_the_last_release_and_today_have_exports_and_a_run_folder():
    assert {os.path.basename(os.path.dirname(p)) for p in EXPORTS} == {
        f"format{FORMAT_VERSION - 1}", f"format{FORMAT_VERSION}"}
    assert {os.path.basename(os.path.dirname(p)) for p in RUNS} == {
        f"format{FORMAT_VERSION - 1}", f"format{FORMAT_VERSION}"}


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_exports_of_a_release_still_serve(path):
    """A SavedModel and a TFLite file are self-contained graphs: the package's upgrades
    leave them serving what they served."""
    import tensorflow as tf

    from keras_attngan.export import TFLiteTranslator

    folder, stored = os.path.dirname(path), np.load(path)
    served = tf.saved_model.load(os.path.join(folder, "uag_saved_model")).signatures[
        "serving_default"](tf.constant(stored["x"]))
    assert np.abs(served["image"].numpy().astype(int)
                  - stored["served_image"].astype(int)).max() <= 1
    np.testing.assert_allclose(served["mask"].numpy(), stored["served_mask"], atol=1e-5)
    lite = TFLiteTranslator(os.path.join(folder, "uag.tflite"))(
        stored["x"].astype("float32") / 127.5 - 1)
    np.testing.assert_allclose(lite["image"], stored["tflite_image"], atol=1e-5)
    np.testing.assert_allclose(lite["mask"], stored["tflite_mask"], atol=1e-5)


@pytest.mark.parametrize("folder", RUNS, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_a_run_folder_a_release_left_resumes(folder, tmp_path):
    """`attngan train --resume` on the folder a release's one-epoch run left (its
    backup, pools, run.json, logs): epoch 2 is trained from where epoch 1 ended."""
    run = str(tmp_path / "run")
    shutil.copytree(folder, run)
    a, b = kag.data.builtin.demo(n=8, size=32, seed=0)  # the data it was trained on
    folders = []
    for side, images in (("A", a), ("B", b)):
        for i, image in enumerate(images):
            kag.training.callbacks.write_png(str(tmp_path / side / f"{i}.png"), image)
        folders.append(str(tmp_path / side))
    config = json.load(open(os.path.join(run, "run.json")))
    config["data_a"], config["data_b"] = folders  # where this test put that data
    json.dump(config, open(os.path.join(run, "run.json"), "w"))
    before = kag.models.load(os.path.join(run, "model.keras"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatUpgradeWarning)
        result = cli.main(["train", "--model", "cyclegan", "--data-a", folders[0],
                           "--data-b", folders[1], "--image-size", "32", "--load-size",
                           "36", "--batch-size", "4", "--epochs", "2", "--set", "ngf=4",
                           "--set", "ndf=4", "--set", "n_blocks=1", "--set",
                           "pool_size=2", "--seed", "0", "--verbose", "0", "--out", run,
                           "--resume"])
    assert len(result["history"]["g_a2b"]) == 1  # epoch 2 only
    assert json.load(open(os.path.join(run, "backup", "latest.json")))["epoch"] == 2
    # 2 steps an epoch: the optimiser went on from the backup's step count
    assert int(result["model"].generator_optimizer.iterations.numpy()) == 4
    moved = [np.abs(w1 - w0).max() for w1, w0 in zip(
        result["model"].generator_a2b.get_weights(), before.generator_a2b.get_weights())]
    assert 0 < max(moved) < 0.005  # two more Adam steps at 2e-4, not a new model
