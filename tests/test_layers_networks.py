import numpy as np
import keras
import pytest

from keras_attngan import layers, networks


def test_reflection_padding_matches_numpy():
    x = np.arange(2 * 4 * 5 * 3, dtype="float32").reshape(2, 4, 5, 3)
    out = np.array(layers.ReflectionPadding2D((2, 1))(x))
    assert np.array_equal(out, np.pad(x, [(0, 0), (2, 2), (1, 1), (0, 0)], mode="reflect"))


def test_instance_norm_normalises_each_sample_and_channel_without_affine():
    norm = layers.instance_norm()
    x = np.random.default_rng(0).normal(3.0, 5.0, (2, 8, 8, 4)).astype("float32")
    y = np.array(norm(x))
    assert np.allclose(y.mean(axis=(1, 2)), 0, atol=1e-4)
    assert np.allclose(y.std(axis=(1, 2)), 1, atol=1e-2)
    assert norm.weights == []  # no affine parameters, as the reference
    # The same function as Keras' instance norm, which TFLite runs slower.
    keras_norm = keras.layers.GroupNormalization(groups=-1, center=False, scale=False,
                                                 epsilon=1e-5)
    assert np.allclose(y, np.array(keras_norm(x)), atol=1e-5)


@pytest.mark.parametrize("dtype,batch", [("float32", 3), ("float16", 3), ("float32", 1),
                                         ("float32", None)])
def test_instance_norm_training_kernel_matches_the_portable_one(dtype, batch):
    """Training runs the fused batch-norm kernel, inference plain ops: same values and
    gradients, per sample (batch 3, so the stacking of images is checked), in float16 too,
    for a batch of one (no stacking) and a batch size unknown when traced (None: 3)."""
    import tensorflow as tf

    norm = layers.InstanceNormalization(dtype=keras.DTypePolicy(
        "mixed_float16" if dtype == "float16" else "float32"))
    rng = np.random.default_rng(0)
    shape = (batch or 3, 6, 7, 5)
    x = tf.constant(rng.normal(2.0, 3.0, shape).astype("float32"))
    upstream = tf.constant(rng.normal(size=shape).astype("float32"))

    def value_and_grad(x, training):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = norm(tf.cast(x, dtype), training=training)
        return y, tape.gradient(y, x, output_gradients=tf.cast(upstream, y.dtype))

    run = value_and_grad
    if batch is None:  # traced with the batch size unknown
        traced = {t: tf.function(lambda x, t=t: value_and_grad(x, t),
                                 input_signature=[tf.TensorSpec((None, 6, 7, 5))])
                  for t in (True, False)}
        run = lambda x, training: traced[training](x)  # noqa: E731
    (y_fused, g_fused), (y_plain, g_plain) = run(x, True), run(x, False)
    assert y_fused.dtype == y_plain.dtype == dtype
    bound = 1e-2 if dtype == "float16" else 1e-5
    assert np.allclose(np.float32(y_fused), np.float32(y_plain), atol=bound)
    assert np.allclose(g_fused, g_plain, atol=bound)
    # A wrong stacking would mix images: each sample's output must be its own.
    assert np.allclose(np.float32(y_fused)[-1].mean(axis=(0, 1)), 0, atol=bound)
    assert np.abs(g_plain).max() > 0.1  # a gradient that is not trivially zero


def test_running_instance_norm_trains_as_instance_norm_and_infers_with_training_stats():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, (2, 8, 8, 4)).astype("float32") for _ in range(3)]
    norm = layers.RunningInstanceNorm()
    plain = layers.InstanceNormalization()
    for x in batches:
        assert np.allclose(norm(x, training=True), plain(x), atol=1e-4)
    # the plain mean of the batches' per-image statistics, from the first step on
    mean = np.mean([x.mean((1, 2)).mean(0) for x in batches], 0)
    variance = np.mean([x.var((1, 2)).mean(0) for x in batches], 0)
    assert np.allclose(norm.moving_mean, mean, atol=1e-5)
    assert np.allclose(norm.moving_variance, variance, atol=1e-4)
    # at inference a constant image stays constant (instance norm would give 0)
    flat = np.full((1, 8, 8, 4), 5.0, "float32")
    expected = (5.0 - mean) / np.sqrt(variance + 1e-5)
    assert np.allclose(norm(flat), np.broadcast_to(expected, flat.shape), atol=1e-4)
    assert np.allclose(plain(flat), 0.0)


def test_running_instance_norm_statistics_under_two_replicas():
    import tensorflow as tf

    x = np.random.default_rng(1).normal(1.0, 3.0, (2, 8, 8, 2)).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    with strategy.scope():
        norm = layers.RunningInstanceNorm()
        norm.build(x.shape)
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(x).unbatch().batch(2))
    for batch in dataset:
        strategy.run(tf.function(lambda b: norm(b, training=True)), args=(batch,))
    assert np.allclose(norm.moving_mean, x.mean((1, 2)).mean(0), atol=1e-5)
    assert float(np.asarray(norm.count.value)) == 1.0


def assert_computes_conv2d(fast, plain, x, rng, tol):
    """``fast``, given ``plain``'s random weights, computes its values and its input,
    kernel and bias gradients (under a non-uniform upstream gradient) within ``tol``."""
    import tensorflow as tf

    fast.build(x.shape)
    plain.build(x.shape)
    plain.set_weights([rng.normal(0, 0.1, w.shape).astype("float32")
                       for w in plain.get_weights()])
    fast.set_weights(plain.get_weights())

    def value_and_grads(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cast(layer(x), "float32")
            loss = tf.reduce_sum(y * tf.sin(y))
        return [y] + tape.gradient(loss, [x] + layer.trainable_variables)

    expected = value_and_grads(plain)
    # eagerly, as a graph, and as a SavedModel's graph (the per-device choice, each
    # algorithm's gradients written by hand)
    with layers.convolutions_for(fast, "any_device"):
        any_device = tf.function(value_and_grads)(fast)
    for computed in (value_and_grads(fast), tf.function(value_and_grads)(fast), any_device):
        for a, b in zip(computed, expected):
            assert a.shape == b.shape
            scale = float(tf.reduce_max(tf.abs(b)))
            assert float(tf.reduce_max(tf.abs(a - b))) <= tol * max(scale, 1.0)


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
@pytest.mark.parametrize("height, width, kernel, filters, blocked", [
    (38, 38, 7, 3, True),         # the generators' 7x7 output layer
    (38, 22, 7, 1, True),         # a mask, non-square
    (20, 20, (7, 5), 2, True),    # rectangular kernel
    (37, 39, 7, 3, True),         # odd height and width: padded, the output cropped
    (20, 20, 4, 3, False),        # even kernel: plain Conv2D
])
def test_few_filters_conv_is_conv2d(height, width, kernel, filters, blocked, dtype,
                                    cpu_only):
    """The space-to-depth convolution computes Conv2D's function, values and gradients
    (input, kernel, bias), with the same weights, in mixed precision too."""
    import tensorflow as tf

    policy = keras.DTypePolicy(dtype)
    few = layers.FewFiltersConv2D(filters, kernel, dtype=policy)
    plain = keras.layers.Conv2D(filters, kernel, dtype=policy)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, height, width, 16)).astype("float32"))
    assert few.algorithm(x.shape) == ("pixel_blocks" if blocked else "direct")
    assert few.algorithm(x.shape, "GPU") == "direct"
    assert_computes_conv2d(few, plain, x, rng, tol=1e-2 if dtype == "mixed_float16" else 1e-4)
    config = few.get_config()
    assert layers.FewFiltersConv2D.from_config(config).get_config() == config


@pytest.mark.parametrize("height, width, cin, filters, strides, dtype, lowered, winograd", [
    (50, 50, 128, 128, 1, "float32", False, "winograd_4x4"),  # at the default thresholds
    (18, 26, 16, 24, 1, "float32", True, "winograd_2x2"),     # non-square, cin != cout
    (38, 39, 16, 24, 1, "float32", True, "winograd_4x4"),     # 36 x 37: padded to 36 x 40
    (51, 50, 128, 128, 1, "float32", False, "winograd_4x4"),  # odd height: padded, cropped
    (50, 50, 64, 64, 1, "float32", False, "direct"),    # too few channels to gain
    (50, 50, 128, 128, 2, "float32", False, "direct"),  # strided
    (50, 50, 128, 128, 1, "mixed_float16", False, "direct"),
])
def test_winograd_conv_is_conv2d(height, width, cin, filters, strides, dtype, lowered,
                                 winograd, request, cpu_only):
    """Winograd F(2x2, 3x3) and F(4x4, 3x3) compute Conv2D's function: values and the
    input, kernel and bias gradients, with the same weights; where neither applies it is
    Conv2D."""
    import tensorflow as tf

    if lowered:
        request.getfixturevalue("forced_winograd")
    policy = keras.DTypePolicy(dtype)
    fast = layers.WinogradConv2D(filters, 3, strides=strides, dtype=policy)
    plain = keras.layers.Conv2D(filters, 3, strides=strides, dtype=policy)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, height, width, cin)).astype("float32"))
    assert fast.algorithm(x.shape) == winograd
    assert fast.algorithm(x.shape, "GPU") == "direct"
    # F(4x4)'s transforms have larger entries: it rounds about 5x further from the sum
    tol = {"winograd_4x4": 5e-5, "winograd_2x2": 1e-5}.get(winograd, 1e-5)
    assert_computes_conv2d(fast, plain, x, rng, tol=1e-2 if dtype == "mixed_float16" else tol)
    with layers.convolutions_for(fast, "direct"):
        assert fast.algorithm(x.shape) == "direct"
    assert fast.algorithm(x.shape) == winograd
    config = fast.get_config()
    assert layers.WinogradConv2D.from_config(config).get_config() == config


def test_winograd_conv_takes_any_batch_size_in_a_functional_model(forced_winograd):
    import tensorflow as tf

    inputs = keras.Input((10, 12, 4))
    net = keras.Model(inputs, layers.WinogradConv2D(5, 3)(inputs))
    assert net.layers[-1].algorithm(inputs.shape) == "winograd_2x2"
    for batch in (1, 3):
        x = np.random.default_rng(batch).normal(size=(batch, 10, 12, 4)).astype("float32")
        expected = tf.nn.conv2d(x, net.layers[-1].kernel, 1, "VALID") + net.layers[-1].bias
        np.testing.assert_allclose(net.predict(x, verbose=0), expected, atol=1e-5)


def test_an_image_size_unknown_when_traced_gets_winograd_where_it_runs(cpu_only,
                                                                       monkeypatch):
    """With height and width unknown (translate of any size, a SavedModel of any size)
    the rule is applied when the op runs: TF's convolution for a small input, Winograd
    F(2x2, 3x3) for a larger one, F(4x4, 3x3) from 32 x 32 outputs, each bit-equal to
    that algorithm on the input padded to a multiple of 4 (they round apart)."""
    import tensorflow as tf

    monkeypatch.setattr(layers, "WINOGRAD_MIN_WORK", 20 * 20 * 128)  # F(2x2) from 20^2
    conv = layers.Conv2D(128, 3, use_bias=False)
    conv.build((None, None, None, 128))
    assert conv.algorithm((None, None, None, 128)) == "winograd_by_size"
    traced = tf.function(conv, input_signature=[tf.TensorSpec((None, None, None, 128))])
    rng = np.random.default_rng(0)
    kernel = tf.convert_to_tensor(conv.kernel)
    for size, expected in ((20, "direct"), (24, "winograd_2x2"), (37, "winograd_4x4")):
        x = tf.constant(rng.normal(size=(1, size, size, 128)).astype("float32"))
        out = size - 2
        padded = tf.pad(x, [[0, 0], [0, -out % 4], [0, -out % 4], [0, 0]])
        by_algorithm = {"direct": tf.nn.conv2d(x, kernel, 1, "VALID")} | {
            f"winograd_{t}x{t}": layers.winograd_forward(padded, kernel, t)[:, :out, :out]
            for t in (2, 4)}
        got = traced(x)
        assert {name for name, y in by_algorithm.items()
                if np.array_equal(got, y)} == {expected}, size
        np.testing.assert_allclose(got, by_algorithm["direct"], atol=1e-4)


def test_the_device_is_the_one_the_op_is_placed_on(forced_winograd):
    """A training graph takes the device its ops are placed on when traced (the device
    scope; a GPU's convolution is TF's own, which cuDNN runs); a SavedModel's graph
    ("any_device") holds both algorithms behind a DeviceIndex op, forward and backward,
    and runs the one of the device it is placed on; TFLite's ("direct") TF's only."""
    import tensorflow as tf

    conv = layers.Conv2D(8, 3)
    conv.build((1, 10, 10, 8))
    x = tf.zeros((1, 10, 10, 8))

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = conv(x)
        return tape.gradient(y, [x, conv.kernel])

    def ops_of(function, device=None):
        def on_device(x):
            with tf.device(device):
                return function(x)

        graph = tf.function(on_device).get_concrete_function(x).graph.as_graph_def()
        return ({n.op for n in graph.node} | {n.op for f in graph.library.function
                                              for n in f.node_def},
                [{n.op for n in f.node_def} for f in graph.library.function])

    ops, _ = ops_of(step, "/CPU:0")
    assert "BatchMatMulV2" in ops and "Conv2D" not in ops and "DeviceIndex" not in ops
    ops, _ = ops_of(step, "/GPU:0")  # traced only: no GPU is needed
    assert "Conv2D" in ops and "BatchMatMulV2" not in ops
    with layers.convolutions_for(conv, "any_device"):
        ops, branches = ops_of(step)
        assert "DeviceIndex" in ops
        assert sum("BatchMatMulV2" in b for b in branches) >= 2  # Winograd both ways
        assert any("Conv2D" in b for b in branches)  # TF's forward ...
        assert any("Conv2DBackpropInput" in b for b in branches)  # ... and backward
        np.testing.assert_allclose(tf.function(conv)(x + 1.0),
                                   tf.nn.conv2d(x + 1.0, conv.kernel, 1, "VALID") + conv.bias,
                                   atol=1e-5)
    with layers.convolutions_for(conv, "direct"):
        ops, _ = ops_of(step)
    assert "DeviceIndex" not in ops and "Conv2D" in ops and "BatchMatMulV2" not in ops
    assert conv.convolutions == "traced_device"  # given back
    with pytest.raises(ValueError, match="any_device"):
        with layers.convolutions_for(conv, "gpu"):
            pass


@pytest.mark.parametrize("norm", ["instance", "running_instance", "batch"])
def test_a_bias_before_instance_or_batch_norm_changes_nothing(norm):
    """conv_block leaves out the bias before these norms (the reference has one): with a
    bias, the same kernels give the same outputs and the bias a zero gradient."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 12, 12, 5)).astype("float32"))
    nets = {}
    for use_bias in (False, True):
        inputs = keras.Input((None, None, 5))
        nets[use_bias] = keras.Model(inputs, layers.conv_block(
            inputs, 6, 3, norm=norm, act=None, use_bias=use_bias))
    without, with_bias = nets[False], nets[True]
    assert len(with_bias.trainable_weights) == len(without.trainable_weights) + 1
    assert layers.conv_block(keras.Input((8, 8, 5)), 6, 3, norm=norm).shape == (None, 8, 8, 6)
    kernel = rng.normal(0, 0.2, (3, 3, 5, 6)).astype("float32")
    for net in nets.values():
        net.set_weights([kernel if w.shape == kernel.shape else np.array(w)
                         for w in net.weights])
    bias = next(w for w in with_bias.trainable_weights if "bias" in w.path)
    bias.assign(rng.normal(0, 1.0, (6,)).astype("float32"))
    with tf.GradientTape() as tape:
        y = with_bias(x, training=True)
        loss = tf.reduce_sum(y * tf.sin(y))
    np.testing.assert_allclose(y, without(x, training=True), atol=1e-4)
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, bias)))) < 1e-3
    # Without a norm to cancel it the bias stays.
    inputs = keras.Input((None, None, 5))
    plain = keras.Model(inputs, layers.conv_block(inputs, 6, 3, norm="none"))
    assert any("bias" in w.path for w in plain.weights)


def test_generators_use_the_few_filters_algorithm_for_their_output_layer():
    generator = networks.resnet_generator(3, ngf=8, n_blocks=1)
    shapes = {l.name: l.input.shape for l in generator.layers if isinstance(l, layers.Conv2D)}
    blocked = [l for l in generator.layers if isinstance(l, layers.Conv2D)
               and l.algorithm((1, 70, 70, l.input.shape[-1])) == "pixel_blocks"]
    assert [l.filters for l in blocked] == [3]  # the 7x7 output layer only
    assert blocked[0] is generator.layers[-2]
    assert shapes  # every convolution is the package's Conv2D


def test_residual_blocks_use_the_winograd_algorithm(forced_winograd):
    generator = networks.resnet_generator(3, ngf=8, n_blocks=2)
    convs = [l for l in generator.layers if isinstance(l, layers.Conv2D)]
    winograd = [l for l in convs
                if l.algorithm((1, 34, 34, l.input.shape[-1])) == "winograd_4x4"]
    assert len(winograd) == 4  # both 3x3 convolutions of each block
    assert all(l.kernel_size == (3, 3) and l.strides == (1, 1) for l in winograd)
    # TFLite's export asks the model for TF's convolutions
    with layers.convolutions_for(generator, "direct"):
        assert {l.algorithm((1, 34, 34, l.input.shape[-1])) for l in winograd} == {"direct"}


def _cycle_gradients(generator, x):
    """The gradients of a loss on ``generator(generator(x))``: two calls of each layer, as
    a cycle makes them."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(generator(generator(x, training=True), training=True))
    return tape.gradient(loss, generator.trainable_weights)


def test_winograd_passes_are_traced_once_per_shape_not_once_per_layer_call(
        forced_winograd):
    """A training step calls Winograd's forward and backward passes as functions, traced
    (and optimised by Grappler) once per input shape, instead of holding a copy of their
    ops for each layer call (they were half of CycleGAN's first step)."""
    import tensorflow as tf

    generator = networks.resnet_generator(3, ngf=8, n_blocks=2)  # 4 same-shape Winograd
    x = tf.random.uniform((1, 32, 32, 3), -1, 1)
    step = tf.function(lambda x: _cycle_gradients(generator, x))
    forced_winograd.clear()
    graph = step.get_concrete_function(x).graph
    assert len(forced_winograd) <= 1  # 8 layer calls, at most one new trace
    outer_ops = [op.type for op in graph.get_operations()]
    assert "BatchMatMulV2" not in outer_ops  # Winograd's products live in the functions
    assert sum(t.endswith("PartitionedCall") for t in outer_ops) >= 16  # 8 up, 8 back
    # ... and stay calls when the graph runs (inlined, Grappler would see every copy)
    winograd = [f for f in graph.as_graph_def().library.function
                if any(n.op == "BatchMatMulV2" for n in f.node_def)]
    assert len(winograd) >= 2 and all(f.attr["_noinline"].b for f in winograd)
    with layers.convolutions_for(generator, "direct"):
        expected = tf.function(lambda x: _cycle_gradients(generator, x))(x)
    for got, want in zip(step(x), expected):
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_dilated_residual_block_keeps_shape_and_sees_further():
    inputs = keras.Input((16, 16, 8))
    # No norm: instance norm mixes every pixel into every output.
    plain = keras.Model(inputs, layers.residual_block(inputs, dilation=1, norm="none"))
    dilated = keras.Model(inputs, layers.residual_block(inputs, dilation=2, norm="none"))
    assert dilated.output_shape == (None, 16, 16, 8)

    def reach(model):  # how far from the centre an input change moves the centre output
        x = np.zeros((1, 16, 16, 8), "float32")
        base = np.array(model(x))[0, 8, 8]
        far = 0
        for d in range(1, 8):
            x2 = x.copy()
            x2[0, 8 + d, 8] = 10.0
            if np.abs(np.array(model(x2))[0, 8, 8] - base).max() > 1e-6:
                far = d
        return far

    assert reach(plain) == 2 and reach(dilated) == 4


@pytest.mark.parametrize("n_blocks", [6, 9])
def test_resnet_generator_shape_range_and_init(n_blocks):
    g = networks.resnet_generator(ngf=8, n_blocks=n_blocks)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 48, 3)).astype("float32")
    y = np.array(g(x))
    assert y.shape == (2, 32, 48, 3)
    assert y.min() >= -1 and y.max() <= 1
    kernels = [w for w in g.weights if "kernel" in w.path]
    stds = [np.array(k).std() for k in kernels]
    assert all(0.015 < s < 0.025 for s in stds if np.array(kernels[0]).size > 1000)
    n_convs = sum(isinstance(l, keras.layers.Conv2D) for l in g.layers)
    assert n_convs == 1 + 2 + 2 * n_blocks + 1


def test_patch_discriminator_sees_70x70_patches():
    d = networks.patch_discriminator(ndf=8, n_layers=3, norm="none")  # norm is global
    x = keras.Variable(np.zeros((1, 128, 128, 3), "float32"))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = d(x)
        centre = out[0, out.shape[1] // 2, out.shape[2] // 2, 0]
    grad = np.abs(np.array(tape.gradient(centre, x)))[0].sum(-1)
    rows = np.nonzero(grad.sum(1))[0]
    cols = np.nonzero(grad.sum(0))[0]
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70
    assert np.array(d(np.zeros((1, 256, 256, 3), "float32"))).shape == (1, 30, 30, 1)


def test_the_algorithm_is_one_function_of_layer_shape_dtype_and_device(forced_winograd):
    conv = layers.Conv2D(8, 3)
    shape = (1, 34, 34, 8)
    conv.build(shape)
    assert conv.algorithm(shape) == conv.algorithm(shape, "CPU") == "winograd_4x4"
    assert conv.algorithm(shape, "GPU") == "direct"  # cuDNN chooses on a GPU
    half = layers.Conv2D(8, 3, dtype="mixed_bfloat16")
    assert half.algorithm(shape) == "direct"  # Winograd is measured faster in float32
