"""The quality benchmark: its generated tasks, the stripe detector, the scores, mask
monitoring during training and ``attngan bench quality``."""

import json
import warnings

import numpy as np
import pytest
import scipy.ndimage

import keras_attngan as kag
from keras_attngan import cli
from keras_attngan.benchmarks import quality
from keras_attngan.benchmarks import tasks
from keras_attngan.models import CycleGAN, UNIT
from keras_attngan.models.base import MaskCollapseWarning


def test_texture_task_is_seeded_and_has_exact_masks():
    a, masks = tasks.texture_domain("a", 6, size=64, seed=3)
    again, _ = tasks.texture_domain("a", 6, size=64, seed=3)
    other, _ = tasks.texture_domain("a", 6, size=64, seed=4)
    assert a.shape == (6, 64, 64, 3) and a.dtype == np.uint8
    assert masks.shape == (6, 64, 64) and masks.min() >= 0 and masks.max() <= 1
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, other)
    # every image has one object covering a sizeable part of it
    coverage = (masks > 0.5).mean(axis=(1, 2))
    assert np.all(coverage > 0.04) and np.all(coverage < 0.5)
    # outside the object, domain B's images are drawn like domain A's: only the object
    # tells them apart (their mean colours agree within noise)
    b, b_masks = tasks.texture_domain("b", 50, size=64)
    a50, a_masks = tasks.texture_domain("a", 50, size=64)
    outside_a = a50[a_masks == 0].mean(axis=0)
    outside_b = b[b_masks == 0].mean(axis=0)
    assert np.all(np.abs(outside_a - outside_b) < 10)
    empty = tasks.empty_images(4, size=64)
    assert empty.shape == (4, 64, 64, 3) and empty.std() > 10  # cluttered, not flat


def test_stripe_detector_finds_stripes_and_nothing_else():
    a, a_masks = tasks.texture_domain("a", 100, size=64, seed=5)
    b, b_masks = tasks.texture_domain("b", 100, size=64, seed=5)
    assert np.mean([tasks.is_striped(x, m) for x, m in zip(b, b_masks)]) == 1.0
    assert np.mean([tasks.is_striped(x, m) for x, m in zip(a, a_masks)]) == 0.0
    rng = np.random.default_rng(0)
    fooled = {"noise": [], "blotches": [], "one edge": [], "checkers": []}
    yy, xx = np.mgrid[0:64, 0:64]
    for x, m in zip(a, a_masks):
        inside = m > 0.5
        for kind in fooled:
            if kind == "noise":
                fill = np.where(rng.random((64, 64)) < 0.5, 20.0, 235.0)
            elif kind == "blotches":
                smooth = scipy.ndimage.gaussian_filter(rng.normal(size=(64, 64)), 3)
                fill = np.where(smooth > 0, 235.0, 20.0)
            elif kind == "one edge":
                fill = np.where(xx > np.median(xx[inside]), 235.0, 20.0)
            else:
                fill = np.where((yy // 4 + xx // 4) % 2, 235.0, 20.0)
            y = x.astype(np.float32).copy()
            y[inside] = fill[inside][:, None]
            fooled[kind].append(tasks.is_striped(y, m))
    rates = {kind: float(np.mean(v)) for kind, v in fooled.items()}
    assert rates["noise"] == 0.0 and rates["one edge"] == 0.0 and rates["checkers"] == 0.0
    assert rates["blotches"] <= 0.05, rates


class _Painter:
    """A stand-in translator: the identity, or the ground truth's stripes painted in."""
    has_attention = True

    def __init__(self, stripes=None, masks=None):
        self.stripes, self.masks = stripes, masks

    def translate(self, images, direction="a2b", batch_size=16):
        x = np.asarray(images, np.float32)
        if self.stripes is None or len(images) != len(self.masks):
            mask = np.zeros(x.shape[:3] + (1,), np.float32)
            return {"image": x / 127.5 - 1.0, "mask": mask}
        m = self.masks[..., None]
        out = m * self.stripes + (1 - m) * x
        return {"image": out / 127.5 - 1.0, "mask": m}


def test_texture_scores_tell_the_identity_from_a_perfect_translation():
    a, masks = tasks.texture_domain("a", 20, size=64, seed=9)
    empty = tasks.empty_images(5, size=64)
    identity = quality.texture_scores(_Painter(), a, masks, empty)
    assert identity["background_psnr"] == quality.PSNR_CAP
    assert identity["empty_psnr"] == quality.PSNR_CAP
    assert identity["objects_textured"] == 0.0 and identity["mask_iou"] == 0.0
    # stripes painted inside the objects: the objects striped, the background kept
    yy, xx = np.mgrid[0:64, 0:64]
    stripes = np.where(np.sin(2 * np.pi * (yy + 0.5 * xx) / 7) > 0, 230.0, 25.0)
    painted = np.broadcast_to(stripes[None, ..., None], a.shape).astype(np.float32)
    perfect = quality.texture_scores(_Painter(painted, masks), a, masks, empty)
    assert perfect["background_psnr"] >= 40
    assert perfect["objects_textured"] >= 0.9
    assert perfect["mask_iou"] > 0.95 and perfect["mask_mean_background"] == 0.0
    assert perfect["empty_psnr"] == quality.PSNR_CAP


def test_digits_task_needs_a_translation_that_keeps_each_digit():
    source, source_labels = tasks.digits_domain("a", 600, size=32, seed=1)
    perfect, perfect_labels = tasks.digits_domain("a", 600, size=32, seed=1, style="b")
    target, target_labels = tasks.digits_domain("b", 600, size=32, seed=2)
    held_out, held_out_labels = tasks.digits_domain("b", 600, size=32, seed=3)
    assert source.shape == (600, 32, 32, 3) and set(source_labels) == set(range(10))
    # each class comes in many shapes: a translator must keep each digit, not the class
    assert len(np.unique(source.reshape(600, -1), axis=0)) == 600
    np.testing.assert_array_equal(perfect_labels, source_labels)
    # the perfect translation keeps each digit's place and size, in the target's style
    ink_a = source[..., 0] < 128
    ink_b = perfect[..., 0] > 128
    rows = np.arange(32)
    centre_a = (ink_a.sum(2) * rows).sum(1) / ink_a.sum((1, 2))
    centre_b = (ink_b.sum(2) * rows).sum(1) / ink_b.sum((1, 2))
    assert np.median(np.abs(centre_a - centre_b)) < 1.0
    assert np.mean(np.abs(perfect.astype(int) - source.astype(int))) > 100  # page inverted

    accuracy = kag.metrics.domain_adaptation_accuracy
    target_trained = accuracy(held_out, held_out_labels, target, target_labels, epochs=8)
    untranslated = accuracy(source, source_labels, target, target_labels, epochs=8)
    perfectly_translated = accuracy(perfect, source_labels, target, target_labels, epochs=8)
    # a translator that draws every digit of a class one way (mode collapse per class)
    one_per_class = {c: held_out[np.flatnonzero(held_out_labels == c)[0]] for c in range(10)}
    collapsed = np.stack([one_per_class[c] for c in source_labels])
    collapsed_accuracy = accuracy(collapsed, source_labels, target, target_labels, epochs=8)
    assert target_trained > 0.85 and perfectly_translated > 0.85
    assert untranslated < 0.4  # the renderings differ enough that translation matters
    assert collapsed_accuracy < 0.65


def _tiny_uag():
    model = kag.models.build("uag", image_size=32, ngf=8, ndf=8, n_blocks=1,
                             attention_ngf=8, stop_attention=False,
                             masked_discriminator=False)
    model.compile()
    return model


def test_attention_models_log_mask_statistics_and_warn_on_collapse():
    a, masks = tasks.texture_domain("a", 4, size=32)
    b, _ = tasks.texture_domain("b", 4, size=32)
    data = kag.data.unpaired(a, b, image_size=32, load_size=32, batch_size=2,
                             augment=False)
    model = _tiny_uag()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MaskCollapseWarning)  # a healthy mask: no warning
        history = model.fit(data, epochs=1, verbose=0,
                            callbacks=[kag.callbacks.MaskIoU(a, masks)]).history
    for domain in "ab":
        mean = history[f"mask_{domain}_mean"][0]
        assert 0.05 < mean < 0.95
        assert history[f"mask_{domain}_active_fraction"][0] > 0.5
        assert history[f"mask_{domain}_active_mean"][0] >= mean
    # the logged IoU is the IoU of the model's own masks on those images
    expected = kag.metrics.mask_iou(model.translate(a)["mask"], masks)
    assert history["mask_iou_a"][0] == pytest.approx(expected, abs=1e-6)
    on = masks > 0.5  # and where the mask goes: its means on and off the objects
    own = model.translate(a)["mask"][..., 0]
    assert history["mask_objects_a"][0] == pytest.approx(own[on].mean(), abs=1e-6)
    assert history["mask_background_a"][0] == pytest.approx(own[~on].mean(), abs=1e-6)
    # the attention output pushed to 0: the identity, and a warning that says so
    for net in (model.attention_net_a, model.attention_net_b):
        last = net.layers[-1] if net.layers[-1].weights else [
            layer for layer in net.layers if layer.weights][-1]
        bias = [w for w in last.weights if "bias" in w.path][0]
        bias.assign(np.full(bias.shape, -30.0, np.float32))
    with pytest.warns(MaskCollapseWarning) as record:
        history = model.fit(data, epochs=1, verbose=0).history
    messages = sorted(str(w.message) for w in record if w.category is MaskCollapseWarning)
    assert len(messages) == 2
    for domain, message in zip("ab", messages):
        assert f"domain {domain} attends to 0.0% " in message and "collapsed to 0" in message
    assert history["mask_a_active_fraction"][0] < 0.005
    # pushed to 1: the whole image repainted, and a warning that says so
    for net in (model.attention_net_a, model.attention_net_b):
        last = [layer for layer in net.layers if layer.weights][-1]
        bias = [w for w in last.weights if "bias" in w.path][0]
        bias.assign(np.full(bias.shape, 30.0, np.float32))
    with pytest.warns(MaskCollapseWarning) as record:
        history = model.fit(data, epochs=1, verbose=0).history
    messages = [str(w.message) for w in record if w.category is MaskCollapseWarning]
    assert len(messages) == 2 and all("collapsed to 1" in m for m in messages), messages
    assert history["mask_a_mean"][0] > 0.95


def test_bench_quality_from_the_command_line(capsys):
    result = cli.main(["bench", "quality", "--model", "uag", "--steps", "2", "--no-reference",
                       "--image-size", "32", "--set", "ngf=8", "--set", "n_blocks=1",
                       "--set", "attention_ngf=8", "--set", "ndf=8", "--json"])
    out = capsys.readouterr().out
    assert "texture task, 32 px, 2 steps" in out and "uag" in out and "targets" in out
    row = json.loads(out.strip().splitlines()[-1])["results"][0]
    assert row == result["results"][0]
    assert row["hparams"]["ngf"] == 8 and row["hparams"]["n_blocks"] == 1
    for key in ("background_psnr", "objects_textured", "mask_iou", "empty_psnr"):
        assert row[key] is not None
    assert set(row["mask_history"]) >= {"mask_a_mean", "mask_b_active_fraction",
                                        "mask_iou_a"}
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "quality", "--model", "uag", "--set", "ngff=8"])
    assert exit_info.value.code == 2


@pytest.fixture
def unpaired_calls(monkeypatch):
    """The keyword arguments of each ``unpaired`` call the bench makes, with the
    classifier's accuracy stubbed out (these tests look at how the bench trains)."""
    calls = []
    real_unpaired = quality.unpaired

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return real_unpaired(*args, **kwargs)

    monkeypatch.setattr(quality, "unpaired", recording)
    monkeypatch.setattr(kag.metrics, "domain_adaptation_accuracy", lambda *a, **k: 0.5)
    return calls


def test_digits_are_trained_without_flips_textures_with(unpaired_calls):
    # a mirrored seven-segment 2 is a 5: flipped training images would make "keep the
    # class" and "mirror it" equally good translations
    tiny = {"ngf": 4, "ndf": 4, "n_blocks": 1}
    for task in ("digits", "texture"):
        result = quality.bench_quality("cyclegan", task=task, steps=1, image_size=32, **tiny)
        if task == "digits":
            assert "perfect" in quality.format_quality(result)
    assert [call["augment"] for call in unpaired_calls] == [False, True]


def test_digits_bench_gives_the_source_labels_to_a_model_that_learns_from_them(
        unpaired_calls):
    # DA-GAN's Sec. 3.1 regularisation (--set n_classes=10) needs the source labels in
    # its batches; a model without a classifier, and the reference, train without them
    tiny = {"nf": 4, "ngf": 4, "ndf": 4, "n_blocks": 1}
    quality.bench_quality("dagan", task="digits", steps=1, reference=False, n_classes=10,
                          **tiny)
    _, expected = tasks.digits_domain("a", quality.TRAIN_IMAGES, 32, 0)
    np.testing.assert_array_equal(unpaired_calls[0].get("labels_a"), expected)
    quality.bench_quality("dagan", task="digits", steps=1, reference=False, **tiny)
    assert unpaired_calls[1].get("labels_a") is None
    # unit_da always trains with them (UNIT's Sec. 4: a classifier on the source)
    quality.bench_quality("unit_da", task="digits", steps=1, reference=False, ngf=4, ndf=4)
    np.testing.assert_array_equal(unpaired_calls[2].get("labels_a"), expected)


def test_texture_bench_refuses_a_model_that_needs_labels(capsys):
    with pytest.raises(ValueError, match="--task digits"):
        quality.bench_quality("unit_da", task="texture", steps=1)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "quality", "--model", "unit_da", "--steps", "1"])
    assert exit_info.value.code == 2
    assert "--task digits" in capsys.readouterr().err


def test_bench_quality_trains_at_the_rate_for_its_budget_or_the_one_given(monkeypatch,
                                                                          capsys):
    # UNIT's paper rate is for runs of ~100k iterations: the bench trains it at its own
    # choice for 3,000 steps, the reference at its paper's, and --lr overrides the model's
    rates = []
    real_train_on_task = quality.train_on_task

    def recording(name, *args, **kwargs):
        net, history = real_train_on_task(name, *args, **kwargs)
        rates.append((name, net.base_learning_rates["generator"]))
        return net, history

    monkeypatch.setattr(quality, "train_on_task", recording)
    monkeypatch.setattr(kag.metrics, "domain_adaptation_accuracy", lambda *a, **k: 0.5)
    result = quality.bench_quality("unit", task="digits", steps=1, ngf=4, ndf=4)
    # the model's own choice for a short run, as attngan train and build() give it
    assert rates == [("unit", pytest.approx(UNIT.short_run_learning_rate)),
                     ("cyclegan", pytest.approx(CycleGAN.learning_rate))]
    assert UNIT.short_run_learning_rate != UNIT.learning_rate
    assert [r["learning_rate"] for r in result["results"]] == [pytest.approx(r)
                                                               for _, r in rates]
    cli.main(["bench", "quality", "--model", "unit", "--task", "digits", "--steps", "1",
              "--no-reference", "--lr", "5e-5", "--set", "ngf=4", "--set", "ndf=4"])
    assert rates[-1] == ("unit", pytest.approx(5e-5))
    assert "5e-05" in capsys.readouterr().out


def test_bench_quality_trains_in_the_precision_asked(monkeypatch, capsys):
    # --precision was once accepted by bench quality and ignored: a "bfloat16" run trained
    # in float32. Both models of a task train in it, each suite run too, and each row says so.
    from keras_attngan.benchmarks import family, suite

    monkeypatch.setattr(kag.metrics, "domain_adaptation_accuracy", lambda *a, **k: 0.5)
    monkeypatch.setattr(suite, "_classifier_accuracy", lambda *a, **k: 0.5)
    tiny = ["--set", "ngf=4", "--set", "ndf=4"]
    result = cli.main(["bench", "quality", "--model", "unit", "--task", "digits", "--steps",
                       "1", "--precision", "bfloat16", "--json", *tiny])
    assert [r["precision"] for r in result["results"]] == ["bfloat16", "bfloat16"]
    assert "seed 0, bfloat16" in capsys.readouterr().out
    run = suite.run_variant("unit", family.variant("tune-segments"), 0, 1,
                            precision="bfloat16", ngf=4, ndf=4)
    assert run["precision"] == "bfloat16" and "bfloat16" in suite.format_run(run)
    assert quality.bench_quality("unit", task="digits", steps=1, reference=False, ngf=4,
                                 ndf=4)["results"][0]["precision"] == "float32"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "data", "--precision", "bfloat16"])
    assert exit_info.value.code == 2
    assert "--precision applies to bench train and bench quality" in capsys.readouterr().err
