"""The saved-file formats, and loaders for the layouts earlier releases wrote.

Keras stores a model's weights by path, each network's layers named after their class
and their place among the layers of that class (``generator_a2b/layers/conv2d_3``), and
rebuilds the networks from the hyper-parameters alone. A change of layer class or of a
layer's variables therefore moves weights in the file. The formats so far:

| format | written by | convolutions in the file | bias before a norm |
|---|---|---|---|
| 1 | releases before 5f9d5a4 | ``conv2d`` | yes |
| 2 | 5f9d5a4 (FewFiltersConv2D) | ``conv2d``, ``few_filters_conv2d`` (7x7 to <= 4 channels) | yes |
| 3 | d22a7f0 (bias removal) | as 2 | no |
| 4 | ef27305 (WinogradConv2D) | as 2, and ``winograd_conv2d`` (3x3 stride 1) | no |
| 5 | this release | ``conv2d`` (the algorithm is chosen at run time) | no |

Format 5 records ``format_version`` and ``package_version`` in the model's config.
Files without them are upgraded on load: each weight is found by its role (the same
layer in the same place of the same network), whichever class named it; a bias that
instance or batch norm cancels is dropped after checking that it is 0 (it gets no
gradient, so it stays at its initial 0); the optimiser's slots follow their variables.
``upgrade_weights`` writes such a file in today's layout.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from typing import Any

import h5py
import numpy as np

#: the layout this release writes
FORMAT_VERSION = 5

#: the class name each format stored a ``layers.Conv2D`` of the package under, from the
#: layer's configuration (formats 1 and 5: plain ``conv2d``)
_SCHEMES = ("conv2d", "few_filters", "few_filters_winograd")
#: a dropped bias with no norm after it must be 0 up to this (else it changed outputs)
BIAS_TOLERANCE = 1e-5
#: marks each variable with a value no weight holds (see ``_today``)
_MARK = 4096.25


class FormatUpgradeWarning(UserWarning):
    """A file written in an earlier layout was upgraded on load."""


def _old_class_name(layer, scheme: str) -> str:
    """The snake-case class name a convolution of the package was saved under."""
    from keras_attngan import layers as kag_layers

    name = _snake(type(layer).__name__)
    if not isinstance(layer, kag_layers.Conv2D) or scheme == "conv2d":
        return name
    kernel, filters = layer.kernel_size, layer.filters
    if (filters <= kag_layers.FEW_FILTERS_MAX
            and kernel[0] >= kag_layers.FEW_FILTERS_MIN_KERNEL):
        return "few_filters_conv2d"
    if (scheme == "few_filters_winograd" and kernel == (3, 3) and layer.strides == (1, 1)
            and layer.dilation_rate == (1, 1)):
        return "winograd_conv2d"
    return name


def _snake(name: str) -> str:
    # Keras' own rule (keras.src.utils.naming.to_snake_case)
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _container_names(items, scheme: str) -> dict[str, tuple[str, Any]]:
    """{today's name: (the name under ``scheme``, the object)} for a list of saveables,
    named as Keras names them: the class in snake case, then _1, _2, ... per class."""
    today: dict[str, int] = {}
    before: dict[str, int] = {}
    out = {}
    for item in items:
        names = []
        for counter, base in ((today, _snake(type(item).__name__)),
                              (before, _old_class_name(item, scheme))):
            index = counter.get(base, -1) + 1
            counter[base] = index
            names.append(base if index == 0 else f"{base}_{index}")
        out[names[0]] = (names[1], item)
    return out


def _children(obj, segment: str):
    """The list a ``layers`` path segment names, or None."""
    if segment == "layers":
        return getattr(obj, "_layers", None) or getattr(obj, "layers", None)
    return None


def _map_path(model, path: str, scheme: str) -> str:
    """Today's dataset path -> the path of the same weight under ``scheme``."""
    parts = path.split("/")
    obj, out, i = model, [], 0
    while i < len(parts):
        segment = parts[i]
        items = _children(obj, segment) if obj is not None else None
        if items is not None and i + 1 < len(parts):
            names = _container_names(items, scheme)
            out.append(segment)
            mapped, obj = names.get(parts[i + 1], (parts[i + 1], None))
            out.append(mapped)
            i += 2
            continue
        out.append(segment)
        obj = getattr(obj, segment, None) if obj is not None and segment != "vars" else None
        i += 1
    return "/".join(out)


def _datasets(group: h5py.Group) -> dict[str, np.ndarray]:
    found = {}
    group.visititems(lambda name, item: found.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    return found


def _layer_of(path: str) -> str:
    return path.rsplit("/vars/", 1)[0]


def convert(model, old_weights: str, new_weights: str) -> list[str]:
    """Writes ``old_weights`` (a ``.weights.h5`` of any earlier layout) to
    ``new_weights`` in the layout of ``model`` (built, and compiled if the optimiser
    state is wanted). Returns what was changed, for the message; raises ValueError when
    the file does not fit the model, or holds a trained bias that cannot be dropped."""
    with tempfile.TemporaryDirectory() as tmp:
        today, variable_paths = _today(model, os.path.join(tmp, "today.weights.h5"))
    with h5py.File(old_weights, "r") as f:
        before = _datasets(f)
        scheme, mapping = _choose_scheme(model, today, before)
    changes = [] if scheme == "conv2d" else [
        "convolutions stored by algorithm class (few_filters_conv2d"
        + (", winograd_conv2d" if scheme.endswith("winograd") else "") + ")"]
    out: dict[str, np.ndarray] = {}
    for path, old_path in mapping.items():
        if not path.split("/")[0].endswith("optimizer"):
            out[path] = before[old_path]
    dropped = _drop_cancelled_biases(model, before, mapping, variable_paths, out,
                                     old_weights)
    if dropped:
        changes.append(f"{len(dropped)} bias(es) before instance or batch norms dropped "
                       "(the norm cancels them; moving means shifted to match)")
    out.update(_optimizer_slots(model, today, before, mapping, set(dropped),
                                variable_paths))
    with h5py.File(new_weights, "w") as f:
        for path, value in out.items():
            f.create_dataset(path, data=value)
    return changes


def _drop_cancelled_biases(model, before, mapping, variable_paths, out,
                           source: str) -> set[str]:
    """The old layers' paths whose bias today's layer lacks. A norm that subtracts each
    channel's mean follows each such convolution, so its bias changed no output in
    training; where the norm keeps a moving mean for inference (batch norm,
    RunningInstanceNorm), that mean included the bias and is shifted by it here, so
    inference is unchanged too. A bias without such a norm after it would be lost:
    refused, unless it is 0."""
    import keras

    from keras_attngan import layers as kag_layers

    cancelling = (kag_layers.InstanceNormalization, kag_layers.RunningInstanceNorm,
                  keras.layers.BatchNormalization)
    dropped = set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if (not isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
                or layer.use_bias):
            continue
        kernel_path = variable_paths.get(id(layer.kernel), "")
        old_layer = _layer_of(mapping.get(kernel_path, ""))
        bias = before.get(f"{old_layer}/vars/1") if old_layer else None
        if bias is None or bias.ndim != 1:
            continue
        norms = [node.operation for node in layer._outbound_nodes
                 if isinstance(node.operation, cancelling)]
        if not norms and np.abs(bias).max() > BIAS_TOLERANCE:
            raise ValueError(
                f"{source}: the bias of {old_layer} is {np.abs(bias).max():.3g} away from "
                "0, but today's layer has none and no norm after it cancels it. This "
                "file was not written by a keras_attngan release, or was edited; it "
                "cannot be upgraded.")
        for norm in norms:
            for variable in norm.weights:
                if variable.name == "moving_mean":
                    path = variable_paths[id(variable)]
                    out[path] = out[path] - bias.astype(out[path].dtype)
        dropped.add(old_layer)
    return dropped


def _save_weights_plain(model, path: str) -> None:
    # keras.Model.save_weights, not an override that might upgrade again
    import keras

    keras.Model.save_weights(model, path)


def _choose_scheme(model, today, before):
    """The scheme under which every weight of today's model has a place in the old file
    with the same shape."""
    problems = []
    for scheme in _SCHEMES:
        mapping, missing = {}, []
        for path, value in today.items():
            old_path = _map_path(model, path, scheme)
            if path.split("/")[0].endswith("optimizer"):
                mapping[path] = old_path
                continue
            if old_path in before and before[old_path].shape == value.shape:
                mapping[path] = old_path
            else:
                missing.append(old_path)
        if not missing:
            return scheme, mapping
        problems.append(f"{scheme}: {len(missing)} weight(s) not found, e.g. {missing[0]}")
    raise ValueError("The weights do not fit this model (another model or other "
                     "hyper-parameters?): " + "; ".join(problems))


def _optimizer_slots(model, today, before, mapping, dropped, variable_paths
                     ) -> dict[str, np.ndarray]:
    """Each optimiser's state in today's order: its scalars (iterations, learning
    rate), then one slot pair per variable it updates; an old file held pairs for the
    dropped biases too, right after their kernels'."""
    out = {}
    for role in getattr(model, "optimizer_roles", ()):
        group = f"{role}_optimizer"
        new_paths = _numbered(p for p in today if p.startswith(group + "/"))
        old_paths = _numbered(p for p in before if p.startswith(group + "/"))
        if not new_paths or not old_paths:
            continue
        variables = model.variables_of(role)
        # today's variable index -> the old one, counting the dropped biases before it
        old_index, index_map = 0, []
        for variable in variables:
            index_map.append(old_index)
            old_index += 1
            path = variable_paths.get(id(variable), "")
            if path.endswith("/vars/0") and _layer_of(mapping.get(path, "")) in dropped:
                old_index += 1
        scalars = len(new_paths) - 2 * len(variables)
        if scalars < 0 or len(old_paths) != scalars + 2 * old_index:
            raise ValueError(f"The {group}'s state in the file ({len(old_paths)} values) "
                             f"does not fit this model's ({len(new_paths)}).")
        for k in range(scalars):
            out[new_paths[k]] = before[old_paths[k]]
        for i, j in enumerate(index_map):
            for slot in range(2):
                value = before[old_paths[scalars + 2 * j + slot]]
                target = new_paths[scalars + 2 * i + slot]
                if value.shape != today[target].shape:
                    raise ValueError(f"The {group}'s state in the file does not fit this "
                                     f"model ({target}: {value.shape} vs "
                                     f"{today[target].shape}).")
                out[target] = value
    return out


def _numbered(paths) -> list[str]:
    return sorted(paths, key=lambda p: int(p.rsplit("/", 1)[1]))


def _today(model, path: str) -> tuple[dict[str, np.ndarray], dict[int, str]]:
    """Today's layout of ``model``'s weights file ({path: value}) and where each float
    variable lands in it ({id(variable): path}): found by saving the model once with
    each variable filled with its own number (then restored)."""
    saved = [np.array(v.numpy()) for v in model.weights]
    trainable = [v for v in model.weights if "float" in str(v.dtype)]
    try:
        for number, variable in enumerate(trainable, 1):  # values no weight holds
            variable.assign(np.full(variable.shape, _MARK + number, variable.dtype))
        _save_weights_plain(model, path)
    finally:
        for variable, value in zip(model.weights, saved):
            variable.assign(value)
    with h5py.File(path, "r") as f:
        today = _datasets(f)
    by_number = {}
    for dataset, value in today.items():
        if value.size and not dataset.split("/")[0].endswith("optimizer"):
            first = float(np.ravel(value)[0]) - _MARK
            if first >= 1 and first.is_integer() and np.all(value == value.flat[0]):
                by_number.setdefault(int(first), dataset)
    return today, {id(v): by_number.get(n, "") for n, v in enumerate(trainable, 1)}


def upgrade_weights(model, path: str, shown_as: str | None = None) -> list[str]:
    """Loads a ``.weights.h5`` of any layout into ``model``; returns what was upgraded
    ([] when the file is in today's layout). ``shown_as`` names the file in the
    warning (the ``.keras`` file the weights came out of)."""
    import keras

    with tempfile.TemporaryDirectory() as tmp:
        converted = os.path.join(tmp, "upgraded.weights.h5")
        changes = convert(model, path, converted)
        keras.Model.load_weights(model, converted)
    if changes:
        warnings.warn(f"{shown_as or path} was written in an earlier layout and upgraded "
                      "on load: "
                      + "; ".join(changes) + ". Save it again to keep today's layout.",
                      FormatUpgradeWarning, stacklevel=3)
    return changes
