"""The task family (benchmarks.family) and its suite (benchmarks.suite): each variant's
ground truth, disjoint tuning and held-out sets, and scores that fail the outputs a
translator must not get away with (stripes everywhere, a constant mask)."""

import numpy as np
import pytest

from keras_attngan import cli
from keras_attngan.benchmarks import family, suite, tasks


def test_tuning_and_held_out_sets_are_disjoint_and_named():
    for kind in ("texture", "digits"):
        tuning, held_out = family.variants(kind, "tuning"), family.variants(kind, "held-out")
        assert len(held_out) >= 3 and len(tuning) >= 2
        assert not {v.name for v in tuning} & {v.name for v in held_out}
    # other photographs, colour ranges and shapes
    assert not set(family.photos("tuning")) & set(family.photos("held-out"))
    texture = family.variants("texture", "held-out")
    assert {t for v in texture for t in [v.texture]} == set(family.TEXTURES)
    assert {s for v in texture for s in v.shapes} == set(family.SHAPES)
    assert {v.background for v in texture} == {"clutter", "photo"}
    assert max(v.count[1] for v in texture) == 3 and min(v.count[0] for v in texture) == 0
    with pytest.raises(ValueError, match="no task variant 'nope'"):
        family.variant("nope")
    with pytest.raises(ValueError, match="suite must be one of"):
        family.variants("texture", "test")


@pytest.mark.parametrize("v", family.TEXTURE_VARIANTS, ids=lambda v: v.name)
def test_texture_variants_ground_truth(v):
    size = 64
    task = family.texture_task(v, n_train=6, n_test=12, size=size, seed=3)
    assert task["a"].shape == (6, size + v.jitter, size + v.jitter, 3)
    assert task["test"].shape == (12, size, size, 3) and task["test"].dtype == np.uint8
    counts = [len(parts) for parts in task["test_objects"]]
    assert min(counts) >= v.count[0] and max(counts) <= v.count[1]
    for masks, parts in zip(task["test_masks"], task["test_objects"]):
        expected = np.maximum.reduce(parts) if parts else np.zeros((size, size))
        assert np.array_equal(masks, expected)
    # B's objects carry the texture and A's do not, by the fixed detectors
    b, _, b_objects = family.texture_images(v, "b", 12, size, seed=4)
    a, _, a_objects = family.texture_images(v, "a", 12, size, seed=4)
    b_found = [family.is_textured(v, x, m) for x, parts in zip(b, b_objects) for m in parts]
    a_found = [family.is_textured(v, x, m) for x, parts in zip(a, a_objects) for m in parts]
    assert np.mean(b_found) >= 0.8 and np.mean(a_found) <= 0.1, (b_found, a_found)
    # the background is left exactly where no object is
    backgrounds = np.full((3, size, size, 3), 100.0, np.float32)
    drawn, unions, _ = family.texture_images(v, "a", 3, size, seed=5, backgrounds=backgrounds)
    assert np.all(drawn[unions == 0] == 100)


def test_photo_variants_test_on_a_photograph_training_never_shows(monkeypatch):
    used = []
    real = family.photo_crops

    def recording(rng, photographs, n, size):
        used.append({id(p) for p in photographs})
        return real(rng, photographs, n, size)

    found = family.photos("held-out")
    monkeypatch.setattr(family, "photos", lambda split: found)
    monkeypatch.setattr(family, "photo_crops", recording)
    family.texture_task(family.variant("held-stripes-photo"), n_train=2, n_test=2, seed=0)
    train, test = used[0] | used[1], used[2] | used[3]
    assert train and test and not train & test
    crops = real(np.random.default_rng(0), list(found.values()), 5, 32)
    assert crops.shape == (5, 32, 32, 3) and crops.std() > 10  # photographs, not flat


@pytest.mark.parametrize("v", family.DIGIT_VARIANTS, ids=lambda v: v.name)
def test_digit_variants_keep_the_class_and_change_the_stroke(v):
    source, labels = family.digit_images(v, "a", 40, 32, seed=1)
    perfect, perfect_labels = family.digit_images(v, "a", 40, 32, seed=1, style="b")
    target, _ = family.digit_images(v, "b", 40, 32, seed=1)
    assert np.array_equal(labels, perfect_labels) and set(labels) == set(range(10))
    # the perfect translation looks like the target domain, not like the source
    luma = [tasks.luminance(x).mean() for x in (source, perfect, target)]
    assert abs(luma[1] - luma[2]) < abs(luma[1] - luma[0]) / 3, luma
    # and differs from the source in stroke shape, not only in colour: the ink masks
    # (dark on the source, light on the target) overlap far less than identical ones
    ink_source = tasks.luminance(source) < 128
    ink_perfect = tasks.luminance(perfect) > 128
    overlap = (ink_source & ink_perfect).sum() / (ink_source | ink_perfect).sum()
    assert overlap < 0.6, overlap


def test_the_scores_fail_stripes_everywhere_and_a_constant_mask():
    v = family.variant("tune-stripes-clutter")
    task = family.texture_task(v, n_train=2, n_test=10, size=64, seed=0)
    test, objects, empty = task["test"], task["test_objects"], task["empty"]
    truth = task["test_masks"]
    stripes = tasks._stripes(np.random.default_rng(0), 64)[..., None]
    striped = (tasks.STRIPE_DARK + (tasks.STRIPE_LIGHT - tasks.STRIPE_DARK) * stripes)
    striped = np.broadcast_to(striped, test.shape).astype(np.uint8)
    # what a translator should give: stripes on the objects, the rest untouched
    right = np.where(truth[..., None] > 0.5, striped, test).astype(np.uint8)
    scores = suite.score_texture(v, test, right, objects, empty, empty, truth)
    assert scores["background_ok"] == 1.0 and scores["objects_textured"] >= 0.9
    assert scores["mask_iou"] == pytest.approx(1.0)
    assert scores["raw_textured"] is None  # no raw output given
    # a generator whose raw output is striped, behind a mask that lets a quarter through
    blend = (0.75 * test + 0.25 * striped).astype(np.uint8)
    diluted = suite.score_texture(v, test, blend, objects, empty, empty, truth, raw=striped)
    assert diluted["raw_textured"] >= 0.9 and diluted["objects_textured"] <= 0.3
    assert suite.score_texture(v, test, blend, objects, empty, empty, truth,
                               raw=test)["raw_textured"] <= 0.1
    # stripes everywhere: every object textured, but no background kept
    everywhere = suite.score_texture(v, test, striped, objects, empty,
                                     striped[:len(empty)], np.ones_like(truth))
    assert everywhere["objects_textured"] >= 0.9
    assert everywhere["background_ok"] == 0.0 and everywhere["background_psnr"] < 20
    assert everywhere["empty_ok"] == 0.0
    assert everywhere["mask_iou"] < 0.3  # a constant mask of 1
    assert suite.score_texture(v, test, test, objects, empty, empty,
                               np.zeros_like(truth))["mask_iou"] == 0.0  # ...and of 0
    # on a variant with object-free images, a mask that never fires still scores 0
    spots = family.variant("tune-spots-photo")
    task = family.texture_task(spots, n_train=2, n_test=20, size=64, seed=0)
    assert min(len(parts) for parts in task["test_objects"]) == 0  # some are object-free
    assert suite.score_texture(spots, task["test"], task["test"], task["test_objects"],
                               task["empty"], task["empty"],
                               np.zeros_like(task["test_masks"]))["mask_iou"] == 0.0
    # a third of the images repainted: the mean of dB passes, the fraction does not
    third = right.copy()
    third[:4] = striped[:4]
    mixed = suite.score_texture(v, test, third, objects, empty, empty, truth)
    assert mixed["background_psnr"] > 35 and mixed["background_ok"] <= 0.7
    assert mixed["background_pooled"] < 30


def test_the_suite_trains_each_variant_and_seed_and_prints_mean_and_worst(monkeypatch,
                                                                         capsys):
    finished = []
    result = suite.bench_suite("uag", "texture", "held-out", seeds=(100,), steps=1,
                               reference=False, ngf=4, ndf=4, n_blocks=1, attention_ngf=4,
                               variant_names=("held-stripes-photo", "held-spots-clutter"),
                               on_run=finished.append)
    runs = result["runs"]["uag"]
    assert [(r["variant"], r["seed"]) for r in runs] == [
        ("held-stripes-photo", 100), ("held-spots-clutter", 100)]
    assert finished == runs  # each run reported as it finished
    line = suite.format_run(runs[0])
    assert line.startswith("uag held-stripes-photo seed 100: background_psnr ")
    assert "mask_iou" in line and "mask at the end" in line
    assert all(0.0 <= r["raw_textured"] <= 1.0 for r in runs)  # UAG's raw output scored
    summary = result["summary"]["uag"]
    iou = summary["variants"]["held-stripes-photo"]["mask_iou"]
    assert iou["min"] <= iou["mean"] <= iou["max"]
    means = [row["background_psnr"]["mean"] for row in summary["variants"].values()]
    assert summary["suite"]["background_psnr"] == pytest.approx(
        {"mean": np.mean(means), "worst": np.min(means)})
    table = suite.format_suite(result)
    assert "held-spots-clutter" in table and "worst" in table
    # the CLI, digits, with the classifier stubbed (it trains for minutes)
    monkeypatch.setattr(suite, "_classifier_accuracy", lambda *a: 0.5)
    cli.main(["bench", "quality", "--suite", "held-out", "--task", "digits", "--model", "unit",
              "--variant", "held-dots-photo", "--seeds", "7", "--steps", "1",
              "--no-reference", "--set", "ngf=4", "--set", "ndf=4"])
    out, err = capsys.readouterr()
    assert "quality suite held-out, digits task family" in out
    assert "held-dots-photo" in out and "seeds [7]" in out
    assert "unit held-dots-photo seed 7: accuracy 0.50, no_translation 0.50" in err
