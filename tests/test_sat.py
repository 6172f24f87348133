import numpy as np
import keras
import pytest

import keras_attngan as kag
from conftest import model_factory, pair, train_on_demo
from keras_attngan.models import adaptive_lambda_update
from keras_attngan.networks.vgg import WeightsUnavailableError

TINY_SAT = dict(image_size=32, ngf=8, ndf=8, n_blocks=2, vgg_weights=None)


sat = model_factory("sat", TINY_SAT)


def weights(variables):
    return [np.array(v) for v in variables]


def unchanged(before, variables):
    return all(np.array_equal(b, np.array(v)) for b, v in zip(before, variables))


def test_defaults_and_networks(sat):
    model = sat()
    assert model.directions == ("a2b",) and model.dilation == 2 and model.n_blocks == 2
    assert model.regularizer == "perceptual" and model.adaptive_lambda
    convs = [l for l in model.discriminator.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.strides[0] for c in convs] == [2, 2, 2, 1, 1]  # five convolutions
    dilated = [l for l in model.generator.layers if isinstance(l, keras.layers.Conv2D)
               and l.dilation_rate == (2, 2)]
    assert len(dilated) == 2 * 2  # two per residual block
    mask = model.attention_net(np.zeros((1, 32, 32, 3), "float32"))
    assert mask.shape == (1, 32, 32, 1)
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(2e-4)


def test_offline_imagenet_weights_fail_clearly(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.applications, "VGG19", offline)
    with pytest.raises(WeightsUnavailableError, match="vgg_weights=PATH.*vgg_weights=hed"):
        kag.models.build("sat", image_size=32, ngf=8, ndf=8, n_blocks=1)
    with pytest.raises(WeightsUnavailableError, match="No VGG19 weights file"):
        kag.models.build("sat", image_size=32, vgg_weights="/nowhere/vgg19.h5")


def test_attention_zero_gives_x_and_one_gives_g0(sat, demo_arrays):
    model = sat()
    model.set_epoch(99)  # stage 3: attention on
    x, _ = pair(demo_arrays)
    raw = np.array(model.generator(x))
    for value, expected in ((0.0, x), (1.0, raw)):
        conv = [l for l in model.attention_net.layers if isinstance(l, keras.layers.Conv2D)][-1]
        conv.kernel.assign(np.zeros(conv.kernel.shape, "float32"))
        conv.bias.assign(np.full(conv.bias.shape, -50.0 if value == 0 else 50.0, "float32"))
        out = model.translate(x, return_raw=True)
        assert np.allclose(out["mask"], value, atol=1e-6)
        assert np.allclose(out["image"], expected, atol=1e-5)
        assert np.allclose(out["raw"], raw, atol=1e-5)


def test_stages_freeze_the_right_networks(sat, demo_arrays):
    model = sat(stage_epochs=(1, 2))
    data = pair(demo_arrays)
    model.apply_schedule(0)
    before_attention = weights(model.attention_variables)
    before_g0 = weights(model.generator_variables)
    model.train_step(data)  # stage 1: G = G_0, attention unused
    assert unchanged(before_attention, model.attention_variables)
    assert not unchanged(before_g0, model.generator_variables)
    assert np.allclose(model.translate(data[0])["mask"], 1.0)
    model.apply_schedule(1)
    g0 = weights(model.generator_variables)
    attention = weights(model.attention_variables)
    model.train_step(data)  # stage 2: G_0 frozen, attention trains
    assert unchanged(g0, model.generator_variables)
    assert not unchanged(attention, model.attention_variables)
    model.apply_schedule(2)
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(2e-5)
    assert float(model.attention_optimizer.learning_rate) == pytest.approx(2e-5)


def test_adaptive_lambda_follows_the_rule():
    losses = [0.8, 0.9,   # interval mean 0.85 <= 1: lambda 0.5
              1.0, 0.6,   # 0.8: lambda 1.0
              1.2, 1.4,   # 1.3 > 1: stop, back to the last good lambda 0.5
              0.1, 0.1]   # stopped: stays
    weight, stopped, total, count, seen = 0.0, 0.0, 0.0, 0.0, []
    for loss in losses:
        weight, stopped, total, count = (float(v) for v in adaptive_lambda_update(
            weight, stopped, total + loss, count + 1, step=0.5, interval=2, threshold=1.0))
        seen.append(weight)
    assert seen == [0.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 0.5]
    assert stopped == 1.0


def test_lambda_restarts_per_stage_and_survives_save_and_resume(sat, demo_arrays, tmp_path):
    model = sat(stage_epochs=(1, 2), lambda_interval=1, lambda_step=0.25,
                adversarial_threshold=100.0)
    model.apply_schedule(0)
    for _ in range(3):  # the induction runs inside the step
        model.train_step(pair(demo_arrays))
    assert model.schedule_logs()["lambda"] == 0.75
    model.save(str(tmp_path / "sat.keras"))
    loaded = kag.models.load(str(tmp_path / "sat.keras"))
    loaded.apply_schedule(0)  # resuming inside stage 1 keeps lambda
    assert {k: loaded.schedule_logs()[k] for k in ("lambda", "stage")} == {
        "lambda": 0.75, "stage": 1.0}
    loaded.apply_schedule(1)  # a new stage restarts the induction
    assert {k: loaded.schedule_logs()[k] for k in ("lambda", "stage")} == {
        "lambda": 0.0, "stage": 2.0}
    x = pair(demo_arrays)[0]
    model.set_epoch(1)
    assert np.array_equal(loaded.translate(x)["image"], model.translate(x)["image"])


def test_fit_logs_lambda_and_stage(sat, demo_arrays, tmp_path):
    a, b = demo_arrays
    model = sat(stage_epochs=(1, 2), lambda_interval=2)
    ds = kag.data.unpaired(a[:8], b[:8], image_size=32, load_size=36, batch_size=2, seed=0)
    history = model.fit(ds, epochs=3, verbose=0, callbacks=kag.callbacks.default(
        model, str(tmp_path), samples=(a[:2], b[:2]))).history
    assert history["stage"] == [1.0, 2.0, 3.0]
    assert len(history["lambda"]) == 3
    assert list(model.sample_rows(*pair(demo_arrays))[0]) == [
        "input", "initial", "mask", "translation"]


@pytest.mark.slow
def test_sat_attends_to_the_objects_and_keeps_the_background(cyclegan_baseline, demo_task):
    # The offline pretrained VGG (hed) under the attention branch; a budget this small
    # needs lambda to grow fast: +1 every 2 steps. Two epochs of G_0 alone, three of the
    # attention branch, one of fine-tuning; the final model scored, as a mean over three
    # seeds: at 96 steps one run's figures swing with the CPU's rounding (seed 0 kept
    # the background at 6.7/255 with AVX2 kernels and 17.6 with AVX-512 ones).
    # Measured means (seeds 0-2, AMD EPYC, AVX-512 / AVX2): discs changed 98 / 95 against
    # CycleGAN's 99, background 13.3 / 12.4 against CycleGAN's 20 and G_0's own 27 / 26,
    # mask 0.91 / 0.89 on the discs against 0.44 / 0.43 on the background. A SAT that
    # returns its input changes no disc; one without attention changes the background
    # as G_0 does and has no mask to speak of. On a 2-core Intel Xeon with AVX-512 and
    # no BF16 the background mean was 18.7 against CycleGAN's 20.2 (G_0's 32.9), so
    # against CycleGAN the test asks only for less change; against G_0 for 0.7 of it.
    _, _, test_a, masks = demo_task
    disc, background = masks > 0.5, masks < 0.01

    def changed(image, region):
        """Mean absolute change (0..255) of ``image`` (in [-1, 1]) over ``region``."""
        return float(np.abs((np.asarray(image) + 1) * 127.5 - test_a)[region].mean())

    def scores(model):
        out = model.translate(test_a, return_raw=True)
        mask = np.asarray(out["mask"])[..., 0]
        return {"objects": changed(out["image"], disc),
                "background": changed(out["image"], background),
                "g0_background": changed(out["raw"], background),
                "mask_objects": float(mask[disc].mean()),
                "mask_background": float(mask[background].mean())}

    runs = [scores(train_on_demo(demo_task, "sat", epochs=6, seed=seed, vgg_weights="hed",
                                 stage_epochs=(2, 5), regularizer="l1", lambda_interval=2,
                                 lambda_step=1.0, adversarial_threshold=3.0)[0])
            for seed in (0, 1, 2)]
    mean = {k: float(np.mean([run[k] for run in runs])) for k in runs[0]}
    baseline, _ = cyclegan_baseline
    translated = baseline.translate(test_a)["image"]
    reference = {"background": changed(translated, background),
                 "objects": changed(translated, disc)}
    report = (mean, reference, runs)
    assert mean["objects"] > 0.5 * reference["objects"], report
    assert mean["background"] < reference["background"], report
    assert mean["background"] < 0.7 * mean["g0_background"], report
    assert mean["mask_objects"] > mean["mask_background"] + 0.25, report
