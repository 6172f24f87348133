import numpy as np
import keras
import pytest
import tensorflow as tf

import keras_attngan as kag
from conftest import TINY, background_change, pair


def test_paper_defaults():
    model = kag.models.build("cyclegan")
    assert (model.image_size, model.ngf, model.ndf, model.n_blocks, model.n_layers_d) == (
        256, 64, 64, 9, 3)
    assert (model.lambda_cycle, model.lambda_identity, model.pool_size) == (10.0, 0.5, 50)
    assert model.gan_mode == "lsgan"
    model.compile()
    opt = model.generator_optimizer
    assert float(opt.learning_rate) == pytest.approx(2e-4)
    assert float(opt.beta_1) == 0.5
    assert (model.paper_epochs, model.paper_decay_start) == (200, 100)
    # The reference prints 11,378,179 parameters for G (resnet_9blocks) and 2,764,737 for
    # D; here the convolutions before instance norm have no bias (the norm cancels it):
    # G's 64 + 128 + 256 + 18 * 256 + 128 + 64 and D's 128 + 256 + 512 fewer.
    assert model.generator_a2b.count_params() == 11_378_179 - 5_248
    assert model.discriminator_a.count_params() == 2_764_737 - 896


def test_train_step_updates_both_players_and_reports_losses(tiny_cyclegan, demo_arrays):
    model = tiny_cyclegan()
    before_g = np.array(model.generator_a2b.weights[0])
    before_d = np.array(model.discriminator_b.weights[0])
    logs = model.train_step(pair(demo_arrays))
    assert set(logs) == set(model.loss_names)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert not np.allclose(before_g, model.generator_a2b.weights[0])
    assert not np.allclose(before_d, model.discriminator_b.weights[0])
    assert int(model.generator_optimizer.iterations) == 1


def test_losses_fall_and_model_learns_the_demo_colour_change(cyclegan_baseline, demo_task):
    model, history = cyclegan_baseline
    assert history["cycle_a"][-1] < 0.7 * history["cycle_a"][0]
    _, _, test_a, masks = demo_task
    out = (model.translate(test_a)["image"] + 1) * 127.5
    disc = np.array([out[..., c][masks > 0.9].mean() for c in range(3)])
    to_a = np.linalg.norm(disc - kag.data.builtin.OBJECT_COLORS["a"])
    to_b = np.linalg.norm(disc - kag.data.builtin.OBJECT_COLORS["b"])
    assert to_b < 0.5 * to_a, disc  # the red discs turned blue
    assert background_change(model, demo_task) < 35  # ... and the rest roughly stayed


def test_save_and_load_restore_outputs_and_optimizer_state(tiny_cyclegan, demo_arrays,
                                                           tmp_path):
    model = tiny_cyclegan(lambda_identity=0.0)
    model.train_step(pair(demo_arrays))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = kag.models.load(path)
    assert isinstance(loaded, kag.models.CycleGAN)
    assert loaded.get_config() == model.get_config()
    x = pair(demo_arrays)[0]
    for direction in ("a2b", "b2a"):
        assert np.array_equal(loaded.translate(x, direction)["image"],
                              model.translate(x, direction)["image"])
    for mine, theirs in zip(model.generator_optimizer.variables,
                            loaded.generator_optimizer.variables):
        assert np.array_equal(np.array(mine), np.array(theirs)), mine.path
    assert int(loaded.discriminator_optimizer.iterations) == 1
    # training goes on from the loaded state
    loaded.train_step(pair(demo_arrays))
    assert int(loaded.generator_optimizer.iterations) == 2


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file"):
        kag.models.load(str(tmp_path / "nope.keras"))
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.save(str(tmp_path / "plain.keras"))
    with pytest.raises(ValueError, match="not a keras_attngan model"):
        kag.models.load(str(tmp_path / "plain.keras"))
    with pytest.raises(ValueError, match="Unknown model 'cyclegun'"):
        kag.models.build("cyclegun")


def test_translate_takes_uint8_any_size_and_rejects_bad_input(tiny_cyclegan, demo_arrays):
    model = tiny_cyclegan()
    a, _ = demo_arrays
    out = model.translate(a[:3, :30, :27])  # 30x27 is not a multiple of 4: padded, cropped
    assert set(out) == {"image"}  # CycleGAN has no attention mask
    assert out["image"].shape == (3, 30, 27, 3) and out["image"].dtype == np.float32
    assert -1 <= out["image"].min() and out["image"].max() <= 1
    single = model.translate(a[0, :30, :27], direction="b2a")["image"]
    assert single.shape == (30, 27, 3)
    # the crop keeps the top-left of the padded translation
    padded = np.pad(a[:1, :30, :27].astype("float32") / 127.5 - 1,
                    [(0, 0), (0, 2), (0, 1), (0, 0)], mode="symmetric")
    full = np.array(model.generator_a2b(padded))
    assert np.allclose(out["image"][0], full[0, :30, :27], atol=1e-5)
    assert np.allclose(model(padded), full, atol=1e-6)  # call() is a2b
    with pytest.raises(ValueError, match="channels"):
        model.translate(np.zeros((1, 8, 8, 5), np.uint8))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        model.translate(np.full((1, 8, 8, 3), 200.0, np.float32))
    with pytest.raises(ValueError, match="direction"):
        model.translate(a[:1], direction="c2d")


def test_translate_runs_a_graph_that_follows_the_weights(tiny_cyclegan, demo_arrays):
    """translate() runs _translate as a graph (less memory, faster than eager): the same
    outputs, traces bounded over many image sizes, and new weights used at once."""
    model = tiny_cyclegan()
    a, _ = demo_arrays
    x = a[:2].astype("float32") / 127.5 - 1
    eager = model._translate(tf.constant(x), "a2b")["image"]
    assert np.allclose(model.translate(x)["image"], eager, atol=1e-5)
    for size in (28, 24, 20, 16):
        assert model.translate(a[:1, :size, :size])["image"].shape == (1, size, size, 3)
    function = model._translation_function("a2b", {})
    assert function.experimental_get_tracing_count() <= 3  # then traced for any shape
    kernel = model.generator_a2b.trainable_weights[0]
    kernel.assign(kernel * 0.5)
    assert not np.allclose(model.translate(x)["image"], eager, atol=1e-3)
    assert np.allclose(model.translate(x)["image"],
                       model._translate(tf.constant(x), "a2b")["image"], atol=1e-5)


def test_wrong_image_size_in_training_fails_clearly(tiny_cyclegan, demo_arrays):
    model = tiny_cyclegan()
    a, b = pair(demo_arrays, size=24)
    with pytest.raises(ValueError, match="built for"):
        model.fit(tf.data.Dataset.from_tensors((a, b)), verbose=0)
    with pytest.raises(ValueError, match="multiple of 4"):
        kag.models.build("cyclegan", image_size=30)


def test_a_rate_that_cannot_train_is_refused_at_compile():
    model = kag.models.build("cyclegan", **TINY)
    with pytest.raises(ValueError, match=r"learning_rate must be above 0; got 0\.0\. The "
                                         r"paper's rate for CycleGAN is 0\.0002"):
        model.compile(learning_rate=0.0)
    with pytest.raises(ValueError, match=r"learning_rates\['discriminator'\] .* got -0\.001"):
        model.compile(learning_rates={"discriminator": np.float32(-1e-3)})
    model.compile(learning_rate=1e-4)  # and a positive one is taken
    assert model.base_learning_rates["generator"] == pytest.approx(1e-4)


def test_mixed_precision_step_uses_loss_scaling(demo_arrays):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = kag.models.build("cyclegan", **TINY)
        model.compile()
        assert isinstance(model.generator_optimizer, keras.optimizers.LossScaleOptimizer)
        logs = model.train_step(pair(demo_arrays))
        assert all(np.isfinite(float(v)) for v in logs.values())
        assert model.generator_a2b.weights[0].dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
