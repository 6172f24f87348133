import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_attngan.cli.app import _import_tensorflow  # noqa: E402

# TensorFlow without its C++ log lines (as the CLI imports it): the test processes'
# start-up lines would otherwise land after the results
_import_tensorflow(show_log=False)
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


@pytest.fixture
def forced_winograd(monkeypatch):
    """WinogradConv2D on at any size (the tiny test models sit under its thresholds); the
    list of input shapes winograd_forward was traced with."""
    from keras_attngan import layers

    traced = []
    winograd_forward = layers.winograd_forward
    monkeypatch.setattr(layers, "winograd_forward", lambda x, k, tile=2: traced.append(
        x.shape) or winograd_forward(x, k, tile))
    monkeypatch.setattr(layers, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(layers, "WINOGRAD_MIN_WORK", 1)
    return traced


@pytest.fixture
def cpu_only():
    """Eager ops on the CPU, so tests of the CPU's algorithms run them on a machine with a
    GPU too (the choice is made where the op runs)."""
    import tensorflow as tf

    with tf.device("/CPU:0"):
        yield


@pytest.fixture(scope="module")
def tiny_data():
    """Two batches of 4 demo pairs at 32 px: the schedule tests' data."""
    a, b = kag.data.builtin.demo(n=8, size=32, seed=0)
    return kag.data.unpaired(a, b, image_size=32, load_size=36, batch_size=4, seed=0)


def build_compiled(name, **hparams):
    """``kag.models.build(name, **hparams)``, compiled with its paper settings."""
    model = kag.models.build(name, **hparams)
    model.compile()
    return model


def snapshot(variables):
    """Copies of ``variables`` as NumPy arrays."""
    return [np.array(v) for v in variables]


@pytest.fixture(scope="session")
def demo_arrays():
    return kag.data.builtin.demo(n=16, size=32, seed=0)


def scaled(images):
    """uint8 images -> float32 in [-1, 1]."""
    return (images / 127.5 - 1).astype("float32")


def pair(demo_arrays, n=2, size=None):
    """The first ``n`` demo images of each domain (cropped to ``size``), in [-1, 1]."""
    a, b = demo_arrays
    return scaled(a[:n, :size, :size]), scaled(b[:n, :size, :size])


def model_factory(name, tiny):
    """A fixture giving make(**overrides): a compiled ``name`` model, ``tiny`` sized."""
    @pytest.fixture
    def factory():
        def make(**overrides):
            model = kag.models.build(name, **{**tiny, **overrides})
            model.compile()
            return model

        return make

    return factory


tiny_cyclegan = model_factory("cyclegan", TINY)


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
def small_sets(tmp_path):
    """Two folders (tmp_path/A, tmp_path/B) of 4 demo PNGs each, 32 px."""
    a, b = kag.data.builtin.demo(n=4, size=32, seed=0)
    folders = []
    for name, images in (("A", a), ("B", b)):
        folders.append(str(tmp_path / name))
        write_images(folders[-1], images)
    return folders


@pytest.fixture
def image_folders(tmp_path, demo_arrays):
    a, b = demo_arrays
    write_images(str(tmp_path / "a"), a[:6], "png")
    write_images(str(tmp_path / "b"), b[:4], "jpg")
    return str(tmp_path / "a"), str(tmp_path / "b")


def numpy_weights(model):
    return [np.array(v) for v in model.weights]


@pytest.fixture(scope="session")
def demo_task():
    """The small translation task the models learn in tests: 64 + 64 demo images at
    32 px, and 16 held-out A images with their object masks."""
    a, b = kag.data.builtin.demo(n=64, size=32, seed=0)
    test_a, masks = kag.data.builtin.make_domain("a", 16, 32, seed=5, return_masks=True)
    return a, b, test_a, masks


def train_on_demo(demo_task, name, epochs=4, learning_rate=1e-3, callbacks=None, seed=0,
                  **hparams):
    """``name`` trained on ``demo_task`` with a fixed budget and seed: (model, history).
    The rate stays constant (``decay_start=epochs``): a budget this short is all
    "first half"; every model compared gets the same."""
    a, b, _, _ = demo_task
    keras.utils.set_random_seed(seed)
    ds = kag.data.unpaired(a, b, image_size=32, load_size=36, batch_size=4, seed=seed)
    hparams.setdefault("decay_start", epochs)
    model = kag.models.build(name, image_size=32, ngf=16, ndf=16, n_blocks=2, **hparams)
    model.compile(learning_rate=learning_rate)
    history = model.fit(ds, epochs=epochs, verbose=0, callbacks=callbacks).history
    return model, history


def background_change(model, demo_task):
    """Mean absolute change (0..255) outside the objects of the held-out A images."""
    _, _, test_a, masks = demo_task
    out = (model.translate(test_a)["image"] + 1) * 127.5
    return float(np.abs(out - test_a)[masks < 0.01].mean())


def disc_colour_distances(model, demo_task):
    """How far (RGB, 0..255) the held-out A discs are from B's disc colour before and
    after translation: a model that learned the task moves them toward it."""
    _, _, test_a, masks = demo_task
    out = (model.translate(test_a)["image"] + 1) * 127.5
    disc = masks > 0.9
    target = np.array(kag.data.builtin.OBJECT_COLORS["b"], np.float32)
    return (float(np.linalg.norm(test_a[disc].mean(axis=0) - target)),
            float(np.linalg.norm(out[disc].mean(axis=0) - target)))


@pytest.fixture(scope="session")
def cyclegan_baseline(demo_task):
    """CycleGAN on the demo task (paper losses, lr 1e-3, 4 epochs): the baseline the
    attention models are compared with, trained once per test session."""
    return train_on_demo(demo_task, "cyclegan")
