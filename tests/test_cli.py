import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import keras_attngan as kag
from keras_attngan import cli
from conftest import write_images

TINY_ARGS = ["--image-size", "32", "--load-size", "36", "--set", "ngf=8", "--set", "ndf=8",
             "--set", "n_blocks=2", "--seed", "0"]


@pytest.fixture
def folders(tmp_path):
    a, b = kag.data.builtin.demo(n=16, size=32, seed=0)
    write_images(str(tmp_path / "A"), a, "png")
    write_images(str(tmp_path / "B"), b, "jpg")
    return str(tmp_path / "A"), str(tmp_path / "B")


def train_command(folders, out, epochs, *extra):
    return [sys.executable, "-m", "keras_attngan.cli", "train", "--model", "cyclegan",
            "--data-a", folders[0], "--data-b", folders[1], "--epochs", str(epochs),
            "--batch-size", "2", "--out", out, "--verbose", "2", *TINY_ARGS, *extra]


def read_metadata(out):
    try:
        with open(os.path.join(out, "backup", "latest.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _refusal(command, capsys) -> bool:
    """Runs a CLI command line in-process; True when it exits 2 (a user mistake)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command[3:])  # without "python -m keras_attngan.cli"
    return exit_info.value.code == 2


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_finishes_the_requested_epochs(folders, tmp_path,
                                                                     capsys):
    out = str(tmp_path / "run")
    epochs = 4
    proc = subprocess.Popen(train_command(folders, out, epochs, "--backup-freq", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    try:
        while time.time() < deadline:  # wait for a backup inside epoch 3
            meta = read_metadata(out)
            if meta and meta["epoch"] >= 2 and meta["batch"] > 0:
                break
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            time.sleep(0.02)
        else:
            pytest.fail("no mid-epoch backup appeared")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed_at = read_metadata(out)["epoch"]
    assert killed_at < epochs

    # without --resume the run folder is protected (refusals run in-process: they stop
    # before any training)
    assert _refusal(train_command(folders, out, epochs), capsys) and \
        "--resume" in capsys.readouterr().err
    # resuming as another model configuration is refused too
    assert _refusal(train_command(folders, out, epochs, "--resume", "--set", "ngf=16"),
                    capsys)
    assert "cannot resume" in capsys.readouterr().err

    resumed = subprocess.run(train_command(folders, out, epochs, "--resume"),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Epoch {killed_at + 1}/{epochs}" in resumed.stdout
    assert "Epoch 1/" not in resumed.stdout
    assert read_metadata(out)["epoch"] == epochs
    model = kag.models.load(os.path.join(out, "model.keras"))
    steps_per_epoch = 16 // 2
    # every finished epoch's steps are in the optimiser state (partial epochs count too)
    assert int(model.generator_optimizer.iterations.numpy()) >= epochs * steps_per_epoch
    # the last epoch ran at the decayed rate: epochs 4, decay from epoch 2
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(2e-4 / 3)
    assert os.path.exists(os.path.join(out, "samples", f"epoch_{epochs:04d}.png"))

    # translate with the trained checkpoint: any image size, PNGs out
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    odd = kag.data.builtin.make_domain("a", 1, 40)[0][:37, :29]
    tf.io.write_file(str(inputs / "odd.png"), tf.io.encode_png(odd))
    written = cli.main(["translate", "--checkpoint", os.path.join(out, "model.keras"),
                        "--input", str(inputs), "--output", str(tmp_path / "translated")])
    assert [os.path.basename(p) for p in written] == ["odd.png"]
    result = tf.io.decode_png(tf.io.read_file(written[0])).numpy()
    assert result.shape == (37, 29, 3)


def test_train_reports_bad_data_without_a_traceback(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--data-a", str(tmp_path / "empty"), "--data-b",
                  str(tmp_path / "empty"), "--out", str(tmp_path / "run"), "--epochs", "1"])
    assert exit_info.value.code == 2
    assert "No images in" in capsys.readouterr().err


def test_translate_reports_missing_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["translate", "--checkpoint", str(tmp_path / "none.keras"), "--input",
                  str(tmp_path), "--output", str(tmp_path / "o")])
    assert "No model file" in capsys.readouterr().err


def test_demo_writes_grid_and_logs(tmp_path, capsys):
    result = cli.main(["demo", "--out", str(tmp_path / "demo"), "--epochs", "1", "--images",
                       "8", "--ngf", "8", "--blocks", "1", "--verbose", "0"])
    printed = capsys.readouterr().out
    assert os.path.exists(result["grid"]) and result["grid"] in printed
    grid = tf.io.decode_png(tf.io.read_file(result["grid"])).numpy()
    assert grid.shape == (2 * 6 * 64, 5 * 64, 3)  # input | raw | mask | result | back
    assert os.listdir(tmp_path / "demo" / "train")  # TensorBoard events
    assert kag.models.load(result["model_path"]).image_size == 64


def test_bench_reports_step_time_and_flops(capsys):
    result = cli.main(["bench", "train", "--image-size", "32", "--steps", "2", "--warmup", "1",
                       "--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=2"])
    assert result["seconds_per_step"] > 0 and result["steps"] == 2
    assert result["matmul_gflop_per_second"] > 1  # the machine's speed, beside the step's
    printed = capsys.readouterr().out
    assert "GFLOP/step" in printed and "matmul" in printed
    assert 100 < result["peak_rss_mb"] < 20000 and "peak RSS" in printed
    # FLOPs grow with the network: ngf=16 has about 4x the convolution work of ngf=8
    from keras_attngan.benchmarks.speed import train_step_flops

    bigger = kag.models.build("cyclegan", image_size=32, ngf=16, ndf=16, n_blocks=2)
    bigger.compile()
    assert 3.0 < train_step_flops(bigger, 1) / 1e9 / result["gflop_per_step"] < 4.5
    data = cli.main(["bench", "data", "--image-size", "64", "--steps", "16"])
    assert data["images"] == 32 and data["images_per_second"] > 0


def test_bench_export_reports_every_format(capsys):
    result = cli.main(["bench", "export", "--image-size", "32", "--steps", "2",
                       "--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=1"])
    rows = {row["format"]: row for row in result["rows"]}
    assert list(rows) == ["keras predict", "saved_model", "tflite float32",
                          "tflite float16", "tflite dynamic", "tflite int8"]
    assert all(row["seconds"] > 0 for row in rows.values())
    assert rows["keras predict"]["speedup_vs_keras"] == 1.0
    sizes = [rows[f"tflite {q}"]["bytes"] for q in ("float32", "float16", "int8")]
    assert sizes == sorted(sizes, reverse=True)
    # Fidelity to the float32 Keras output falls with the precision of the variant.
    psnr = {name: row["psnr_db"] for name, row in rows.items()}
    assert psnr["keras predict"] == float("inf")
    assert psnr["tflite float32"] > 60 and psnr["saved_model"] > 40  # uint8 rounding
    assert psnr["tflite float32"] > psnr["tflite float16"] > psnr["tflite int8"] > 15
    assert result["peak_rss_mb_keras_inference"] > 100 and result["matmul_gflop_per_second"] > 1
    printed = capsys.readouterr().out
    assert "x Keras predict" in printed and "dB to it" in printed and "peak RSS" in printed


@pytest.mark.parametrize("model, extra", [
    ("uag", ["--set", "attention_ngf=8", "--set", "attention_stop_epoch=1"]),
    ("aggan", ["--set", "curriculum_epoch=1"]),
])
def test_train_attention_models_from_the_command_line(model, extra, folders, tmp_path):
    out = str(tmp_path / model)
    args = ["train", "--model", model, "--data-a", folders[0], "--data-b", folders[1],
            "--epochs", "2", "--batch-size", "4", "--out", out, "--verbose", "0",
            "--image-size", "32", "--load-size", "36", "--set", "ngf=8", "--set", "ndf=8",
            "--set", "n_blocks=1", "--seed", "0", *extra]
    result = cli.main(args)
    assert len(result["history"]["d_a" if model == "uag" else "d_x"]) == 2
    written = cli.main(["translate", "--checkpoint", result["model_path"], "--input",
                        folders[0], "--output", str(tmp_path / "t"), "--direction", "b2a"])
    assert len(written) == 16
    assert os.path.exists(written[0].replace(".png", "_mask.png"))
    # the PNG is the model's b2a translation of that image (within a grey level), which
    # is not its a2b one: --direction was followed
    image = tf.io.decode_png(tf.io.read_file(
        os.path.join(folders[0], os.path.basename(written[0])))).numpy()
    png = tf.io.decode_png(tf.io.read_file(written[0])).numpy().astype(int)
    trained = kag.models.load(result["model_path"])
    expected = {d: np.round((trained.translate(image, d)["image"] + 1) * 127.5)
                for d in ("a2b", "b2a")}
    assert np.abs(png - expected["b2a"]).max() <= 1
    assert np.abs(png - expected["a2b"]).max() > 1


def test_train_dagan_from_the_command_line(folders, tmp_path):
    out = str(tmp_path / "dagan")
    result = cli.main(["train", "--model", "dagan", "--data-a", folders[0], "--data-b",
                       folders[1], "--epochs", "1", "--batch-size", "4", "--out", out,
                       "--verbose", "0", "--image-size", "32", "--load-size", "36",
                       "--set", "nf=8", "--set", "ngf=8", "--set", "ndf=8",
                       "--set", "n_regions=2", "--set", "n_blocks=1", "--seed", "0"])
    assert set(result["history"]) >= {"d1", "d2", "g_s", "g_t", "cst", "sym"}
    assert os.path.exists(os.path.join(out, "samples", "epoch_0001.png"))
    written = cli.main(["translate", "--checkpoint", result["model_path"], "--input",
                        folders[0], "--output", str(tmp_path / "t")])
    assert len(written) == 16
    assert os.path.exists(written[0].replace(".png", "_mask.png"))


def _epoch_scalars(out, tag="epoch_learning_rate"):
    """(step, value) of every ``tag`` event any process of the run wrote."""
    import glob

    found = []
    for path in sorted(glob.glob(os.path.join(out, "train", "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    found.append((event.step, float(tf.make_ndarray(value.tensor))))
    return sorted(found)


@pytest.mark.slow
def test_three_kills_at_random_points_end_like_an_uninterrupted_run(folders, tmp_path,
                                                                     capsys):
    import random

    # 4 epochs of 8 steps: three kills, each at most 0.3 s after a backup, always land
    # before the end (a step takes tens of milliseconds; a longer pause once let the
    # run finish before its third kill)
    epochs, steps_per_epoch = 4, 16 // 2

    out, rng, grids = str(tmp_path / "killed"), random.Random(0), {}
    for kill in range(3):
        proc = subprocess.Popen(train_command(folders, out, epochs, "--backup-freq", "3",
                                              *(["--resume"] if kill else [])),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            before = (read_metadata(out) or {}).get("steps", -1)
            deadline = time.time() + 240
            while (read_metadata(out) or {}).get("steps", -1) <= before:
                assert proc.poll() is None and time.time() < deadline
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.3))  # then anywhere: mid-step, mid-save, ...
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        samples = os.path.join(out, "samples")
        for name in os.listdir(samples) if os.path.isdir(samples) else ():
            if name.endswith(".png"):  # published grids (a pending one is not yet final)
                grids.setdefault(name, os.stat(os.path.join(samples, name)).st_mtime_ns)
    assert read_metadata(out)["steps"] < epochs * steps_per_epoch  # killed before the end
    resumed = subprocess.run(train_command(folders, out, epochs, "--backup-freq", "3",
                                           "--resume"), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    model = kag.models.load(os.path.join(out, "model.keras"))
    # an uninterrupted run's steps, not one more
    assert int(model.generator_optimizer.iterations) == epochs * steps_per_epoch
    assert int(model.discriminator_optimizer.iterations) == epochs * steps_per_epoch
    # every epoch logged once, at its own step, with an uninterrupted run's rate
    model.start_schedule(epochs)
    logged = _epoch_scalars(out)
    assert [step for step, _ in logged] == list(range(epochs))
    assert [v for _, v in logged] == pytest.approx(
        [2e-4 * model.learning_rate_factor(e) for e in range(epochs)])
    assert len({v for _, v in logged}) > 1  # the rate did decay within the run
    # sample grids: one per epoch, none written twice
    assert sorted(os.listdir(os.path.join(out, "samples"))) == [
        f"epoch_{e:04d}.png" for e in range(1, epochs + 1)]
    for name, mtime in grids.items():
        assert os.stat(os.path.join(out, "samples", name)).st_mtime_ns == mtime, name

    # a finished run asked for more epochs trains only the new ones
    more = subprocess.run(train_command(folders, out, epochs + 1, "--resume"),
                          capture_output=True, text=True, timeout=300)
    assert more.returncode == 0, more.stderr[-3000:]
    assert f"Epoch {epochs + 1}/{epochs + 1}" in more.stdout and "Epoch 1/" not in more.stdout
    model = kag.models.load(os.path.join(out, "model.keras"))
    assert int(model.generator_optimizer.iterations) == (epochs + 1) * steps_per_epoch
    # other data is refused, saying what differs
    assert _refusal(train_command((folders[1], folders[0]), out, epochs + 2, "--resume"),
                    capsys)
    err = capsys.readouterr().err
    assert "data_a" in err and "--force" in err
