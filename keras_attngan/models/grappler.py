"""Grappler, TensorFlow's graph optimiser, left out of float32 training steps on the CPU.

Grappler rewrites a traced function before its first call. On a 2-core AMD EPYC its
passes took about 5.8 s of CycleGAN's first 128 px training step (memory optimiser 1.3
s, remapper, constant folding and layout 0.4 s each; 18,000 nodes), and the steps after
it were no faster with them (4.2-4.5 against 3.9-4.5 s at 128 px, 15.6-15.8 against
15.7-16.4 s at 256 px, two processes alternating, same losses to 1e-3, same peak RSS):
``docs/performance.md`` has the commands. On a GPU its layout and fusion passes serve
cuDNN, and in 16 bits oneDNN's fused kernels (its remapper) were not measured: there it
stays on.

The choice is made per call, not for the process: ``grappler_off_on_cpu`` sets the
calling thread's function-call options (the ConfigProto a function is optimised with at
its first call) only around the model's own train function, so a user's other
functions keep TensorFlow's defaults.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import tensorflow as tf


def _skips_grappler(precision: str) -> bool:
    return precision == "float32" and not tf.config.list_logical_devices("GPU")


@contextlib.contextmanager
def grappler_off_on_cpu(precision: str = "float32") -> Iterator[None]:
    """Within: functions first called in this thread skip Grappler's meta-optimiser where
    they will run on a CPU in ``precision`` float32 (see the module docstring)."""
    if not _skips_grappler(precision):
        yield
        return
    try:  # TensorFlow's own context: no public per-call equivalent exists
        from tensorflow.core.protobuf import config_pb2
        from tensorflow.python.eager import context

        ctx = context.context()
        previous = ctx.function_call_options
        config = config_pb2.ConfigProto.FromString(previous.config_proto_serialized)
    except (ImportError, AttributeError):  # a TensorFlow without them: its defaults
        yield
        return
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    ctx.function_call_options = context.FunctionCallOptions(
        executor_type=previous.executor_type, config_proto=config)
    try:
        yield
    finally:
        ctx.function_call_options = previous
