import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPUs, so MirroredStrategy tests have two replicas on one CPU. This must
# happen before TensorFlow initialises its devices, hence here at import time.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402

import keras_attngan as kag  # noqa: E402

TINY = dict(image_size=32, ngf=8, ndf=8, n_blocks=2)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def demo_arrays():
    return kag.data.builtin.demo(n=16, size=32, seed=0)


@pytest.fixture
def tiny_cyclegan():
    def make(**overrides):
        model = kag.models.build("cyclegan", **{**TINY, **overrides})
        model.compile()
        return model

    return make


def write_images(folder, images, ext="png"):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = os.path.join(folder, f"{i:03d}.{ext}")
        if ext == "png":
            data = tf.io.encode_png(image)
        elif ext in ("jpg", "jpeg"):
            data = tf.io.encode_jpeg(image)
        else:
            raise ValueError(ext)
        tf.io.write_file(path, data)
        paths.append(path)
    return paths


@pytest.fixture
def image_folders(tmp_path, demo_arrays):
    a, b = demo_arrays
    write_images(str(tmp_path / "a"), a[:6], "png")
    write_images(str(tmp_path / "b"), b[:4], "jpg")
    return str(tmp_path / "a"), str(tmp_path / "b")


def numpy_weights(model):
    return [np.array(v) for v in model.weights]
