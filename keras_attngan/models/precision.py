"""Mixed precision, the ``precision`` option of every model: ``compile(precision=...)``,
``kag.models.build(name, precision=...)``, ``attngan train --precision``.

- ``float32``: everything in float32 (the default until the quality benchmark says
  bfloat16 translates as well).
- ``bfloat16`` / ``float16``: Keras' ``mixed_bfloat16`` / ``mixed_float16`` policy on
  every layer of the model's networks: convolutions compute in 16 bits, weights and
  optimiser state stay float32. float16 needs a loss scale (its gradients underflow);
  ``compile`` wraps each optimiser in a ``LossScaleOptimizer`` for it. bfloat16 has
  float32's exponent range and needs none.
- ``auto``: bfloat16 where the hardware runs it fast (an NVIDIA GPU of compute capability
  8.0 or later; a CPU with AMX or AVX512-BF16), float32 elsewhere: on a CPU without
  them bfloat16 is emulated and many times slower than float32.

What stays float32: each network's outputs (images, masks, scores and features leave a
network in float32, so the models' compositions such as ``mask * raw + (1 - mask) * x``
and every loss are float32), the normalisation layers' statistics (they compute in
float32 and cast back), the weights and the optimiser state. The policy is set on the
layers after they are built (Keras layers take a new ``dtype_policy``; their variables do
not change), so it follows the model, never a process-wide setting. Exports run in
float32 unless asked (``kag.export``)."""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _gpu_capabilities() -> list[tuple[int, int]]:
    import tensorflow as tf

    return [tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability")
                  or (0, 0)) for gpu in tf.config.list_physical_devices("GPU")]


def fast_bfloat16() -> tuple[bool, str]:
    """Whether this machine runs bfloat16 fast, and why (said when training starts)."""
    gpus = _gpu_capabilities()
    if gpus:
        major, minor = gpus[0]
        if (major, minor) >= (8, 0):
            return True, f"GPU of compute capability {major}.{minor}"
        return False, (f"GPU of compute capability {major}.{minor}, without bfloat16 "
                       "tensor cores")
    flags = _cpu_flags()
    for flag, name in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16")):
        if flag in flags:
            return True, f"CPU with {name}"
    return False, "CPU without AMX or AVX512-BF16 (bfloat16 would be emulated, slowly)"


def resolve(precision: str) -> tuple[str, str]:
    """The concrete precision for ``precision`` ("auto" decided here) and a line saying
    why."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of "
                         f"{', '.join(map(repr, PRECISIONS))}; pass one of them as precision "
                         "(--precision on the command line).")
    if precision != "auto":
        return precision, "as asked"
    fast, why = fast_bfloat16()
    return ("bfloat16" if fast else "float32"), f"auto: {why}"


def networks(model: keras.Model) -> list[keras.Model]:
    """The model's own networks (its direct sub-models)."""
    return [layer for layer in model._flatten_layers(include_self=False, recursive=False)
            if isinstance(layer, keras.Model)]


def _output_layers(network: keras.Model) -> list:
    outputs = getattr(network, "outputs", None) or []
    return [tensor._keras_history[0] for tensor in keras.tree.flatten(outputs)
            if hasattr(tensor, "_keras_history")]


def apply(model: keras.Model, precision: str) -> None:
    """Sets every layer of ``model``'s networks to ``precision``'s policy (a concrete
    one: not "auto"), their output layers to float32."""
    mixed, plain = keras.DTypePolicy(_POLICIES[precision]), keras.DTypePolicy("float32")
    for network in networks(model):
        for layer in network._flatten_layers(include_self=True, recursive=True):
            layer.dtype_policy = mixed
        for layer in _output_layers(network):
            layer.dtype_policy = plain
    # read by the model's cached graphs (translate), traced per precision
    object.__setattr__(model, "computing_precision", precision)


def set_for(model: keras.Model, precision: str | None = None) -> str:
    """Puts ``model`` in ``precision`` and returns the concrete one ("auto" decided).
    None: what ``build`` was given, else the global Keras policy's (a model built under
    ``keras.mixed_precision.set_global_policy`` keeps it)."""
    if precision is None:
        precision = model.precision or {
            "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}.get(
            keras.mixed_precision.global_policy().name, "float32")
    concrete, why = resolve(precision)
    apply(model, concrete)
    model.precision, model.resolved_precision = precision, concrete
    model._precision_note = (None if precision == concrete == "float32" else
                             f"precision {concrete} ({why}; --precision, "
                             "compile(precision=...))")
    return concrete


@contextlib.contextmanager
def computing_in(model: keras.Model, precision: str) -> Iterator[None]:
    """Runs the block with ``model`` in ``precision`` (e.g. an export in float32), then
    gives every layer back the policy it had."""
    layers = [layer for network in networks(model)
              for layer in network._flatten_layers(include_self=True, recursive=True)]
    policies = [layer.dtype_policy for layer in layers]
    had = getattr(model, "computing_precision", None)
    apply(model, precision)
    try:
        yield
    finally:
        for layer, policy in zip(layers, policies):
            layer.dtype_policy = policy
        object.__setattr__(model, "computing_precision", had)
