"""Training steps on a CPU skip Grappler (``models.grappler``): per call, not for the process,
with the same numbers."""

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context

import keras_attngan as kag
from conftest import TINY
from keras_attngan.models import base


def _grappler_off() -> bool:
    """Whether functions first called now in this thread skip Grappler."""
    config = config_pb2.ConfigProto.FromString(
        context.context().function_call_options.config_proto_serialized)
    return config.graph_options.rewrite_options.disable_meta_optimizer


class _Spy(kag.models.CycleGAN):
    """Records, each time its step is traced (inside the train function's first call),
    whether Grappler is off there."""

    def train_step(self, data):
        self.seen.append(_grappler_off())
        return super().train_step(data)


def _fit_spy(demo_arrays, **compile_options):
    model = _Spy(**TINY)
    model.seen = []
    model.compile(**compile_options)
    a, b = demo_arrays
    model.fit(kag.data.unpaired(a[:2], b[:2], image_size=32, batch_size=1), epochs=1,
              verbose=0)
    return model.seen


def test_the_train_function_runs_without_grappler_on_a_cpu_only(demo_arrays, monkeypatch):
    assert not _grappler_off()
    assert _fit_spy(demo_arrays) == [True]
    assert not _grappler_off()  # the thread's options are restored: other functions keep it
    # where a GPU would run the step, and in 16 bits, Grappler stays
    assert _fit_spy(demo_arrays, precision="bfloat16") == [False]
    real = tf.config.list_logical_devices
    monkeypatch.setattr(tf.config, "list_logical_devices",
                        lambda kind=None: ["GPU:0"] if kind == "GPU" else real(kind))
    assert _fit_spy(demo_arrays) == [False]


@pytest.mark.parametrize("name", ["cyclegan", "uag"])
def test_a_step_without_grappler_equals_the_step_with_it(name, demo_arrays, monkeypatch):
    a, b = demo_arrays
    changes = {}
    for grappler in (False, True):
        keras.utils.set_random_seed(0)
        model = kag.models.build(name, **TINY)
        # SGD: each weight moves by its gradient (Adam's first step is +-rate wherever
        # the gradient is not tiny, and flips with rounding where it is)
        model.compile(optimizers={role: keras.optimizers.SGD(1.0)
                                  for role in model.optimizer_roles})
        before = [np.array(w) for w in model.trainable_weights]
        if grappler:  # as before models.grappler existed
            monkeypatch.setattr(base, "grappler_off_on_cpu",
                                lambda precision: contextlib.nullcontext())
        model.fit(kag.data.unpaired(a[:2], b[:2], image_size=32, batch_size=1, seed=0),
                  epochs=1, verbose=0, shuffle=False)
        changes[grappler] = [np.array(w) - w0 for w, w0 in zip(model.trainable_weights,
                                                                before)]
    largest = max(np.abs(change).max() for change in changes[True])
    moved = 0
    for without, with_ in zip(changes[False], changes[True]):
        scale = np.abs(with_).max()
        moved += scale > 1e-4 * largest
        # each weight to 0.1 % of its own change; the ones the norms make (near) zero,
        # whose gradient is rounding, to 0.01 % of the largest
        np.testing.assert_allclose(without, with_, rtol=0,
                                   atol=1e-3 * scale + 1e-4 * largest)
    assert moved >= 0.75 * len(changes[True])  # most weights took a step (biases before
    # a norm have no gradient)
