"""The command line's error paths (exit 2, 'attngan VERB: error:', no traceback), output
collisions, per-file failures, tiling, and a fast, quiet --help."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_attngan as kag
from keras_attngan import cli, inference


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.keras"
    kag.models.build("cyclegan", image_size=32, ngf=8, ndf=8, n_blocks=2).save(str(path))
    return str(path)


@pytest.fixture
def photos(tmp_path):
    a, _ = kag.data.builtin.demo(n=2, size=40, seed=0)
    folder = tmp_path / "in"
    folder.mkdir()
    tf.io.write_file(str(folder / "x.png"), tf.io.encode_png(a[0]))
    tf.io.write_file(str(folder / "x.jpg"), tf.io.encode_jpeg(a[1]))
    return str(folder)


def fails(capsys, argv, *expected, code=2):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == code, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


TRAIN = ["train", "--data-a", "a", "--data-b", "b", "--out", "never"]


@pytest.mark.parametrize("extra, expected", [
    (["--set", "ngff=8"], ["attngan train: error:", "ngff", "did you mean ngf", "Known:"]),
    (["--set", "ngf=abc"], ["attngan train: error:", "ngf", "takes int", "'abc'"]),
    (["--set", "ngf"], ["attngan train: error:", "NAME=VALUE"]),
    (["--image-size", "30"], ["attngan train: error:", "--image-size 30", "multiple of 4"]),
    (["--image-size", "x"], ["attngan train: error:", "invalid int value"]),
    (["--lr", "0"], ["attngan train: error:", "--lr", "must be above 0"]),
    (["--lr", "fast"], ["attngan train: error:", "--lr", "expected a float", "'fast'"]),
    # the evaluation options are refused before any data is read, with or without it
    (["--eval-every", "0"], ["attngan train: error:", "--eval-every", "must be above 0"]),
    (["--kid-subset-size", "-5"], ["attngan train: error:", "--kid-subset-size",
                                   "must be above 0"]),
])
def test_train_option_mistakes(capsys, extra, expected, tmp_path):
    fails(capsys, TRAIN + extra, *expected)
    assert not os.path.exists("never")


def test_bench_set_type(capsys):
    fails(capsys, ["bench", "train", "--set", "n_blocks=2.5"], "attngan bench train: error:",
          "n_blocks", "2.5")


@pytest.mark.parametrize("extra", [["--steps", "-1"], ["--steps", "0"], ["--lr=-2e-4"]])
def test_bench_quality_refuses_what_cannot_train(capsys, extra):
    # --steps 0 used to fall back to the default 3,000 and -1 ended in a traceback
    fails(capsys, ["bench", "quality", "--model", "unit", "--task", "digits"] + extra,
          "attngan bench: error:", f"argument {extra[0].split('=')[0]}", "must be above 0")


@pytest.mark.parametrize("argv, expected", [
    # each was once accepted and ignored (a bfloat16 quality run trained in float32)
    (["data", "--precision", "bfloat16"], "--precision applies to bench train and bench "
                                          "quality, not bench data"),
    (["train", "--lr", "1e-4"], "--lr applies to bench quality, not bench train"),
    (["export", "--jit-compile"], "--jit-compile applies to bench train, not bench export"),
    (["evaluate", "--folder", "x"], "--folder applies to bench data, not bench evaluate"),
    (["quality", "--seeds", "3"], "--seeds applies to bench quality --suite, not bench "
                                  "quality"),
    (["quality", "--suite", "tuning", "--log-dir", "x"], "--log-dir applies to bench "
                                                         "quality without --suite"),
])
def test_bench_refuses_options_its_measurement_would_ignore(capsys, argv, expected):
    fails(capsys, ["bench", *argv], f"attngan bench {argv[0]}: error:", expected)


def test_model_names_and_metrics_match_the_registries():
    assert set(cli.MODEL_NAMES) == set(kag.models.available())
    assert list(cli.METRIC_NAMES) == list(kag.metrics.METRICS)
    from keras_attngan.cli.names import PRECISIONS
    from keras_attngan.models.precision import PRECISIONS as MODEL_PRECISIONS

    assert PRECISIONS == MODEL_PRECISIONS


def test_checkpoint_mistakes(capsys, tmp_path, photos, checkpoint):
    out = str(tmp_path / "o")
    fails(capsys, ["translate", "--checkpoint", checkpoint, "--input", photos, "--output",
                   out, "--tile", "8", "--overlap", "0"], "--tile must be at least 32 px")
    fails(capsys, ["translate", "--checkpoint", str(tmp_path / "none.keras"), "--input",
                   photos, "--output", out], "attngan translate: error:", "No model file")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(open(checkpoint, "rb").read()[:3000])
    err = fails(capsys, ["translate", "--checkpoint", str(broken), "--input", photos,
                         "--output", out], "not a readable .keras")
    assert "File not found" not in err
    with pytest.raises(ValueError, match="not a readable .keras"):
        kag.models.load(str(broken))
    fails(capsys, ["translate", "--checkpoint", checkpoint, "--input", photos, "--output",
                   out, "--direction", "c2d", "--keep-extension"], "--direction 'c2d'",
          "a2b or b2a")
    fails(capsys, ["export", "--checkpoint", str(broken), "--out", str(tmp_path / "e")],
          "attngan export: error:")
    assert not os.path.exists(out)


def test_translate_refuses_collisions_and_output_inside_input(capsys, tmp_path, photos,
                                                              checkpoint):
    out = str(tmp_path / "o")
    fails(capsys, ["translate", "--checkpoint", checkpoint, "--input", photos, "--output",
                   out], "x.png <- x.jpg, x.png", "--keep-extension", "nothing was written")
    assert not os.path.exists(out)
    for inside in (photos, os.path.join(photos, "sub")):
        fails(capsys, ["translate", "--checkpoint", checkpoint, "--input", photos,
                       "--output", inside], "inside --input")
    written = cli.main(["translate", "--checkpoint", checkpoint, "--input", photos,
                        "--output", out, "--keep-extension"])
    assert sorted(os.path.basename(p) for p in written) == ["x.jpg.png", "x.png.png"]
    fails(capsys, ["translate", "--checkpoint", checkpoint, "--input", photos, "--output",
                   out, "--keep-extension"], "exist already", "--overwrite")
    assert cli.main(["translate", "--checkpoint", checkpoint, "--input", photos, "--output",
                     out, "--keep-extension", "--overwrite"]) == written


def test_one_bad_file_does_not_stop_a_folder(capsys, tmp_path, checkpoint):
    folder = tmp_path / "in"
    folder.mkdir()
    a, _ = kag.data.builtin.demo(n=1, size=40, seed=0)
    tf.io.write_file(str(folder / "ok.png"), tf.io.encode_png(a[0]))
    tf.io.write_file(str(folder / "tiny.png"), tf.io.encode_png(a[0][:3, :2]))
    (folder / "bad.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "o"
    err = fails(capsys, ["translate", "--checkpoint", checkpoint, "--input", str(folder),
                         "--output", str(out)], "1 of 3 image(s) failed", "bad.png",
                code=1)
    assert "tiny.png" in err and "upscaled" in err
    assert sorted(os.listdir(out)) == ["ok.png", "tiny.png"]
    assert tf.io.decode_png(tf.io.read_file(str(out / "tiny.png"))).shape == (3, 2, 3)


def test_export_refuses_to_overwrite(capsys, tmp_path, checkpoint):
    version = tmp_path / "export" / "m" / "1"
    cli.main(["export", "--checkpoint", checkpoint, "--out", str(version)])
    assert (version / "saved_model.pb").exists()
    fails(capsys, ["export", "--checkpoint", checkpoint, "--out", str(version)],
          "attngan export: error:", "--overwrite")
    target = tmp_path / "m.tflite"
    target.write_bytes(b"mine")
    fails(capsys, ["export", "--checkpoint", checkpoint, "--format", "tflite", "--out",
                   str(target)], "exists", "--overwrite")
    assert target.read_bytes() == b"mine"
    with pytest.raises(FileExistsError):
        kag.export.saved_model(kag.models.load(checkpoint), str(version))


def test_tiling_matches_whole_image_and_bounds_the_tile(checkpoint):
    model = kag.models.load(checkpoint, compile=False)
    rng = np.random.default_rng(0)
    a, _ = kag.data.builtin.demo(n=1, size=96, seed=0)
    image = a[0][:, :80]
    whole = model.translate(image)["image"]
    seen = []
    original = model.translate

    def spy(x, direction=None, **kw):
        seen.append(np.shape(x))
        return original(x, direction=direction, **kw)

    model.translate = spy
    tiled = inference.translate_image(model, image, tile=48, overlap=16)
    assert tiled["tiles"] == len(inference.tile_starts(96, 48, 16)) * len(
        inference.tile_starts(80, 48, 16)) > 1
    assert all(max(shape[:2]) <= 48 for shape in seen)
    assert tiled["image"].shape == whole.shape
    # instance norm uses each tile's own statistics: close to, not equal to, the whole
    # image (48 px tiles of a 96x80 image, random weights: about 0.12 mean difference)
    assert np.abs(tiled["image"] - whole).mean() < 0.2
    # the blend itself is exact: a per-pixel "network" gives the whole-image result
    x = rng.uniform(-1, 1, (96, 80, 3)).astype("float32")
    blended = inference.translate_tiled(lambda t: {"image": np.tanh(2 * t), "mask": t[..., :1]},
                                        x, tile=48, overlap=16)
    assert np.abs(blended["image"] - np.tanh(2 * x)).max() < 1e-6
    assert np.abs(blended["mask"] - x[..., :1]).max() < 1e-6
    # tiles too small for the networks' padding after down-sampling are refused up front
    with pytest.raises(ValueError, match="at least 32 px"):
        inference.translate_image(model, image, tile=8, overlap=0)


def test_help_is_fast_quiet_and_shows_defaults():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    # fast because TensorFlow is not imported (checked below); no wall-clock bound, which
    # a busy machine breaks
    result = subprocess.run([sys.executable, "-m", "keras_attngan.cli", "translate", "--help"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert "(default: 512)" in result.stdout
    code = ("import sys; from keras_attngan import cli; cli.parser(); "
            "print('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env).stdout.strip() == "False"


def _train(folders, out, *extra):
    return ["train", "--model", "cyclegan", "--data-a", folders[0], "--data-b", folders[1],
            "--out", out, "--image-size", "32", "--set", "ngf=4", "--set", "ndf=4",
            "--set", "n_blocks=1", "--batch-size", "2", "--verbose", "0", *extra]


def test_train_refusals_leave_nothing_behind(capsys, tmp_path, small_sets):
    out = str(tmp_path / "run")
    fails(capsys, _train(small_sets, out, "--epochs", "0"), "attngan train: error:",
          "--epochs must be at least 1; got 0")
    assert not os.path.exists(out)
    # a start that fails after creating the folder (a schedule the run cannot reach)
    fails(capsys, _train(small_sets, out, "--epochs", "2", "--decay-start", "5"),
          "attngan train: error:", "decay_start=5")
    assert not os.path.exists(out)


def test_resume_refuses_damaged_backups_and_other_options(capsys, tmp_path, small_sets,
                                                          monkeypatch):
    out = str(tmp_path / "run")
    cli.main(_train(small_sets, out, "--epochs", "1"))
    backup = os.path.join(out, "backup")
    latest = os.path.join(backup, "latest.json")
    good = open(latest).read()
    # the same data by a relative path is the same run: resumes (to 2 epochs)
    monkeypatch.chdir(tmp_path)
    cli.main(_train(["A", "B"], out, "--epochs", "2", "--resume"))
    assert '"epoch": 2' in open(latest).read()
    # another learning rate is refused, naming it
    fails(capsys, _train(small_sets, out, "--epochs", "3", "--resume", "--lr", "1e-3"),
          "cannot resume", "lr: None there, 0.001 now", "--force")
    # an unreadable index, and a damaged state folder: exit 2, what to do, no traceback
    good = open(latest).read()
    with open(latest, "w") as f:
        f.write('{"state": ')
    fails(capsys, _train(small_sets, out, "--epochs", "3", "--resume"),
          "backup index", "unreadable", "remove")
    with open(latest, "w") as f:
        f.write(good)
    state = os.path.join(backup, __import__("json").loads(good)["state"])
    with open(os.path.join(state, "pools.npz"), "wb") as f:
        f.write(b"PK\x03\x04 cut short")
    fails(capsys, _train(small_sets, out, "--epochs", "3", "--resume"),
          "does not fit this model or is damaged")
