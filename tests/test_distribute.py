import numpy as np
import keras
import pytest
import tensorflow as tf

import keras_attngan as kag
from conftest import TINY


def one_step(strategy, initial_weights, data, precision=None):
    with strategy.scope():
        model = kag.models.build("cyclegan", **TINY, pool_size=0)
        model.set_weights(initial_weights)
        # SGD: Adam's first step is about lr * sign(gradient) and would hide a gradient
        # scaled by the replica count.
        model.compile(optimizers={"generator": keras.optimizers.SGD(0.5),
                                  "discriminator": keras.optimizers.SGD(0.5)},
                      precision=precision)
    history = model.fit(tf.data.Dataset.from_tensors(data), epochs=1, verbose=0)
    return [np.array(w) for w in model.weights], history.history


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_two_replicas_take_the_same_step_as_one(demo_arrays, precision):
    a, b = demo_arrays
    data = (a[:2].astype("float32") / 127.5 - 1, b[:2].astype("float32") / 127.5 - 1)
    initial = kag.models.build("cyclegan", **TINY, pool_size=0).get_weights()
    one, logs_one = one_step(tf.distribute.OneDeviceStrategy("CPU:0"), initial, data,
                             precision)
    mirrored = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    assert mirrored.num_replicas_in_sync == 2
    two, logs_two = one_step(mirrored, initial, data, precision)
    moved = max(np.abs(w1 - w0).max() for w1, w0 in zip(one, initial))
    assert moved > 1e-3  # the step did something
    if precision == "float32":
        diff = max(np.abs(w1 - w2).max() for w1, w2 in zip(one, two))
        assert diff < 1e-5, diff
    else:  # bfloat16 sums a batch's gradients in 8 significant bits: compare the steps
        step_one = np.concatenate([(w1 - w0).ravel() for w1, w0 in zip(one, initial)])
        step_two = np.concatenate([(w2 - w0).ravel() for w2, w0 in zip(two, initial)])
        relative = np.linalg.norm(step_two - step_one) / np.linalg.norm(step_one)
        assert relative < 0.1, relative  # a step scaled by the replica count is 0.5 off
    # logged losses are global means too; in bfloat16 the two reduction orders round
    # apart (5.6e-4 relative on a 2-core Intel Xeon without BF16), a mean scaled by the
    # replica count would be 0.5 off
    rtol = 1e-4 if precision == "float32" else 1e-2
    for name in logs_one:
        assert np.isclose(logs_one[name][0], logs_two[name][0], rtol=rtol), name


def test_fit_under_mirrored_strategy_with_pool_and_callbacks(demo_arrays, tmp_path):
    a, b = demo_arrays
    strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    with strategy.scope():
        model = kag.models.build("cyclegan", **TINY)
        model.compile()
    ds = kag.data.unpaired(a, b, image_size=32, load_size=36, batch_size=4, seed=0)
    callbacks = kag.callbacks.default(model, str(tmp_path), samples=(a[:2], b[:2]))
    history = model.fit(ds, epochs=2, callbacks=callbacks, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert int(model.generator_optimizer.iterations.numpy()) == 2 * 16 // 4
    assert (tmp_path / "model.keras").exists()


def test_strategy_picks_by_environment(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert kag.training.strategy().num_replicas_in_sync == 1
    assert kag.training.is_chief()
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1", "localhost:2"]},'
                                    ' "task": {"type": "worker", "index": 1}}')
    assert kag.training.cluster_workers() == 2
    assert not kag.training.is_chief()


def test_winograd_convolutions_take_plain_conv2d_step_on_two_replicas(demo_arrays,
                                                                     request):
    """The residual blocks' Winograd convolutions (used at paper size, forced on here for
    the tiny model) give the step of plain Conv2D, and the same step under
    MirroredStrategy as on one device.

    Winograd sums in another order than the CPU's direct convolution: with these weights
    a pre-activation near 0 can change sign, so on some CPUs (AMD EPYC) one SGD(0.5) step
    differs from plain Conv2D's by 0.15 % of how far the weights moved; a wrong gradient
    (e.g. not scaled for the replicas) is off by tens of percent."""
    a, b = demo_arrays
    data = (a[:2].astype("float32") / 127.5 - 1, b[:2].astype("float32") / 127.5 - 1)
    initial = kag.models.build("cyclegan", **TINY, pool_size=0).get_weights()
    plain, logs_plain = one_step(tf.distribute.OneDeviceStrategy("CPU:0"), initial, data)

    traced = request.getfixturevalue("forced_winograd")  # only from here on
    one, _ = one_step(tf.distribute.OneDeviceStrategy("CPU:0"), initial, data)
    mirrored = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    winograd, logs_winograd = one_step(mirrored, initial, data)
    assert traced  # the step did run the Winograd convolutions
    replicas = max(np.abs(w1 - w2).max() for w1, w2 in zip(one, winograd))
    assert replicas < 1e-5, replicas
    moved = max(np.abs(w1 - w0).max() for w1, w0 in zip(plain, initial))
    diff = max(np.abs(w1 - w2).max() for w1, w2 in zip(plain, winograd))
    assert diff < 0.01 * moved, (diff, moved)
    for name in logs_plain:
        assert np.isclose(logs_plain[name][0], logs_winograd[name][0], rtol=1e-4), name
