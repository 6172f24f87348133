"""Benchmarks behind ``attngan bench``: training-step speed and FLOPs, pipeline speed.

Figures are medians over timed steps after warm-up; run them on an idle machine.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_attngan.data import builtin, unpaired
from keras_attngan.layers import convolutions_for
from keras_attngan.models import build


class _StepTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self._start = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # Reading a loss waits for the step to finish.
        float(keras.ops.convert_to_numpy(next(iter(logs.values()))))
        self.times.append(time.perf_counter() - self._start)


def training_batch(model, images):
    """A training batch of ``images`` in the structure the model trains on: (a, b),
    (a, b, source labels) for a model that trains with them, (images, domain labels)
    for multi-domain models (labels 0: the bench times steps, it does not learn)."""
    labels = tf.zeros((images.shape[0],), tf.int64)
    if getattr(model, "needs_domain_labels", False):
        return images, labels
    if type(model).trains_with_source_labels(model.get_config()):
        return images, images, labels
    return images, images


def train_step_flops(model, batch_size: int) -> float:
    """Floating-point operations of one training step (forward, backward, both updates),
    counted by TF's profiler on the step graph traced with TF's own convolutions: the
    direct-convolution work, whichever algorithm runs (the profiler does not count
    inside the per-device branches of ``layers.Conv2D``)."""
    shape = (batch_size, model.image_size, model.image_size, model.channels)
    spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), training_batch(
        model, tf.zeros(shape, tf.float32)))
    with convolutions_for(model, "direct"):
        graph = tf.function(model.train_step).get_concrete_function(spec).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)


def matmul_gflops(n: int = 4096, runs: int = 5) -> float:
    """The machine's float32 matmul speed in TF (GFLOP/s, median of ``runs`` n x n
    products): printed beside every timing, so figures from two machines can be
    compared (absolute step times differ by 2x between machines of one kind)."""
    a = tf.random.stateless_normal((n, n), seed=(0, 1))
    b = tf.random.stateless_normal((n, n), seed=(0, 2))
    product = tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)))
    seconds = _median_seconds(lambda: float(product()), runs)
    return 2 * n ** 3 / seconds / 1e9


def bench_train(model: str = "cyclegan", image_size: int = 128, batch_size: int = 1,
                steps: int = 10, warmup: int = 2, jit_compile: bool = False,
                precision: str | None = None, **hparams) -> dict[str, Any]:
    """Median seconds per training step on random images, images/s, FLOPs, FLOP/s.
    ``precision``: as ``compile``'s (None: float32)."""
    net = build(model, image_size=image_size, **hparams)
    net.compile(jit_compile=jit_compile, precision=precision)
    flops = train_step_flops(net, batch_size)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype("float32")
    data = tf.data.Dataset.from_tensors(training_batch(net, tf.constant(images))).repeat(
        warmup + steps)
    timer = _StepTimer()
    net.fit(data, epochs=1, callbacks=[timer], verbose=0, shuffle=False)
    times = timer.times[warmup:]
    median = statistics.median(times)
    peak_rss_mb = _rss_mb()[1]
    return {
        "model": model, "image_size": image_size, "batch_size": batch_size,
        "jit_compile": jit_compile, "precision": net.resolved_precision,
        "steps": len(times),
        "seconds_per_step": median, "images_per_second": batch_size / median,
        "gflop_per_step": flops / 1e9, "gflop_per_second": flops / 1e9 / median,
        "matmul_gflop_per_second": matmul_gflops(),
        "first_step_seconds": timer.times[0],
        # Measured before the matmul probe: the process's peak over build and steps.
        "peak_rss_mb": peak_rss_mb,
    }


def bench_data(image_size: int = 256, load_size: int = 286, count: int = 64,
               pairs: int = 256, batch_size: int = 1, folder: str | None = None
               ) -> dict[str, Any]:
    """Images/s the unpaired pipeline delivers from a folder of JPEGs (decode, resize,
    crop, flip). Without ``folder``, writes ``count`` demo JPEGs at ``load_size`` + 14 px."""
    with tempfile.TemporaryDirectory() as tmp:
        if folder is None:
            folder = tmp
            source = builtin.make_domain("a", count, size=64, seed=1)
            big = tf.image.resize(source, (load_size + 14, load_size + 14), "bicubic")
            big = tf.cast(tf.clip_by_value(big, 0, 255), tf.uint8)
            for i, image in enumerate(big):
                tf.io.write_file(os.path.join(tmp, f"{i:04d}.jpg"),
                                 tf.io.encode_jpeg(image, quality=90))
        data = unpaired(folder, folder, image_size=image_size, load_size=load_size,
                        batch_size=batch_size, seed=0).repeat()
        iterator = iter(data)
        for _ in range(8):  # warm-up: tracing, thread pools, prefetch
            next(iterator)
        start = time.perf_counter()
        for _ in range(pairs // batch_size):
            a, b = next(iterator)
        elapsed = time.perf_counter() - start
    images = 2 * (pairs // batch_size) * batch_size
    return {"image_size": image_size, "images": images, "seconds": elapsed,
            "images_per_second": images / elapsed}


def _median_seconds(fn, runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_export(model: str = "cyclegan", image_size: int = 256, runs: int = 20,
                 **hparams) -> dict[str, Any]:
    """Latency (median of ``runs``, batch 1), file size and PSNR to the float32 Keras
    output of the Keras model, the SavedModel and each TFLite variant (XNNPACK), on the
    same random image; the peak RSS of building the model and Keras inference."""
    from keras_attngan.export import TFLiteTranslator, saved_model
    from keras_attngan.export.tflite import convert, psnr

    # Batch-1 inference on a few cores: TF's default inter-op pool (a thread per core)
    # competes with the intra-op pool, and Keras predict then runs, at random per model
    # and process, 0.68 s or 1.3 s (256 px CycleGAN, 2 cores). One inter-op thread gives
    # the fast figure every time. Training steps are faster with the default pool, so
    # this is set here only, and only if TF's runtime has not started yet.
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    net = build(model, image_size=image_size, **hparams)
    image = np.random.default_rng(0).uniform(-1, 1, (1, image_size, image_size, 3))
    image = image.astype("float32")
    rows = [{"format": "keras predict",
             "seconds": _median_seconds(lambda: net.predict(image, verbose=0), runs)}]
    predicted = net.predict(image, verbose=0)
    keras_output = np.asarray(predicted["image"] if isinstance(predicted, dict) else predicted,
                              "float32")
    rows[0]["psnr_db"] = float("inf")
    peak_rss_mb_keras = _rss_mb()[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = saved_model(net, os.path.join(tmp, "saved", "1"))
        serving = tf.saved_model.load(path).signatures["serving_default"]
        pixels = tf.constant(np.round((image + 1) * 127.5).astype("uint8"))
        size = sum(os.path.getsize(os.path.join(root, name))
                   for root, _, names in os.walk(path) for name in names)
        domain = ({"target_domain": tf.constant([0])} if getattr(net, "n_domains", 0)
                  else {})  # multi-domain models take the target domain
        served = serving(images=pixels, **domain)["image"].numpy() / 127.5 - 1.0
        rows.append({"format": "saved_model", "bytes": size,
                     "seconds": _median_seconds(lambda: serving(images=pixels, **domain),
                                                runs),
                     "psnr_db": psnr(served, keras_output)})  # uint8 in and out
        for quantization in (None, "float16", "dynamic", "int8"):
            flatbuffer = convert(net, quantization, image_size)
            translator = TFLiteTranslator(flatbuffer, num_threads=os.cpu_count())
            code = {"target_domain": 0} if translator.takes_domain else {}
            rows.append({"format": f"tflite {quantization or 'float32'}",
                         "bytes": len(flatbuffer),
                         "seconds": _median_seconds(lambda: translator(image, **code), runs),
                         "psnr_db": psnr(translator(image, **code)["image"], keras_output)})
    keras_seconds = rows[0]["seconds"]
    for row in rows:
        row["speedup_vs_keras"] = keras_seconds / row["seconds"]
    return {"model": model, "image_size": image_size, "runs": runs, "rows": rows,
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "peak_rss_mb_keras_inference": peak_rss_mb_keras,
            "matmul_gflop_per_second": matmul_gflops()}


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB (Linux)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    try:
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        current = float("nan")
    return current, peak


def bench_evaluate(images: int = 2000, image_size: int = 299, batch_size: int = 32,
                   weights: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Images/s of feature extraction (InceptionV3 pool3 + logits; ``weights`` None:
    random init, which runs at the same speed as ImageNet weights) on ``images`` random
    uint8 images made on the fly at ``image_size`` px, and the process's memory: peak
    RSS after a first pass over a tenth of the images and after the full pass. Flat
    memory shows as about the same peak for both."""
    from keras_attngan.metrics.features import compute_features, inception_v3

    def source(count: int) -> tf.data.Dataset:
        def make(i):
            seed = tf.stack([i, tf.constant(0, tf.int64)])
            pixels = tf.random.stateless_uniform((image_size, image_size, 3), seed, 0, 256,
                                                 dtype=tf.int32)
            return tf.cast(pixels, tf.uint8)

        return tf.data.Dataset.range(count).map(make, num_parallel_calls=tf.data.AUTOTUNE)

    rss_start = _rss_mb()
    extractor = inception_v3(weights)
    # warm-up: tracing and thread pools, one batch
    compute_features(source(batch_size), extractor, batch_size, progress=False)
    first = max(batch_size, images // 10)
    compute_features(source(first), extractor, batch_size, progress=False)
    rss_first = _rss_mb()
    cpu_start, start = time.process_time(), time.perf_counter()
    features = compute_features(source(images), extractor, batch_size, progress=progress,
                                outputs=("features", "logits"))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    rss_end = _rss_mb()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "network": extractor.description, "images": images, "image_size": image_size,
        "batch_size": batch_size, "seconds": elapsed, "images_per_second": images / elapsed,
        # CPU time of this process: less sensitive than wall time to other load
        "cpu_seconds": cpu, "images_per_cpu_second": images / cpu,
        "load_average_1min_at_end": load,
        "features_shape": list(features["features"].shape),
        "rss_mb_at_start": rss_start[0],
        "peak_rss_mb_after_first_pass": rss_first[1], "first_pass_images": first,
        "peak_rss_mb": rss_end[1], "rss_mb_at_end": rss_end[0],
        "images_as_float32_mb": images * image_size * image_size * 3 * 4 / 2**20,
        "cpu_count": os.cpu_count(),
    }
