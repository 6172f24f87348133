"""Where a training step's op time goes, by op type, from TF's profiler.

Builds ``MODEL`` at ``SIZE`` px (the library's defaults), runs three warm-up steps of
``tf.function(model.train_step)`` on random images, profiles three more and prints the
op time per step by op type (summed over TF's inter-op threads, so it can exceed the
step's wall time). Usage::

    python tools/profile_step.py [SIZE] [MODEL]      # defaults: 128 cyclegan
"""

from __future__ import annotations

import collections
import glob
import sys
import tempfile
import time

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

import keras_attngan as kag
from keras_attngan.benchmarks.speed import training_batch

STEPS = 3


def op_seconds(log_dir: str) -> collections.Counter:
    """Seconds per op type over the profiled steps, from the trace's executor threads."""
    path = sorted(glob.glob(f"{log_dir}/**/*.xplane.pb", recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    seconds = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue  # ops run on the executor's threads; Eigen's lines are inside them
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                op_type = name.rsplit(":", 1)[-1]
                # "name:Type" events are ops; function calls would count their ops twice
                if "::" in name or ":" not in name or "PartitionedCall" in op_type:
                    continue
                seconds[op_type] += event.duration_ps / 1e12
    return seconds


def main(size: int = 128, model_name: str = "cyclegan") -> None:
    model = kag.models.build(model_name, image_size=size)
    model.compile()
    # the batch structure the model trains on, as attngan bench train builds it
    batch = training_batch(model, tf.random.uniform((1, size, size, model.channels), -1, 1))
    step = tf.function(model.train_step)

    def run(steps: int) -> None:
        for _ in range(steps):
            float(next(iter(step(batch).values())))  # reading a loss waits for the step

    run(3)
    start = time.perf_counter()
    run(STEPS)
    wall = (time.perf_counter() - start) / STEPS
    log_dir = tempfile.mkdtemp()
    tf.profiler.experimental.start(log_dir)
    run(STEPS)
    tf.profiler.experimental.stop()
    seconds = op_seconds(log_dir)
    total = sum(seconds.values()) / STEPS
    print(f"{model_name} {size} px: step {wall:.2f} s, op time {total:.2f} s per step")
    for op_type, value in seconds.most_common(20):
        print(f"{op_type:<36} {value / STEPS:7.3f} s  {100 * value / STEPS / total:5.1f} %")


if __name__ == "__main__":
    main(*(int(a) if a.isdigit() else a for a in sys.argv[1:]))
