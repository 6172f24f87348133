"""keras_attngan.training.run: a training run from Python, with the guarantees the CLI
gives (run.json, refusals that name the option, resume from the last backup), and the
old import paths of moved modules."""

import importlib
import json
import os

import numpy as np
import pytest

import keras_attngan as kag
from keras_attngan.training import run


SMALL = dict(image_size=32, batch_size=2, verbose=0,
             hparams={"ngf": 4, "ndf": 4, "n_blocks": 1})


def test_a_run_from_python_starts_refuses_and_resumes(tmp_path, small_sets):
    folders = small_sets
    out = str(tmp_path / "run")
    with pytest.raises(run.RunError, match="--epochs must be at least 1"):
        run.train(out, "cyclegan", *folders, epochs=0, **SMALL)
    assert not os.path.exists(out)

    first = run.train(out, "cyclegan", *folders, epochs=1, seed=0, **SMALL)
    config = json.load(open(os.path.join(out, run.RUN_CONFIG)))
    assert config["model"] == "cyclegan" and config["epochs"] == 1
    assert config["data_a"] == os.path.abspath(folders[0])
    assert os.path.isfile(first["model_path"])
    assert len(first["history"]["g_a2b"]) == 1

    # a folder that holds a run is never started over
    with pytest.raises(run.RunError, match="already holds a training run.*--resume"):
        run.train(out, "cyclegan", *folders, epochs=2, **SMALL)
    # resuming with other options is refused, naming what differs
    with pytest.raises(run.RunError, match="lr: None there, 0.001 now"):
        run.train(out, "cyclegan", *folders, epochs=2, resume=True, learning_rate=1e-3,
                  **SMALL)
    before = first["model"].generator_a2b.get_weights()
    second = run.train(out, "cyclegan", *folders, epochs=2, resume=True, seed=0, **SMALL)
    # the second epoch continued from the first: one more epoch of history, and its
    # weights started from the backup (not from a fresh initialisation)
    assert len(second["history"]["g_a2b"]) == 1
    latest = json.load(open(os.path.join(out, "backup", "latest.json")))
    assert latest["epoch"] == 2
    # the backup says which layout its weights are in, and who wrote them
    meta = json.load(open(os.path.join(out, "backup", latest["state"], "meta.json")))
    assert meta["format_version"] == kag.models.formats.FORMAT_VERSION
    assert meta["package_version"] == kag.__version__
    after = second["model"].generator_a2b.get_weights()
    fresh = kag.models.build("cyclegan", image_size=32, ngf=4, ndf=4, n_blocks=1)
    distance_to_trained = np.mean([np.abs(a - b).mean() for a, b in zip(after, before)])
    distance_to_fresh = np.mean([np.abs(a - b).mean()
                                 for a, b in zip(after, fresh.generator_a2b.get_weights())])
    assert distance_to_trained < distance_to_fresh
    # a run that has trained its epochs says so and trains nothing
    done = run.train(out, "cyclegan", *folders, epochs=2, resume=True, **SMALL)
    assert done["model"] is None


def test_moved_modules_keep_their_old_import_paths():
    pairs = [("keras_attngan.bench", "keras_attngan.benchmarks.speed"),
             ("keras_attngan.quality", "keras_attngan.benchmarks.quality"),
             ("keras_attngan.data.tasks", "keras_attngan.benchmarks.tasks")]
    for old, new in pairs:
        assert importlib.import_module(old) is importlib.import_module(new), old
    from keras_attngan.models.base import (  # noqa: F401
        EpochSchedule, ImagePool, MaskCollapseWarning, Milestone, ScheduleWarning,
    )
    from keras_attngan.models import schedule, image_pool, masks
    assert EpochSchedule is schedule.EpochSchedule and ImagePool is image_pool.ImagePool
    assert MaskCollapseWarning is masks.MaskCollapseWarning
