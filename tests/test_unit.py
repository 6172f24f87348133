import numpy as np
import keras
import pytest

import keras_attngan as kag
from conftest import model_factory, pair

TINY_UNIT = dict(image_size=32, ngf=8, ndf=8, n_blocks=2)


unit = model_factory("unit", TINY_UNIT)


def test_paper_defaults():
    model = kag.models.build("unit")
    assert (model.n_blocks, model.n_shared, model.n_layers_d) == (4, 1, 5)
    assert (model.lambda_gan, model.lambda_kl, model.lambda_recon, model.lambda_cycle_kl,
            model.lambda_cycle) == (10, 0.1, 100, 0.1, 100)
    assert model.activation == "leaky_relu" and model.pool_size == 0
    model.compile()
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(1e-4)
    assert float(model.generator_optimizer.beta_1) == 0.5
    convs = [l for l in model.discriminator_1.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 5


def test_shared_layers_are_shared_and_updated_once(unit, demo_arrays):
    model = unit(n_shared=1)
    shared = {id(v) for v in model.shared_encoder.trainable_variables}
    shared |= {id(v) for v in model.shared_decoder.trainable_variables}
    assert shared
    own_1 = {id(v) for v in model.encoder_front_1.trainable_variables}
    own_2 = {id(v) for v in model.encoder_front_2.trainable_variables}
    assert own_1 and own_2 and not own_1 & own_2  # not shared: distinct
    ids = [id(v) for v in model.generator_variables]
    assert len(ids) == len(set(ids)) and shared <= set(ids)  # each variable once
    # both domains' codes go through the same shared layer: changing its weights
    # changes both encoders' outputs
    x1, x2 = pair(demo_arrays)
    before = np.array(model.encode(x1, "a")), np.array(model.encode(x2, "b"))
    kernel = model.shared_encoder.trainable_variables[0]
    kernel.assign(kernel * 2.0)
    after = np.array(model.encode(x1, "a")), np.array(model.encode(x2, "b"))
    assert not np.allclose(before[0], after[0]) and not np.allclose(before[1], after[1])
    values = [np.array(v) for v in model.shared_encoder.trainable_variables]
    model.train_step((x1, x2))
    assert int(model.generator_optimizer.iterations.numpy()) == 1
    assert any(not np.array_equal(v, np.array(w)) for v, w in
               zip(values, model.shared_encoder.trainable_variables))
    # more shared layers, fewer own ones; n_shared=0 shares nothing
    deeper = unit(n_shared=2)
    assert len(deeper.shared_encoder.trainable_variables) == 2 * len(
        model.shared_encoder.trainable_variables)
    assert unit(n_shared=0).shared_encoder.trainable_variables == []


def test_reconstruction_improves_with_training(unit, demo_arrays):
    a, b = demo_arrays
    x = (a[:8] / 127.5 - 1).astype("float32")
    model = kag.models.build("unit", **TINY_UNIT)
    model.compile(learning_rate=1e-3)  # a short run

    def reconstruction_error():  # eta = 0: z = mu
        return float(np.abs(np.array(model.decode(model.encode(x, "a"), "a")) - x).mean())

    before = reconstruction_error()
    ds = kag.data.unpaired(a, b, image_size=32, augment=False, batch_size=4, seed=0)
    model.fit(ds, epochs=5, verbose=0)
    # (0.27 -> 0.21 here: z = mu + N(0, I) noise in training keeps it from being faster)
    assert reconstruction_error() < 0.85 * before


def test_translation_shapes_ranges_and_save_load(unit, demo_arrays, tmp_path):
    model = unit()
    model.train_step(pair(demo_arrays))
    x = pair(demo_arrays)[0]
    for direction in ("a2b", "b2a"):
        out = model.translate(x, direction)
        assert set(out) == {"image"} and out["image"].shape == x.shape
        assert -1 <= out["image"].min() and out["image"].max() <= 1
        # inference uses z = mu: no sampling noise
        assert np.array_equal(out["image"], model.translate(x, direction)["image"])
    # a2b is E1 then G2, b2a E2 then G1: not the other direction, not a reconstruction
    for direction, source, target in (("a2b", "a", "b"), ("b2a", "b", "a")):
        z = model.encode(x, source)
        expected = np.array(model.decode(z, target))
        np.testing.assert_allclose(model.translate(x, direction)["image"], expected,
                                   atol=1e-5)
        assert np.abs(expected - np.array(model.decode(z, source))).max() > 1e-3
    z = model.encode(x, "b")
    assert z.shape == (2, 8, 8, 32)
    assert model.decode(z, 1).shape == x.shape
    with pytest.raises(ValueError, match="domain"):
        model.encode(x, "c")
    model.save(str(tmp_path / "unit.keras"))
    loaded = kag.models.load(str(tmp_path / "unit.keras"))
    for direction in ("a2b", "b2a"):
        assert np.array_equal(loaded.translate(x, direction)["image"],
                              model.translate(x, direction)["image"])
    # the loaded model still shares: one shared stack serving both encoders
    assert loaded.shared_encoder.trainable_variables


def test_pixel_accuracy_metric():
    target = np.zeros((1, 4, 4, 3), np.uint8)
    predicted = target.copy()
    predicted[0, 0, 0] = (16, 0, 0)  # within tolerance
    predicted[0, 0, 1] = (0, 17, 0)  # not
    assert kag.metrics.pixel_accuracy(predicted, target) == pytest.approx(15 / 16)
    assert kag.metrics.pixel_accuracy(np.zeros((1, 2, 2, 3), "float32") - 1,
                                      np.zeros((1, 2, 2, 3), np.uint8)) == 1.0


def test_domain_adaptation_accuracy_learns_a_separable_task():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    images = np.zeros((200, 32, 32, 3), np.uint8)
    images[labels == 1, :16] = 255  # class 1: bright top half
    images += rng.integers(0, 40, images.shape).astype(np.uint8)
    accuracy = kag.metrics.domain_adaptation_accuracy(images[:150], labels[:150],
                                                      images[150:], labels[150:],
                                                      epochs=3, n_classes=2)
    assert accuracy > 0.9
