"""The precision option (models/precision.py): policies on every network, float32
outputs, the loss scale of float16, exports in float32, the CLI and auto's choice."""

import json
import os
from unittest import mock

import keras
import numpy as np
import pytest

import keras_attngan as kag
from conftest import scaled, snapshot
from keras_attngan.models import precision as precisions

TINY = dict(image_size=32, ngf=8, ndf=8, n_blocks=1, pool_size=0)


def conv_layers(network):
    return [layer for layer in network._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.Conv2D)]


def test_policies_outputs_and_saved_precision(demo_arrays, tmp_path):
    model = kag.models.build("uag", precision="bfloat16", **TINY)
    model.compile()
    assert model.resolved_precision == "bfloat16"
    for network in precisions.networks(model):
        outputs = precisions._output_layers(network)
        convs = [c for c in conv_layers(network) if c not in outputs]
        # convolutions compute in bfloat16, the layers that give the network's outputs
        # in float32; the weights stay float32
        assert convs and {c.compute_dtype for c in convs} == {"bfloat16"}, network.name
        assert {layer.compute_dtype for layer in outputs} == {"float32"}, network.name
        assert all(v.dtype == "float32" for v in network.weights)
    assert {v.dtype for v in model.generator_optimizer.variables} == {"float32", "int64"}
    x = scaled(demo_arrays[0][:2])
    image, raw, mask = model._map(x, "a2b")
    assert image.dtype == raw.dtype == mask.dtype == "float32"
    assert float(mask.numpy().min()) >= 0 and float(mask.numpy().max()) <= 1
    # one step trains, in bfloat16, with finite losses
    logs = model.train_step((x, scaled(demo_arrays[1][:2])))
    assert all(np.isfinite(float(v)) for v in logs.values())
    path = str(tmp_path / "uag.keras")
    model.save(path)
    loaded = kag.models.load(path)
    assert loaded.precision == loaded.resolved_precision == "bfloat16"
    np.testing.assert_allclose(loaded.translate(x)["image"], model.translate(x)["image"],
                               atol=1e-6)


@pytest.mark.parametrize("name", ["cyclegan", "uag"])
def test_bfloat16_step_is_the_float32_step_within_bfloat16_error(name, demo_arrays):
    batch = (scaled(demo_arrays[0][:1]), scaled(demo_arrays[1][:1]))
    reference = sgd_update(name, "float32", batch)
    update = sgd_update(name, "bfloat16", batch)
    error = np.linalg.norm(update - reference) / np.linalg.norm(reference)
    cosine = update @ reference / np.linalg.norm(update) / np.linalg.norm(reference)
    assert error < 0.5 and cosine > 0.9, (error, cosine)  # bfloat16: 8 significant bits
    float16 = sgd_update(name, "float16", batch, scales=(2.0 ** 10, 2.0 ** 10))
    assert np.linalg.norm(float16 - reference) / np.linalg.norm(reference) < 0.2


def sgd_update(name, precision, batch, scales=None, loss_factor=1.0):
    """The change of every trainable weight in one SGD step (rate 1 / ``loss_factor``) of
    the loss times ``loss_factor``, from seed 0's weights. ``scales``: each optimiser's
    loss scale (float16; None: no loss scaling at all)."""
    keras.utils.set_random_seed(0)
    model = kag.models.build(name, **TINY)
    before = snapshot(model.trainable_variables)
    optimizers = {role: keras.optimizers.SGD(1.0 / loss_factor)
                  for role in model.optimizer_roles}
    if precision == "float16" and scales is None:
        with mock.patch.object(keras.optimizers, "LossScaleOptimizer", lambda o: o):
            model.compile(optimizers=optimizers, precision=precision)
    else:
        model.compile(optimizers=optimizers, precision=precision)
    if scales is not None:
        for role, scale in zip(model.optimizer_roles, scales * len(model.optimizer_roles)):
            getattr(model, f"{role}_optimizer").dynamic_scale.assign(scale)
    apply = type(model).apply_gradients

    def small_loss(self, tape, loss, roles):  # gradients below float16's normal range
        with tape:
            loss = loss * loss_factor
        return apply(self, tape, loss, roles)

    with mock.patch.object(type(model), "apply_gradients", small_loss):
        model.train_step(batch)
    return np.concatenate([(np.array(v) - b).ravel()
                           for v, b in zip(model.trainable_variables, before)])


@pytest.mark.parametrize("name", ["cyclegan", "uag"])  # one optimiser, two in one pass
def test_float16_needs_its_loss_scale(name, demo_arrays):
    batch = (scaled(demo_arrays[0][:1]), scaled(demo_arrays[1][:1]))
    small = 1e-5
    reference = sgd_update(name, "float32", batch, loss_factor=small)

    def error(update):
        return np.linalg.norm(update - reference) / np.linalg.norm(reference)

    # UAG's generator and attention optimisers share one backward pass with different
    # scales: the attention's gradients are brought to its own scale
    scaled_error = error(sgd_update(name, "float16", batch, scales=(2.0 ** 15, 2.0 ** 12),
                                    loss_factor=small))
    unscaled_error = error(sgd_update(name, "float16", batch, loss_factor=small))
    assert scaled_error < 0.2, scaled_error
    assert unscaled_error > 0.5, unscaled_error  # underflow: most of the step is lost


def test_exports_compute_in_float32(demo_arrays, tmp_path):
    model = kag.models.build("cyclegan", precision="bfloat16", **TINY)
    model.compile()
    x = demo_arrays[0][:2]
    with precisions.computing_in(model, "float32"):
        expected = model.translate(x)["image"]
    in_bfloat16 = model.translate(x)["image"]
    assert np.abs(in_bfloat16 - expected).max() > 1e-4  # the two precisions differ
    path = kag.export.saved_model(model, str(tmp_path / "export" / "1"))
    served = keras.layers.TFSMLayer(path, call_endpoint="a2b")(x)
    np.testing.assert_allclose(np.asarray(served["image"], np.float32) / 127.5 - 1,
                               expected, atol=1.5 / 127.5)
    report = kag.export.tflite(model, str(tmp_path / "m.tflite"), image_size=32)
    assert report["image_max_abs_diff"] < 1e-4, report
    # the model itself is back in bfloat16
    np.testing.assert_allclose(model.translate(x)["image"], in_bfloat16, atol=1e-6)


def test_auto_picks_bfloat16_where_the_hardware_runs_it(monkeypatch):
    monkeypatch.setattr(precisions, "_gpu_capabilities", lambda: [])
    monkeypatch.setattr(precisions, "_cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert precisions.resolve("auto") == ("bfloat16", "auto: CPU with AMX")
    monkeypatch.setattr(precisions, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert precisions.resolve("auto")[0] == "float32"
    monkeypatch.setattr(precisions, "_gpu_capabilities", lambda: [(8, 0)])
    assert precisions.resolve("auto")[0] == "bfloat16"
    monkeypatch.setattr(precisions, "_gpu_capabilities", lambda: [(7, 5)])
    assert precisions.resolve("auto")[0] == "float32"
    with pytest.raises(ValueError, match="precision='half'.*--precision"):
        precisions.resolve("half")


def test_cli_trains_resumes_and_says_the_precision(tmp_path, capsys):
    from conftest import write_images

    a, b = kag.data.builtin.demo(n=4, size=32, seed=0)
    folder_a = write_images(str(tmp_path / "a"), a)
    folder_b = write_images(str(tmp_path / "b"), b)
    out = str(tmp_path / "run")
    common = ["train", "--model", "cyclegan", "--data-a", os.path.dirname(folder_a[0]),
              "--data-b", os.path.dirname(folder_b[0]), "--image-size", "32",
              "--load-size", "32", "--batch-size", "2", "--out", out, "--verbose", "2",
              "--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=1"]
    kag.cli.main(common + ["--epochs", "1", "--precision", "bfloat16"])
    assert "precision bfloat16 (as asked" in capsys.readouterr().out
    saved = json.load(open(os.path.join(out, "run.json")))
    assert "precision" not in saved["hparams"] and saved["precision"] == "bfloat16"
    # another precision resumes (float32 weights in every one) ...
    result = kag.cli.main(common + ["--epochs", "2", "--resume", "--precision", "float32"])
    assert result["model"].resolved_precision == "float32"
    assert len(result["history"]["g_a2b"]) == 1  # resumed at epoch 2
    # ... but not into float16, whose optimisers keep a loss scale
    with pytest.raises(SystemExit):
        kag.cli.main(common + ["--epochs", "3", "--resume", "--precision", "float16"])
    assert "pass --precision float32 or bfloat16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        kag.cli.main(common + ["--epochs", "3", "--resume", "--precision", "half"])
    assert "invalid choice: 'half'" in capsys.readouterr().err
