"""Building blocks shared by every network: padding, normalisation, conv and residual blocks.

The blocks are small functions that add layers to a functional graph, so the networks
built from them save and load as plain Keras functional models.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

PACKAGE = "keras_attngan"

# N(0, 0.02), the initialisation of the CycleGAN/pix2pix reference and of DCGAN before it.
def weight_init() -> keras.initializers.Initializer:
    """The papers' weight initialisation: normal, mean 0, standard deviation 0.02."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring the image at its border (no edge repeat).

    Reflection padding avoids the dark frame that zero padding leaves in generated images.
    """

    def __init__(self, padding: int | tuple[int, int] = 1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = (padding, padding)
        self.padding = tuple(int(p) for p in padding)

    def call(self, x):
        ph, pw = self.padding
        return ops.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        ph, pw = self.padding
        return (n, None if h is None else h + 2 * ph, None if w is None else w + 2 * pw, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class InstanceNormalization(layers.Layer):
    """Instance normalisation without affine parameters, as the CycleGAN reference uses.

    The same function as ``keras.layers.GroupNormalization(groups=-1, center=False,
    scale=False)``, in two implementations. Training runs TF's fused batch-norm kernel on
    the images' channels side by side (one batch-norm channel per image and channel),
    whose forward and gradient take 1.5-2.7x less time than the same maths in elementwise
    ops (per layer, 2-core CPU, batch 1 and 4). Inference runs plain 4-D ops, which every
    exporter takes: TFLite has no training-mode batch norm, runs GroupNormalization's 5-D
    reshape about 2x slower and ``ops.moments``' SQUARED_DIFFERENCE slowly in int8
    (``attngan bench export``). Both give the same output to float rounding.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def normalize(self, x):
        """(x - mean) / sqrt(variance + epsilon) over each image's height and width, in
        float32."""
        dtype = x.dtype
        x = ops.cast(x, "float32")  # float16 squares overflow
        centred = x - ops.mean(x, axis=(1, 2), keepdims=True)
        variance = ops.mean(centred * centred, axis=(1, 2), keepdims=True)
        return ops.cast(centred * ops.rsqrt(variance + self.epsilon), dtype)

    def normalize_fused(self, x):
        """``normalize`` by TF's fused batch-norm kernel over (1, H, W, N*C): the same
        function, faster on the CPU."""
        # Batch norm over (1, H, W, N*C) is instance norm over (N, H, W, C). The kernel
        # normalises with the biased variance, as instance norm does, and keeps its
        # statistics in float32. A batch of one (known when traced) is already in that
        # layout: no transposes, fewer ops to trace and optimise.
        n, h, w, c = (_size(x, i) for i in range(4))
        channels = n * c
        single = isinstance(n, int) and n == 1
        stacked = x if single else tf.reshape(tf.transpose(x, [1, 2, 0, 3]),
                                              [1, h, w, channels])
        y = tf.raw_ops.FusedBatchNormV3(
            x=stacked, scale=tf.ones([channels]), offset=tf.zeros([channels]),
            mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=self.epsilon,
            is_training=True)[0]
        return y if single else tf.transpose(tf.reshape(y, [h, w, n, c]), [2, 0, 1, 3])

    def call(self, x, training=None):
        if training:
            return self.normalize_fused(x)
        return self.normalize(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RunningInstanceNorm(InstanceNormalization):
    """Instance normalisation while training; at inference, normalisation by running
    means of the training images' per-image statistics, as batch norm does with its
    batch statistics (beyond the papers; UAG's ``attention_norm="running_instance"``).

    Instance norm makes a network's output relative to the image it sees: an attention
    network trained on images that all hold an object still finds an object-sized
    region in an image without one, because normalising that image's features by its
    own statistics makes its most object-like clutter stand out. With fixed statistics
    the output at a pixel depends on its neighbourhood only. Training is unchanged.
    """

    def __init__(self, epsilon: float = 1e-5, momentum: float = 0.99, **kwargs):
        super().__init__(epsilon=epsilon, **kwargs)
        self.momentum = momentum

    def build(self, input_shape):
        channels = (input_shape[-1],)
        # "mean": each replica's update is averaged, so the statistics stay one value
        self.moving_mean = self.add_weight(shape=channels, initializer="zeros",
                                           trainable=False, autocast=False,
                                           aggregation="mean", name="moving_mean")
        self.moving_variance = self.add_weight(shape=channels, initializer="ones",
                                               trainable=False, autocast=False,
                                               aggregation="mean", name="moving_variance")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     autocast=False, aggregation="mean", name="count")

    #: while a step is traced: a 0/1 factor on this call's update of the statistics
    #: (None: 1). Set by ``statistics_learning`` around the calls it covers.
    learning = None

    def call(self, x, training=None):
        if training:
            values = ops.cast(x, "float32")
            mean = ops.mean(values, axis=(1, 2), keepdims=True)
            variance = ops.mean(ops.square(values - mean), axis=(1, 2))
            learning = 1.0 if self.learning is None else ops.cast(self.learning, "float32")
            # the plain mean of the batches seen while they number under 1/(1-momentum),
            # then the moving average: right from the first steps of a short run
            self.count.assign(self.count + learning)
            weight = learning * ops.maximum(1.0 - self.momentum,
                                            1.0 / ops.maximum(self.count, 1.0))
            for moving, batch in ((self.moving_mean, ops.mean(mean, axis=(0, 1, 2))),
                                  (self.moving_variance, ops.mean(variance, axis=0))):
                moving.assign((1.0 - weight) * moving + weight * batch)
            return self.normalize_fused(x)
        centred = ops.cast(x, "float32") - self.moving_mean
        return ops.cast(centred * ops.rsqrt(self.moving_variance + self.epsilon), x.dtype)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


@contextlib.contextmanager
def statistics_learning(network: keras.Model, learning) -> Iterator[None]:
    """While a step is traced, the ``RunningInstanceNorm`` layers of ``network`` weight
    their statistics' update by ``learning`` (a 0/1 tensor or number): 0 for the calls
    on generated images, or once the network is frozen, so the statistics describe the
    real images the network was trained on."""
    norms = [layer for layer in network._flatten_layers()
             if isinstance(layer, RunningInstanceNorm)]
    for layer in norms:
        layer.learning = learning
    try:
        yield
    finally:
        for layer in norms:
            layer.learning = None


def instance_norm(name: str | None = None) -> layers.Layer:
    """Instance normalisation without affine parameters (see ``InstanceNormalization``)."""
    return InstanceNormalization(name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SwitchableInstanceNorm(InstanceNormalization):
    """Instance normalisation (no affine) that a training schedule can turn off without
    retracing the step: ``enabled`` is a non-trainable 0/1 weight (UAG's discriminators
    drop instance norm in their second stage)."""

    def build(self, input_shape):
        # set inside the step by a schedule: one value for every replica
        self.enabled = self.add_weight(shape=(), initializer="ones", trainable=False,
                                       aggregation="only_first_replica", name="enabled")

    def call(self, x, training=None):
        enabled = ops.cast(self.enabled, x.dtype)
        return enabled * super().call(x, training=training) + (1.0 - enabled) * x


#: the normalisations ``normalization`` makes (a model's ``norm`` option takes these)
NORMS = ("instance", "running_instance", "switchable_instance", "batch", "none")


def normalization(kind: str, name: str | None = None) -> layers.Layer | None:
    """'instance', 'running_instance', 'switchable_instance', 'batch' or 'none'."""
    if kind == "instance":
        return instance_norm(name)
    if kind == "running_instance":
        return RunningInstanceNorm(name=name)
    if kind == "switchable_instance":
        return SwitchableInstanceNorm(name=name)
    if kind == "batch":
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    if kind in ("none", None):
        return None
    raise ValueError(f"Unknown normalisation {kind!r}; use 'instance', 'running_instance', "
                     "'switchable_instance', 'batch' or 'none'.")


def activation(kind: str | None, name: str | None = None) -> layers.Layer | None:
    """'relu', 'leaky_relu' (slope 0.2, as every discriminator here), 'tanh', 'sigmoid'."""
    if kind in (None, "none", "linear"):
        return None
    if kind == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.2, name=name)
    if kind in ("relu", "tanh", "sigmoid"):
        return layers.Activation(kind, name=name)
    raise ValueError(f"Unknown activation {kind!r}.")


def _on_pixel_pairs(conv: layers.Conv2D) -> bool:
    """Whether ``conv`` can run on 2 x 2 pixel blocks (pixel blocks, Winograd): an odd
    kernel, stride 1, no dilation or groups, 'valid', channels last. Any height and width:
    ``_on_output_multiple`` pads an odd or unknown size."""
    return (
        conv.strides == (1, 1) and conv.dilation_rate == (1, 1) and conv.groups == 1
        and conv.padding == "valid" and conv.data_format == "channels_last"
        and all(k % 2 == 1 for k in conv.kernel_size)
    )


def _size(x, axis: int):
    """x's size along ``axis``: a Python int where the graph knows it, else a tensor."""
    return x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]


def _on_output_multiple(convolution, x, kernel, multiple: int):
    """``convolution(x, kernel)``, a stride-1 'valid' convolution that needs an output height
    and width that are multiples of ``multiple``, for any size: x gains zero rows and
    columns at the bottom and right up to the next multiple, which only adds outputs,
    cropped off again."""
    height = _size(x, 1) - (kernel.shape[0] - 1)
    width = _size(x, 2) - (kernel.shape[1] - 1)
    if isinstance(height, int) and isinstance(width, int) and \
            height % multiple == width % multiple == 0:
        return convolution(x, kernel)
    padded = tf.pad(x, [[0, 0], [0, -height % multiple], [0, -width % multiple], [0, 0]])
    return convolution(padded, kernel)[:, :height, :width]


def _blocked_kernel(kernel):
    """The kernel of a stride-1 'valid' convolution, rearranged so that the same convolution
    runs on ``space_to_depth(x, 2)`` and gives ``space_to_depth(y, 2)``.

    Output pixel (2Y + dy, 2X + dx) reads padded-input rows 2Y + dy .. 2Y + dy + kh - 1, which
    lie in blocked rows Y .. Y + (kh + 1) // 2 - 1: for each output phase (dy, dx) the kernel is
    shifted by (dy, dx) inside a (kh + 1) x (kw + 1) window and cut into 2 x 2 blocks.
    """
    kh, kw, cin, cout = kernel.shape
    nh, nw = (kh + 1) // 2, (kw + 1) // 2
    phases = []
    for dy in (0, 1):
        for dx in (0, 1):
            shifted = tf.pad(kernel, [[dy, 1 - dy], [dx, 1 - dx], [0, 0], [0, 0]])
            blocks = tf.reshape(shifted, [nh, 2, nw, 2, cin, cout])
            blocks = tf.transpose(blocks, [0, 2, 1, 3, 4, 5])  # (Y, X, py, px, cin, cout)
            phases.append(tf.reshape(blocks, [nh, nw, 4 * cin, cout]))
    # depth_to_space reads output channels in (dy, dx, c) order.
    return tf.reshape(tf.stack(phases, axis=-2), [nh, nw, 4 * cin, 4 * cout])


def pixel_blocks_conv(x, kernel):
    """``tf.nn.conv2d(x, kernel, 1, 'VALID')`` for an odd kernel and even output height and
    width, computed on 2 x 2 pixel blocks: ``space_to_depth``, the blocked kernel, then
    ``depth_to_space``."""
    blocked = tf.nn.conv2d(tf.nn.space_to_depth(x, 2), _blocked_kernel(kernel),
                           strides=1, padding="VALID")
    return tf.nn.depth_to_space(blocked, 2)


def pixel_blocks_gradients(x, kernel, d_output):
    """The gradients of ``pixel_blocks_conv`` for x and kernel, also on pixel blocks
    (``space_to_depth`` and ``depth_to_space`` are each other's transposes)."""
    with tf.GradientTape() as tape:  # the kernel's rearrangement: kernel-sized, cheap
        tape.watch(kernel)
        blocked_kernel = _blocked_kernel(kernel)
    blocked_x, d_blocked = tf.nn.space_to_depth(x, 2), tf.nn.space_to_depth(d_output, 2)
    d_x = _input_gradient(tf.shape(blocked_x), blocked_kernel, d_blocked)
    d_blocked_kernel = _kernel_gradient(blocked_x, tf.shape(blocked_kernel), d_blocked)
    return (tf.nn.depth_to_space(d_x, 2),
            tape.gradient(blocked_kernel, kernel, output_gradients=d_blocked_kernel))


#: where ``layers.Conv2D`` layers take their device from (``Conv2D.convolutions``)
CONVOLUTION_MODES = ("traced_device", "any_device", "direct")


class _DispatchedConv2D(layers.Conv2D):
    """``Conv2D`` whose algorithm is chosen for the device the op runs on: ``algorithm``
    (one function of the layer, the input shape, the compute dtype and the device).

    ``convolutions`` says where the device comes from. "traced_device" (training,
    ``translate``): the device the graph places the op on, known when it is traced (the
    device scope, a replica's under ``tf.distribute``, else a GPU where this process
    sees one). "any_device" (SavedModels, which may be served on another machine): the
    graph holds the CPU's algorithm and TF's own behind TensorFlow's ``DeviceIndex`` op,
    which Grappler resolves once the graph is placed, so a SavedModel traced on a CPU
    host runs cuDNN's convolution on a GPU server (this costs tracing time: about 3 of
    15 s for CycleGAN's 128 px training step; under XLA it is TF's own). "direct": TF's
    own everywhere (TFLite). Set per model by ``convolutions_for(model, mode)``."""

    convolutions = "traced_device"

    def algorithm(self, input_shape, device: str = "CPU") -> str:
        """How an input of this shape is convolved on ``device`` ("CPU", "GPU"), the
        package's one rule: "winograd_4x4" or "winograd_2x2" (Winograd F(4x4, 3x3) or
        F(2x2, 3x3)), "winograd_by_size" (height or width unknown when traced: one of the
        two or TF's convolution, by the same rule when the op runs), "pixel_blocks" or
        "direct" (TF's own). On a GPU cuDNN chooses its own algorithm."""
        if self.convolutions == "direct" or device != "CPU":
            return "direct"
        return self._cpu_algorithm(input_shape)

    def _cpu_algorithm(self, input_shape) -> str:
        return "direct"

    def convolution_op(self, inputs, kernel):
        """The convolution by the algorithm ``algorithm`` names for the device it runs on
        (see the class docstring)."""
        any_device = self.convolutions == "any_device"
        device = "CPU" if any_device or self.convolutions == "direct" else \
            _traced_device_type()
        chosen = self.algorithm(inputs.shape, device)
        if chosen == "direct":
            return super().convolution_op(inputs, kernel)
        if chosen == "pixel_blocks":
            forward, gradients, multiple = pixel_blocks_conv, pixel_blocks_gradients, 2
        elif chosen == "winograd_by_size":  # the rule applied when the op runs
            choice = _winograd_choice((_size(inputs, 1) - 2) * (_size(inputs, 2) - 2),
                                      min(inputs.shape[-1], self.filters))
            forward, gradients, multiple = _by_index(choice, [
                (direct_conv, direct_gradients)] + [_winograd(t) for t in WINOGRAD_TILES])
        else:
            tile = WINOGRAD_TILES[_WINOGRAD_ALGORITHMS.index(chosen)]
            (forward, gradients), multiple = _winograd(tile), tile
        if any_device:
            convolution = _on_cpu_by(forward, gradients)
        elif chosen == "pixel_blocks":  # differentiated by TF, as training always was
            convolution = pixel_blocks_conv
        else:
            convolution = _differentiable(forward, gradients)
        return _on_output_multiple(convolution, inputs, tf.convert_to_tensor(kernel),
                                   multiple)


def _traced_device_type() -> str:
    """The type of the device ("CPU", "GPU", ...) ops created here are placed on: the
    device scope's where there is one (a replica's under ``tf.distribute``), else a GPU
    where this process sees one, as TensorFlow's placer does."""
    requested = tf.zeros(()).device if tf.executing_eagerly() else tf.raw_ops.NoOp().device
    if requested:
        kind = tf.DeviceSpec.from_string(requested).device_type
        if kind:
            return kind.upper()
    return "GPU" if tf.config.list_logical_devices("GPU") else "CPU"


@keras.saving.register_keras_serializable(package=PACKAGE)
class FewFiltersConv2D(_DispatchedConv2D):
    """``Conv2D`` for a large kernel with few output channels (an RGB image, a mask).

    oneDNN vectorises a convolution over blocks of 16 output channels, so the 7x7 64 -> 3
    output layer of a generator ran at about 42 GFLOP/s where the rest of the network runs at
    200 (forward and filter gradient 0.35 s of a 10 s CycleGAN step at 256 px). Run on 2 x 2
    pixel blocks (``space_to_depth``) the same function is a 4x4 convolution with four times
    the output channels on a quarter of the pixels: 1.3x the FLOPs at about 89 GFLOP/s, 67 ->
    38 ms for forward + both gradients at 256 px (README "Performance"). Same weights and
    config as ``Conv2D``; where the trick does not apply (strides, dilation, 'same'
    padding, an even kernel) or on a GPU it is a plain ``Conv2D``.
    """

    def _cpu_algorithm(self, input_shape) -> str:
        return "pixel_blocks" if _on_pixel_pairs(self) else "direct"


# Output channels up to which (and kernel size from which) FewFiltersConv2D is faster than
# Conv2D: 2x at 64 -> 1 and 64 -> 3 (7x7, 256 px), 1.15x at 64 -> 8, 0.75x at 64 -> 16;
# no gain for 3x3 or 1x1 kernels.
FEW_FILTERS_MAX, FEW_FILTERS_MIN_KERNEL = 4, 7


# Winograd F(m x m, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
# 2016): each m x m block of outputs of a 3x3 convolution is A^T [(G g G^T) * (B^T d B)] A
# for the (m + 2) x (m + 2) input tile d under it, so the convolution becomes (m + 2)^2
# matrix products over (tiles x channels): F(2x2, 3x3) does 16/36 of the direct
# multiplications, F(4x4, 3x3) 36/144. The 2-D transforms are the Kronecker products of
# the 1-D ones, applied as one small matmul each so that a layer adds a few dozen ops to
# the graph, not hundreds (graph building and Grappler time). F(4x4)'s transforms have
# larger entries, so it rounds about 5x further from the exact result (1e-5 of the
# largest output against 2e-6 in float32); both are float32 only.
_WINOGRAD_1D = {  # output tile m: (B^T, A^T, G), interpolation points 0, +-1 (, +-2) and oo
    2: ([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]],
        [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]]),
    4: ([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
        [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
         [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]),
}
# Tile rows (columns) at grid offset a (b) of _winograd_tiles: all the phases at offset 0,
# phases 0 and 1 at offset 1 (neighbouring tiles overlap by 2).
_WINOGRAD_OFFSETS = [(a, b) for a in (0, 1) for b in (0, 1)]


def _phases_at(tile: int, offset: int) -> int:
    return tile if offset == 0 else 2


def _tap_order(tile: int) -> list[int]:
    """The taps (row * (tile + 2) + column) in the order _winograd_tiles gathers them."""
    return [(tile * a + pr) * (tile + 2) + tile * b + pc for a, b in _WINOGRAD_OFFSETS
            for pr in range(_phases_at(tile, a)) for pc in range(_phases_at(tile, b))]


def _winograd_matrices(tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 2-D transforms of F(tile x tile, 3x3): input (taps, taps in ``_tap_order``),
    output (tile^2, taps) and kernel (taps, 9), taps = (tile + 2)^2."""
    bt, at, g = map(np.array, _WINOGRAD_1D[tile])
    return tuple(m.astype("float32") for m in (
        np.kron(bt, bt)[:, _tap_order(tile)], np.kron(at, at), np.kron(g, g)))


_WINOGRAD = {tile: _winograd_matrices(tile) for tile in _WINOGRAD_1D}


def _winograd_tiles(x, tile: int, th, tw):
    """The (tile + 2)^2 taps of every input tile (stride ``tile``) of x, as (taps, batch *
    th * tw * channels), in ``_tap_order``.

    x (tile * (th + 1) rows and columns) splits into pixel phases on a grid of 1/tile the
    size: tap row i < tile of tile t is phase i of grid row t, tap rows tile and tile + 1
    are phases 0 and 1 of grid row t + 1; likewise the columns.
    """
    phases = tf.reshape(x, [-1, th + 1, tile, tw + 1, tile, x.shape[3]])
    phases = tf.transpose(phases, [2, 4, 0, 1, 3, 5])  # (phase row, phase col, batch, t, s, c)
    # tf.slice, not indexing: the same op with a fraction of the Python at trace time
    return tf.concat([
        tf.reshape(tf.slice(phases, [0, 0, 0, a, b, 0],
                            [_phases_at(tile, a), _phases_at(tile, b), -1, th, tw, -1]),
                   [_phases_at(tile, a) * _phases_at(tile, b), -1])
        for a, b in _WINOGRAD_OFFSETS], 0)


def _winograd_untiles(d_taps, tile: int, th, tw, channels: int):
    """The transpose of ``_winograd_tiles``: each tap's values added back where it was read,
    as a (batch, tile * (th + 1), tile * (tw + 1), channels) image."""
    counts = [(_phases_at(tile, a), _phases_at(tile, b)) for a, b in _WINOGRAD_OFFSETS]
    d_phases = tf.add_n([
        tf.pad(tf.reshape(piece, [rows, cols, -1, th, tw, channels]),
               [[0, tile - rows], [0, tile - cols], [0, 0], [a, 1 - a], [b, 1 - b], [0, 0]])
        for piece, (rows, cols), (a, b) in zip(
            tf.split(d_taps, [r * c for r, c in counts]), counts, _WINOGRAD_OFFSETS)])
    d_x = tf.transpose(d_phases, [2, 3, 0, 4, 1, 5])  # (batch, t, phase row, s, phase col, c)
    return tf.reshape(d_x, [-1, tile * (th + 1), tile * (tw + 1), channels])


def _winograd_transforms(x, kernel, tile: int):
    """The sizes and transforms Winograd's forward and backward passes share."""
    hp, wp, cin, cout = _size(x, 1), _size(x, 2), x.shape[3], kernel.shape[-1]
    th, tw = (hp - 2) // tile, (wp - 2) // tile
    taps = (tile + 2) ** 2
    input_t, output_t, kernel_t = (tf.constant(m, kernel.dtype) for m in _WINOGRAD[tile])

    def transformed_input(x):  # B^T d B for every tile: (taps, tiles, cin)
        if tile > 2:  # tile * (th + 1) rows and columns
            x = tf.pad(x, [[0, 0], [0, tile - 2], [0, tile - 2], [0, 0]])
        return tf.reshape(tf.matmul(input_t, _winograd_tiles(x, tile, th, tw)),
                          [taps, -1, cin])

    # G g G^T: (taps, cin, cout)
    u = tf.reshape(tf.matmul(kernel_t, tf.reshape(kernel, [9, -1])), [taps, cin, cout])
    return hp, wp, cin, cout, th, tw, input_t, output_t, kernel_t, transformed_input, u


def winograd_forward(x, kernel, tile: int = 2):
    """``tf.nn.conv2d(x, kernel, 1, 'VALID')`` for a 3x3 kernel and an output height and
    width that are multiples of ``tile`` (known or not when traced), by Winograd
    F(tile x tile, 3x3), ``tile`` 2 or 4."""
    hp, wp, cin, cout, th, tw, _, output_t, _, transformed_input, u = \
        _winograd_transforms(x, kernel, tile)
    taps = (tile + 2) ** 2
    m = tf.matmul(transformed_input(x), u)  # (taps, tiles, cout)
    y = tf.matmul(output_t, tf.reshape(m, [taps, -1]))  # (dy, dx) of each tile
    y = tf.transpose(tf.reshape(y, [tile, tile, -1, th, tw, cout]), [2, 3, 0, 4, 1, 5])
    return tf.reshape(y, [-1, hp - 2, wp - 2, cout])


def winograd_gradients(x, kernel, d_output, tile: int = 2):
    """The gradients of ``winograd_forward`` for x and kernel, also (tile + 2)^2 matrix
    products each. The input transform (several times the input) is recomputed rather
    than kept from the forward pass."""
    hp, wp, cin, cout, th, tw, input_t, output_t, kernel_t, transformed_input, u = \
        _winograd_transforms(x, kernel, tile)
    taps = (tile + 2) ** 2
    d_y = tf.reshape(d_output, [-1, th, tile, tw, tile, cout])
    d_y = tf.reshape(tf.transpose(d_y, [2, 4, 0, 1, 3, 5]), [tile * tile, -1])
    d_m = tf.reshape(tf.matmul(output_t, d_y, transpose_a=True), [taps, -1, cout])
    # Recomputed only now: the control dependency keeps Grappler from merging this with
    # the forward pass's transform, which would then be held until here.
    with tf.control_dependencies([d_output]):
        v = transformed_input(tf.identity(x))
    d_u = tf.reshape(tf.matmul(v, d_m, transpose_a=True), [taps, -1])
    d_kernel = tf.reshape(tf.matmul(kernel_t, d_u, transpose_a=True), [3, 3, cin, cout])
    d_v = tf.reshape(tf.matmul(d_m, u, transpose_b=True), [taps, -1])
    d_taps = tf.matmul(input_t, d_v, transpose_a=True)
    d_x = _winograd_untiles(d_taps, tile, th, tw, cin)
    return d_x[:, :hp, :wp], d_kernel


def winograd_conv3x3(x, kernel, tile: int = 2):
    """``tf.nn.conv2d(x, kernel, 1, 'VALID')`` for a 3x3 kernel and an output height and
    width that are multiples of ``tile``, by Winograd F(tile x tile, 3x3) forward and
    backward (``winograd_forward``, ``winograd_gradients``)."""
    return _differentiable(lambda x, k: winograd_forward(x, k, tile),
                           lambda x, k, d: winograd_gradients(x, k, d, tile))(x, kernel)


@functools.lru_cache(maxsize=None)
def _graph_function(python_function):
    """``python_function`` as a TF function that a calling graph calls instead of holding
    a copy of its ops: traced and optimised by Grappler once per input shape, not once per
    layer call, and not inlined when the graph runs. Winograd's two passes are about 100
    ops each, and CycleGAN's 128 px step calls them 216 times: as copies they were 12,700
    of the step's 19,600 ops and half of its first step's 17 s, and the step's peak memory
    was 30 % higher (docs/performance.md)."""
    return tf.function(python_function, autograph=False,
                       experimental_attributes={"_noinline": True})


def _differentiable(forward, gradients):
    """``forward(x, kernel)`` as a function whose gradients are ``gradients(x, kernel,
    d_output)``."""
    @tf.custom_gradient
    def convolution(x, kernel):
        return forward(x, kernel), lambda d_output: gradients(x, kernel, d_output)

    return convolution


def direct_conv(x, kernel):
    """TF's own stride-1 'valid' convolution."""
    return tf.nn.conv2d(x, kernel, 1, "VALID")


def direct_gradients(x, kernel, d_output):
    """TF's own gradients of ``direct_conv`` for x and kernel."""
    return (_input_gradient(tf.shape(x), kernel, d_output),
            _kernel_gradient(x, tf.shape(kernel), d_output))


def _input_gradient(input_shape, kernel, d_output):
    return tf.raw_ops.Conv2DBackpropInput(input_sizes=input_shape, filter=kernel,
                                          out_backprop=d_output, strides=[1] * 4,
                                          padding="VALID")


def _kernel_gradient(x, kernel_shape, d_output):
    return tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=kernel_shape,
                                           out_backprop=d_output, strides=[1] * 4,
                                           padding="VALID")


def _by_device(on_cpu, elsewhere):
    """``on_cpu()`` where the op runs on a CPU, else (a GPU, or under XLA) ``elsewhere()``:
    TensorFlow's ``DeviceIndex`` op, which Grappler resolves once the graph is placed."""
    return tf.__internal__.execute_fn_for_device({"CPU": on_cpu}, elsewhere)


def _on_cpu_by(forward, gradients):
    """A stride-1 'valid' convolution computed by ``forward`` / ``gradients`` where it runs
    on a CPU and by TF's own elsewhere, each pass choosing where it runs. Differentiated
    by hand: TF 2.21's Grappler crashes on the gradient of a per-device choice."""
    return _differentiable(
        lambda x, k: _by_device(lambda: forward(x, k), lambda: direct_conv(x, k)),
        lambda x, k, d: _by_device(lambda: gradients(x, k, d),
                                   lambda: direct_gradients(x, k, d)))


# Where WinogradConv2D wins (one layer, forward + both gradients, 2 threads): 1.5x at
# 256 -> 256 channels on 64 x 64 and on 32 x 32 outputs, 1.35x at 128 -> 128 on 64 x 64;
# about 1.0x at 128 channels on 32 x 32 and at 64 channels on any size; 0.7x at 256
# channels on 16 x 16, where the transforms cost more than the multiplications saved
# (2026-12-05). A later window (2026-12-07) found F(2x2) 1.3x faster at 16 x 16 x 256 and
# 32 x 32 x 128 too; the thresholds were kept, as they decide the algorithm of the
# quality benchmark's small models (docs/performance.md).
WINOGRAD_MIN_CHANNELS = 128
WINOGRAD_MIN_WORK = 256 * 32 * 32  # output pixels x min(input, output channels)
# F(4x4, 3x3) against F(2x2, 3x3), same layers (2026-12-07): 47.6 -> 32.7 ms at 256 -> 256
# channels on 64 x 64 outputs, 12.7 -> 11.4 ms on 32 x 32, 16.3 -> 11.5 ms at 128 -> 128 on
# 64 x 64; slower on 16 x 16 (5.1 -> 6.2 ms at 256 channels), where there are few tiles.
WINOGRAD_4X4_MIN_PIXELS = 32 * 32  # output pixels
WINOGRAD_TILES = (2, 4)  # the output tiles of Winograd F(2x2, 3x3) and F(4x4, 3x3)
_WINOGRAD_ALGORITHMS = tuple(f"winograd_{t}x{t}" for t in WINOGRAD_TILES)


def _winograd_choice(pixels, channels: int):
    """0 (TF's convolution), 1 (Winograd F(2x2, 3x3)) or 2 (F(4x4, 3x3)) for a 3x3
    convolution with ``pixels`` output pixels and ``channels`` = min(input, output)
    channels: a Python int, or an int32 tensor where the size is known only when the op
    runs."""
    if channels < WINOGRAD_MIN_CHANNELS:
        return 0
    # work = pixels x channels, compared without the product (int32 when the op runs)
    min_pixels = -(-WINOGRAD_MIN_WORK // channels)
    if isinstance(pixels, int):
        return 0 if pixels < min_pixels else 2 if pixels >= WINOGRAD_4X4_MIN_PIXELS else 1
    large = tf.cast(pixels >= min_pixels, tf.int32)
    return large * (1 + tf.cast(pixels >= WINOGRAD_4X4_MIN_PIXELS, tf.int32))


def _winograd(tile: int):
    """Winograd F(tile x tile, 3x3)'s forward and backward passes, as functions of (x,
    kernel) and (x, kernel, d_output) that the calling graph calls."""
    forward, gradients = _graph_function(winograd_forward), _graph_function(winograd_gradients)
    return (lambda x, k: forward(x, k, tile),
            lambda x, k, d: gradients(x, k, d, tile))


def _by_index(index, passes):
    """The (forward, gradients) pair ``passes[index]``, ``index`` known when the op runs,
    with the output multiple all of them take (4: Winograd F(4x4)'s tile)."""
    return (lambda x, k: tf.switch_case(index, [functools.partial(f, x, k)
                                               for f, _ in passes]),
            lambda x, k, d: tf.switch_case(index, [functools.partial(g, x, k, d)
                                                  for _, g in passes]),
            max(WINOGRAD_TILES))


@keras.saving.register_keras_serializable(package=PACKAGE)
class WinogradConv2D(_DispatchedConv2D):
    """``Conv2D`` for 3x3 stride-1 'valid' convolutions, computed by Winograd
    (``winograd_conv3x3``) where that is faster: on the CPU, in float32, with at least
    ``WINOGRAD_MIN_CHANNELS`` and ``WINOGRAD_MIN_WORK``; F(4x4, 3x3) from
    ``WINOGRAD_4X4_MIN_PIXELS`` output pixels, F(2x2, 3x3) below (an unknown height or
    width is measured when the op runs).

    oneDNN runs TF's direct convolution at about the machine's matmul speed; Winograd does
    16/36 (F(2x2)) or 36/144 (F(4x4)) of its multiplications, which makes the residual
    blocks' convolutions of CycleGAN's generator 1.5-2x faster (docs/performance.md).
    On a GPU, cuDNN chooses Winograd itself.
    Same weights and config as ``Conv2D``; elsewhere it is a plain ``Conv2D``.
    """

    def _winograd_algorithm(self, input_shape) -> str | None:
        """The Winograd algorithm for this input shape, None where TF's is faster."""
        h, w, cin = input_shape[1], input_shape[2], input_shape[3]
        if not (
            self.kernel_size == (3, 3) and _on_pixel_pairs(self)
            and self.compute_dtype == "float32" and cin is not None
        ):
            return None
        channels = min(cin, self.filters)
        if h is None or w is None:
            return "winograd_by_size" if channels >= WINOGRAD_MIN_CHANNELS else None
        choice = _winograd_choice((h - 2) * (w - 2), channels)
        return _WINOGRAD_ALGORITHMS[choice - 1] if choice else None

    def _cpu_algorithm(self, input_shape) -> str:
        return self._winograd_algorithm(input_shape) or "direct"


@contextlib.contextmanager
def convolutions_for(model: keras.Layer, mode: str) -> Iterator[None]:
    """Graphs traced inside this block take ``model``'s convolutions' device as ``mode``
    says (``CONVOLUTION_MODES``; see ``layers.Conv2D``); afterwards each layer is as it
    was. "any_device" for SavedModels; "direct" for TFLite: its runtime has a fast 3x3
    convolution of its own (XNNPACK), int8 quantisation expects CONV_2D, and its
    converter takes neither the Winograd graph nor ``DeviceIndex``."""
    if mode not in CONVOLUTION_MODES:
        raise ValueError(f"mode must be one of {CONVOLUTION_MODES}; got {mode!r}.")
    convs = [layer for layer in model._flatten_layers(include_self=True)
             if isinstance(layer, _DispatchedConv2D)]
    before = [conv.convolutions for conv in convs]
    for conv in convs:
        conv.convolutions = mode
    try:
        yield
    finally:
        for conv, value in zip(convs, before):
            conv.convolutions = value


# Norms that subtract each channel's mean, and with it any bias the convolution before them
# adds: such a bias changes no output and has a zero gradient, so the convolutions before
# them have none (the reference keeps it at 0 through training, up to rounding noise).
BIAS_CANCELLING_NORMS = ("instance", "running_instance", "batch")


def norm_act(x, norm: str, act: str | None):
    """Normalisation then activation, each left out when 'none'."""
    for layer in (normalization(norm), activation(act)):
        if layer is not None:
            x = layer(x)
    return x


def _pad(x, amount: int, padding: str):
    if amount == 0 or padding == "same":
        return x
    if padding == "reflect":
        return ReflectionPadding2D(amount)(x)
    if padding == "zero":
        return layers.ZeroPadding2D(amount)(x)
    raise ValueError(f"Unknown padding {padding!r}; use 'reflect', 'zero' or 'same'.")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Conv2D(WinogradConv2D, FewFiltersConv2D):
    """``keras.layers.Conv2D`` whose algorithm is chosen where it runs, from the layer,
    its input shape, dtype and device (``algorithm``): on the CPU, Winograd F(4x4, 3x3) or
    F(2x2, 3x3) for large 3x3 stride-1 convolutions and 2x2 pixel blocks for large kernels
    with few output channels (an output layer); else, and on a GPU, TF's own convolution.

    Every convolution of the package's networks is this class, so a saved file's layout
    (Keras names weights by class: ``conv2d_N``) does not depend on which algorithm ran.
    Same weights and config as ``keras.layers.Conv2D``.
    """

    def _cpu_algorithm(self, input_shape) -> str:
        winograd = self._winograd_algorithm(input_shape)
        if winograd:
            return winograd
        blocked = (self.filters <= FEW_FILTERS_MAX
                   and min(self.kernel_size) >= FEW_FILTERS_MIN_KERNEL
                   and _on_pixel_pairs(self))
        return "pixel_blocks" if blocked else "direct"


def conv_block(
    x,
    filters: int,
    kernel_size: int,
    strides: int = 1,
    padding: str = "reflect",
    norm: str = "instance",
    act: str | None = "relu",
    dilation: int = 1,
    pad_amount: int | None = None,
    use_bias: bool | None = None,
    bias_init: float = 0.0,
):
    """Pad -> Conv2D -> norm -> activation; ``bias_init`` starts the bias there.

    ``use_bias`` None (the default): a bias unless ``norm`` cancels it
    (``BIAS_CANCELLING_NORMS``).

    ``padding`` 'reflect' or 'zero' pads explicitly by ``pad_amount`` (default: half the
    dilated kernel, so stride 1 keeps the size) and convolves 'valid', which reproduces the
    reference's PyTorch padding exactly; 'same' leaves it to Keras.
    """
    if pad_amount is None:
        pad_amount = dilation * (kernel_size - 1) // 2
    if use_bias is None:
        use_bias = norm not in BIAS_CANCELLING_NORMS
    x = _pad(x, pad_amount, padding)
    x = Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same" if padding == "same" else "valid",
        dilation_rate=dilation,
        use_bias=use_bias,
        kernel_initializer=weight_init(),
        bias_initializer=keras.initializers.Constant(bias_init),
    )(x)
    return norm_act(x, norm, act)


def conv_transpose_block(
    x, filters: int, kernel_size: int = 3, strides: int = 2, norm: str = "instance",
    act: str | None = "relu",
):
    """Transposed convolution that multiplies the size by ``strides``, then norm and act."""
    x = layers.Conv2DTranspose(
        filters, kernel_size, strides=strides, padding="same",
        use_bias=norm not in BIAS_CANCELLING_NORMS, kernel_initializer=weight_init(),
    )(x)
    return norm_act(x, norm, act)


def residual_block(x, filters: int | None = None, norm: str = "instance", dilation: int = 1,
                   padding: str = "reflect"):
    """x + (conv3-norm-relu-conv3-norm)(x); ``dilation`` > 1 gives SAT's dilated blocks."""
    filters = filters or x.shape[-1]
    y = conv_block(x, filters, 3, padding=padding, norm=norm, act="relu", dilation=dilation)
    y = conv_block(y, filters, 3, padding=padding, norm=norm, act=None, dilation=dilation)
    return layers.Add()([x, y])
