import glob
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_attngan as kag
from keras_attngan.training.callbacks import SampleGrid


def reference_rule(epoch, n_epochs, n_epochs_decay):
    # the CycleGAN reference's lambda_rule with epoch_count = 1
    return 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)


def test_linear_decay_matches_the_reference_and_sets_both_optimizers(tiny_cyclegan):
    model = tiny_cyclegan()
    model.start_schedule(200)
    for epoch in (0, 50, 99, 100, 150, 199):
        assert model.learning_rate_factor(epoch) == pytest.approx(
            reference_rule(epoch, 100, 100))
    model.apply_schedule(150)
    expected = 2e-4 * reference_rule(150, 100, 100)
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(expected)
    assert float(model.discriminator_optimizer.learning_rate) == pytest.approx(expected)
    assert model.schedule_logs()["learning_rate"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="decay_start=11 is never reached"):
        tiny_cyclegan(decay_start=11).start_schedule(10)


def test_sample_grid_png_and_tensorboard_images(tiny_cyclegan, demo_arrays, tmp_path):
    model = tiny_cyclegan()
    a, b = demo_arrays
    grid = SampleGrid(a[:2] / 127.5 - 1, b[:2] / 127.5 - 1, str(tmp_path / "png"),
                      str(tmp_path / "logs"))
    grid.set_model(model)
    grid.on_epoch_end(0)
    grid.on_train_end()
    picture = tf.io.decode_png(tf.io.read_file(grid.last_path)).numpy()
    # 2 directions x 2 samples, columns input | translation | reconstruction
    assert picture.shape == (4 * 32, 3 * 32, 3)
    assert np.array_equal(picture[:32, :32], a[0])  # the input column is the input
    events = glob.glob(str(tmp_path / "logs" / "images" / "events.*"))
    assert events
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(events[0])
            for v in e.summary.value}
    assert "samples" in tags


def test_default_callbacks_log_scalars_and_checkpoint(tiny_cyclegan, demo_arrays, tmp_path):
    model = tiny_cyclegan()
    a, b = demo_arrays
    ds = kag.data.unpaired(a[:4], b[:4], image_size=32, load_size=36, batch_size=2, seed=0)
    callbacks = kag.callbacks.default(model, str(tmp_path), samples=ds)
    history = model.fit(ds, epochs=2, callbacks=callbacks, verbose=0).history
    assert history["learning_rate"] == pytest.approx([2e-4, 1e-4])
    assert (tmp_path / "samples" / "epoch_0002.png").exists()
    assert (tmp_path / "backup").is_dir()
    assert kag.models.load(str(tmp_path / "model.keras")).image_size == 32
    events = glob.glob(str(tmp_path / "train" / "events.*"))
    tags = {v.tag for e in tf.compat.v1.train.summary_iterator(events[0])
            for v in e.summary.value}
    assert {"epoch_cycle_a", "epoch_d_b", "epoch_learning_rate"} <= tags


class _Killed(Exception):
    pass


def _fit_until_killed(model, ds, out, epochs, kill_after_epoch):
    """fit with the default callbacks, 'killed' (an exception, so no on_train_end, as
    with SIGKILL) right after the backup of epoch ``kill_after_epoch`` was committed."""
    import keras

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == kill_after_epoch:
                raise _Killed()

    callbacks = kag.callbacks.default(model, out, samples=ds, checkpoint=False)
    backup_at = next(i for i, c in enumerate(callbacks) if type(c).__name__ == "RunBackup")
    callbacks.insert(backup_at + 1, Kill())
    with pytest.raises(_Killed):
        model.fit(ds, epochs=epochs, callbacks=callbacks, verbose=0)


def _steps(directory, tag):
    from keras_attngan.training.callbacks import logged_steps

    return logged_steps(directory, tag)


def test_scalars_and_grids_of_a_backed_up_epoch_are_logged_once_after_a_kill(
        tiny_cyclegan, demo_arrays, tmp_path):
    """A kill between the backup's commit and the TensorBoard write (the window that lost
    an epoch's scalars before) and a kill after the write but before the pending file's
    removal: every epoch is logged exactly once."""
    a, b = demo_arrays
    ds = kag.data.unpaired(a[:4], b[:4], image_size=32, load_size=32, batch_size=2,
                           augment=False, seed=0)
    out = str(tmp_path)
    killed = tiny_cyclegan()
    _fit_until_killed(killed, ds, out, epochs=3, kill_after_epoch=1)
    # the backup restores the image pools as they were (with weights and optimisers)
    from keras_attngan.training.callbacks import RunBackup

    fresh = tiny_cyclegan()
    restore = RunBackup(str(tmp_path / "backup"))
    restore.set_model(fresh)
    restore.on_train_begin()
    for name, pool in killed.pools().items():
        saved, restored = pool.get_state(), fresh.pools()[name].get_state()
        assert int(saved["count"]) > 0 and int(restored["count"]) == int(saved["count"])
        assert np.abs(saved["images"]).max() > 0, name  # a history, not an empty pool
        assert np.array_equal(saved["images"], restored["images"]), name
    assert int(fresh.generator_optimizer.iterations) == 4
    # epoch 1 is backed up; its scalars and grid are pending, not yet logged
    assert _steps(str(tmp_path / "train"), "epoch_") == {0}
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_0001.png", "epoch_0002.png.pending"]
    # a leftover for an epoch logged already (killed after its write) is not logged again
    import json
    (tmp_path / "train" / ".epoch_000000.json.pending").write_text(
        json.dumps({"epoch": 0, "scalars": {"learning_rate": 1.0}}))

    model = tiny_cyclegan()
    model.fit(ds, epochs=3, callbacks=kag.callbacks.default(model, out, samples=ds,
                                                            checkpoint=False), verbose=0)
    import glob
    found = []
    for path in sorted(glob.glob(str(tmp_path / "train" / "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            found += [event.step for v in event.summary.value if v.tag == "epoch_learning_rate"]
    assert sorted(found) == [0, 1, 2]
    images = []
    for path in sorted(glob.glob(str(tmp_path / "images" / "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            images += [event.step for v in event.summary.value if v.tag == "samples"]
    assert sorted(images) == [0, 1, 2]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_0001.png", "epoch_0002.png", "epoch_0003.png"]
    assert not [p for p in (tmp_path / "train").iterdir() if p.name.endswith(".pending")]


def test_pending_scalars_are_published_once_and_only_for_backed_up_epochs(tmp_path):
    import json

    from keras_attngan.training.callbacks import logged_steps, publish_pending_scalars

    scalars = tmp_path / "train"
    scalars.mkdir()
    writer = tf.summary.create_file_writer(str(scalars))
    with writer.as_default():  # epoch 0 was written before the kill
        tf.summary.scalar("epoch_loss", 1.0, step=0)
    writer.close()
    for epoch in (0, 1, 2):  # 0: written already, 1: backed up, 2: being redone
        (scalars / f".epoch_{epoch:06d}.json.pending").write_text(
            json.dumps({"epoch": epoch, "scalars": {"loss": float(epoch)}}))
    publish_pending_scalars(str(tmp_path), backed_up_epochs=2)
    steps = []
    for path in sorted(glob.glob(str(scalars / "events.*"))):
        steps += [e.step for e in tf.compat.v1.train.summary_iterator(path)
                  for v in e.summary.value if v.tag == "epoch_loss"]
    assert sorted(steps) == [0, 1] and logged_steps(str(scalars), "epoch_") == {0, 1}
    assert not list(scalars.glob("*.pending"))


def test_pending_grids_are_logged_once_and_renamed_only_for_backed_up_epochs(tmp_path):
    from keras_attngan.training.callbacks import logged_steps, publish_pending_grids

    png_dir, grid = tmp_path / "samples", np.zeros((4, 4, 3), np.uint8)
    png_dir.mkdir()
    writer = tf.summary.create_file_writer(str(tmp_path / "images"))
    with writer.as_default():  # epoch index 0 was logged before the kill
        tf.summary.image("samples", grid[None], step=0)
    writer.close()
    for number in (1, 2, 3):  # files count from 1: epochs 0 (logged), 1, 2 (redone)
        tf.io.write_file(str(png_dir / f"epoch_{number:04d}.png.pending"),
                         tf.io.encode_png(grid))
    last = publish_pending_grids(str(png_dir), str(tmp_path), backed_up_epochs=2)
    assert last == str(png_dir / "epoch_0002.png")
    assert sorted(p.name for p in png_dir.iterdir()) == ["epoch_0001.png", "epoch_0002.png"]
    steps = []
    for path in sorted(glob.glob(str(tmp_path / "images" / "events.*"))):
        steps += [e.step for e in tf.compat.v1.train.summary_iterator(path)
                  for v in e.summary.value if v.tag == "samples"]
    assert sorted(steps) == [0, 1] and logged_steps(str(tmp_path / "images"), "samples") \
        == {0, 1}


def test_default_callbacks_stop_a_run_whose_loss_turned_nan(tiny_cyclegan, demo_arrays,
                                                          tmp_path):
    """callbacks.default() holds TerminateOnNaN: a run whose losses are NaN stops after
    its first step instead of training 3 epochs on NaN weights (Keras' own callback
    of that name watches a "loss" these models do not log, and let it run)."""
    a, b = demo_arrays
    model = tiny_cyclegan()
    data = kag.data.unpaired(a, b, image_size=32, load_size=32, batch_size=2,
                             augment=False)
    weight = model.generator_a2b.trainable_variables[0]
    weight.assign(np.full(weight.shape, np.nan, np.float32))
    model.fit(data, epochs=3, verbose=0, callbacks=kag.callbacks.default(model, str(tmp_path)))
    assert int(model.generator_optimizer.iterations.numpy()) == 1
    # and no backup of the broken state was written
    assert not os.path.exists(os.path.join(tmp_path, "backup", "latest.json"))
