import numpy as np
import keras
import pytest
import tensorflow as tf

import keras_attngan as kag
from conftest import model_factory, scaled, snapshot
from keras_attngan.models.dagan import region_masks

TINY_DAGAN = dict(image_size=32, nf=8, ngf=8, ndf=8, n_regions=3, n_blocks=1)


dagan = model_factory("dagan", TINY_DAGAN)


def test_masks_are_boxes_for_large_k_and_differentiable(dagan, demo_arrays):
    centres = tf.constant([[[0.5, 0.25]]])
    mask = np.array(region_masks(centres, 32, 32, 0.25, steepness=1e4))[0, ..., 0]
    ys, xs = np.mgrid[0:32, 0:32]
    centre_x, centre_y = (xs + 0.5) / 32, (ys + 0.5) / 32
    box = (np.abs(centre_x - 0.5) < 0.25) & (np.abs(centre_y - 0.25) < 0.25)
    assert np.abs(mask - box).max() < 1e-3
    model = dagan()
    x = scaled(demo_arrays[0][:2])
    with tf.GradientTape() as tape:
        _, masks = model.attend(x, training=True)
        total = tf.reduce_sum(masks * tf.constant(np.random.default_rng(0).normal(
            size=masks.shape).astype("float32")))
    grads = tape.gradient(total, model.localisation.trainable_variables)
    assert all(g is not None for g in grads)
    assert max(float(tf.reduce_max(tf.abs(g))) for g in grads) > 0  # gradients reach f_loc
    centres = np.array(model.attend(x)[0])
    assert centres.min() >= 0 and centres.max() <= 1  # centres stay inside the image


def test_dae_has_n_instances_and_ablations_change_the_losses(dagan, demo_arrays):
    model = dagan(n_regions=5)
    instances, masks = model.dae(scaled(demo_arrays[0][:2]))
    assert instances.shape[:2] == (2, 5) and masks.shape == (2, 32, 32, 5)
    assert model.loss_names == ("d1", "g_s", "d2", "g_t", "cst", "sym")
    plain = dagan(use_d2=False, consistency_loss=False, symmetry_loss=False, use_dae=False)
    assert plain.loss_names == ("d1", "g_s")
    assert plain.dae(scaled(demo_arrays[0][:2]))[0].shape[1] == 1
    a, b = demo_arrays
    logs = plain.train_step((scaled(a[:2]), scaled(b[:2])))
    assert set(logs) == {"d1", "g_s"}
    labelled = dagan(n_classes=2)
    assert "cls" in labelled.train_step((scaled(a[:2]), scaled(b[:2]),
                                         tf.constant([0, 1], tf.int64)))
    with pytest.raises(ValueError, match="labels_a"):
        labelled.train_step((scaled(a[:2]), scaled(b[:2])))


def one_step(make, batch, **hparams):
    """A DA-GAN built from seed 0 with ``hparams``, and each network's trainable weights
    after one train_step (None: before it); batch norm's moving statistics are left out:
    the forward pass of a term weighted 0 still moves them."""
    keras.utils.set_random_seed(0)
    model = make(**hparams)
    if batch is not None:
        model.train_step(batch)
    nets = ("encoder", "localisation", "generator", "discriminator_1", "discriminator_2")
    return {net: snapshot(getattr(model, net).trainable_weights) for net in nets}


def assert_same(x, y, what):
    for net in x:
        for i, (u, v) in enumerate(zip(x[net], y[net])):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6, err_msg=f"{what}: {net}[{i}]")


def differs(x, y, net):
    return any(not np.allclose(u, v) for u, v in zip(x[net], y[net]))


def test_ablations_change_the_update_itself(dagan, demo_arrays):
    a, b = demo_arrays
    batch = (scaled(a[:2]), scaled(b[:2]))
    full = one_step(dagan, batch)
    for switch, weight in (("consistency_loss", "alpha"), ("symmetry_loss", "beta")):
        off = one_step(dagan, batch, **{switch: False})
        # the term switched off is the term weighted 0 ...
        assert_same(off, one_step(dagan, batch, **{weight: 0.0}), f"{switch}=False")
        # ... and it was part of the full step
        assert differs(off, full, "encoder") and differs(off, full, "generator")
    # D2 untouched when off, trained when on
    without_d2 = one_step(dagan, batch, use_d2=False)
    untrained = one_step(dagan, None, use_d2=False)
    assert not differs(without_d2, untrained, "discriminator_2")
    assert differs(full, untrained, "discriminator_2")


def test_translate_regions_and_save_load(dagan, demo_arrays, tmp_path):
    model = dagan()
    x = scaled(demo_arrays[0][:2])
    model.train_step((x, scaled(demo_arrays[1][:2])))
    out = model.translate(x, return_regions=True)
    assert out["image"].shape == x.shape and out["mask"].shape == (2, 32, 32, 1)
    assert out["centres"].shape == (2, 3, 2) and out["boxes"].shape == (2, 3, 4)
    assert 0 <= out["mask"].min() and out["mask"].max() <= 1
    model.save(str(tmp_path / "dagan.keras"))
    loaded = kag.models.load(str(tmp_path / "dagan.keras"))
    again = loaded.translate(x, return_regions=True)
    for key in out:
        assert np.array_equal(out[key], again[key]), key
    assert list(model.sample_rows(x, x)[0]) == ["input with regions", "translation"]


def test_labels_travel_with_their_images_through_the_pipeline(demo_arrays):
    a, b = demo_arrays
    labels = np.arange(len(a))
    ds = kag.data.unpaired(a, b, image_size=32, augment=False, batch_size=4, seed=1,
                           labels_a=labels)
    reference = {a_image.tobytes(): i for i, a_image in
                 enumerate(scaled(a).astype("float32"))}
    for images, _, batch_labels in ds:
        for image, label in zip(images.numpy(), batch_labels.numpy()):
            nearest = min(reference, key=lambda k: np.abs(
                np.frombuffer(k, np.float32) - image.ravel()).sum())
            assert reference[nearest] == label
    with pytest.raises(kag.data.DataError, match="labels_a"):
        kag.data.unpaired(a, b, labels_a=labels[:3])


def object_coverage(boxes, masks):
    """Mean fraction of each object's area inside the union of its image's boxes
    ((y_min, x_min, y_max, x_max) in [0, 1])."""
    size = masks.shape[1]
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    fractions = []
    for image_boxes, mask in zip(boxes, masks):
        inside = np.zeros(mask.shape, bool)
        for y0, x0, y1, x1 in image_boxes:
            inside |= (yy >= y0) & (yy <= y1) & (xx >= x0) & (xx <= x1)
        fractions.append((mask * inside).sum() / mask.sum())
    return float(np.mean(fractions))


@pytest.mark.slow
def test_attended_regions_cover_the_object_more_often_than_chance():
    # The objects come in two shades and the shade is the label (Sec. 3.1's geometric
    # regularisation): only a region on the object can tell the classes apart.
    keras.utils.set_random_seed(0)
    a, labels = kag.data.builtin.make_domain("a", 64, 32, seed=0, varieties=2,
                                             return_labels=True)
    b = kag.data.builtin.make_domain("b", 64, 32, seed=0)
    test_a, masks = kag.data.builtin.make_domain("a", 64, 32, seed=5, varieties=2,
                                                 return_masks=True)
    ds = kag.data.unpaired(a, b, image_size=32, load_size=36, batch_size=8, seed=0,
                           labels_a=labels)
    model = kag.models.build("dagan", image_size=32, nf=16, ngf=16, ndf=16, n_regions=2,
                             n_blocks=1, region_size=0.15, n_classes=2)
    model.compile(learning_rate=1e-3)

    def covered_and_chance():
        out = model.translate(test_a, return_regions=True)
        # chance: the same boxes at one fixed place for every image, the mean centre
        # (stricter than a random place, since the demo's discs are often central)
        fixed = np.broadcast_to(out["boxes"].mean(axis=0), out["boxes"].shape)
        return object_coverage(out["boxes"], masks), object_coverage(fixed, masks)

    covered, chance = covered_and_chance()
    assert covered < chance * 1.05  # untrained: it is learned, not built in
    model.fit(ds, epochs=4, verbose=0)
    covered, chance = covered_and_chance()
    # seeds 0-4 give 0.46-0.58 against 0.29-0.33
    assert covered > 1.3 * chance, (covered, chance)


def test_trains_from_the_command_line_with_class_folders_when_it_classifies(tmp_path):
    # --set n_classes=N turns on Sec. 3.1's classifier: the CLI then reads the labels
    # from A's class sub-folders, as for unit_da (it used to train without them and fail)
    from conftest import write_images
    from keras_attngan import cli

    assert not kag.models.get_class("dagan").trains_with_source_labels({})
    assert kag.models.get_class("dagan").trains_with_source_labels({"n_classes": 3})
    glyphs, labels = kag.data.builtin.make_glyphs(12, 32, 3, seed=0)
    for k in range(3):
        write_images(str(tmp_path / "A" / str(k)), glyphs[labels == k])
    write_images(str(tmp_path / "B"), kag.data.builtin.make_glyphs(8, 32, 3, seed=1,
                                                                   invert=True)[0])
    result = cli.main(["train", "--model", "dagan", "--data-a", str(tmp_path / "A"),
                       "--data-b", str(tmp_path / "B"), "--image-size", "32",
                       "--batch-size", "4", "--epochs", "1", "--verbose", "0",
                       "--set", "n_classes=3", "--set", "nf=8", "--set", "ngf=8",
                       "--set", "ndf=8", "--set", "n_blocks=1", "--out", str(tmp_path / "run")])
    assert len(result["history"]["cls"]) == 1
