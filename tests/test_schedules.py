"""The papers' schedules run inside plain ``model.fit``, on every path: no package
callbacks, the user's own, the package's (applied once), ``initial_epoch``,
``steps_per_execution``; frozen networks stay frozen; unreachable schedules are refused;
each model's objective is its paper's weighted sum."""

import numpy as np
import keras
import pytest

import keras_attngan as kag
from conftest import TINY, build_compiled as build, pair, snapshot

TINY_SAT = dict(TINY, vgg_weights=None)


class Snapshots(keras.callbacks.Callback):
    """The user's own callback: keeps copies of some variables at each epoch's end."""

    def __init__(self, get):
        super().__init__()
        self.get, self.seen = get, []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(snapshot(self.get()))


def test_sat_stages_and_lambda_in_plain_fit_with_g0_frozen_in_stage_2(tiny_data):
    model = build("sat", **TINY_SAT, lambda_interval=1)
    # all of G_0's weights: kernels and batch norm's moving statistics
    g0 = Snapshots(lambda: model.generator.weights)
    steps = Snapshots(lambda: [model.generator_optimizer.iterations,
                               model.attention_optimizer.iterations])

    class LambdaAtStart(keras.callbacks.Callback):  # lambda as each epoch's first step sees it
        seen = []

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                self.seen.append(float(model.reg_weight.numpy()))

    history = model.fit(tiny_data, epochs=3, verbose=0,
                        callbacks=[g0, steps, LambdaAtStart()]).history
    assert history["stage"] == [1.0, 2.0, 3.0]  # unset stage epochs: 1/3 and 2/3 of the run
    assert len(history["lambda"]) == 3 and history["lambda"][0] > 0
    # lambda grew in stage 1 and its induction restarted from 0 at each new stage
    assert LambdaAtStart.seen == [0.0, 0.0, 0.0]
    assert history["learning_rate"][-1] < history["learning_rate"][0]
    # stage 2 (the second epoch): G_0 bit-identical, its Adam did not step
    assert all(np.array_equal(a, b) for a, b in zip(g0.seen[0], g0.seen[1]))
    assert [int(s[0]) for s in steps.seen] == [2, 2, 4]
    assert [int(s[1]) for s in steps.seen] == [0, 2, 4]
    # stage 3 trains it again, batch-norm statistics included
    assert not all(np.array_equal(a, b) for a, b in zip(g0.seen[1], g0.seen[2]))


def test_uag_attention_stops_in_plain_fit_and_stays_bit_identical(tiny_data):
    model = build("uag", **TINY, attention_ngf=8, attention_stop_min_steps=0)
    # every weight of the attention networks, running statistics included
    attention = Snapshots(lambda: model.attention_net_a.weights
                          + model.attention_net_b.weights)
    history = model.fit(tiny_data, epochs=3, verbose=0, callbacks=[attention]).history
    # unset: 30 % of a 3-epoch run, rounded: the stop comes at the second epoch
    assert history["attention_stopped"] == [0.0, 1.0, 1.0]
    assert history["masked_discriminator"] == [0.0, 1.0, 1.0]
    assert int(model.attention_optimizer.iterations) == 2  # the first epoch's steps only
    assert all(np.array_equal(a, b) for a, b in zip(attention.seen[0], attention.seen[2]))


def test_cyclegan_decay_in_plain_fit(tiny_data):
    history = build("cyclegan", **TINY).fit(tiny_data, epochs=4, verbose=0).history
    # constant for half the run, then linear to 0 (the reference's rule)
    assert history["learning_rate"] == pytest.approx([2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 / 3])


def test_the_schedule_runs_once_with_any_callbacks(tiny_data, tmp_path, monkeypatch):
    calls = []
    original = kag.models.TranslationGAN.apply_schedule

    def counting(self, epoch):
        calls.append(epoch)
        return original(self, epoch)

    monkeypatch.setattr(kag.models.TranslationGAN, "apply_schedule", counting)
    model = build("cyclegan", **TINY)
    history = model.fit(tiny_data, epochs=2, verbose=0, callbacks=[
        keras.callbacks.TensorBoard(str(tmp_path / "user"))]).history
    assert calls == [0, 1] and "learning_rate" in history
    calls.clear()
    model = build("cyclegan", **TINY)
    model.fit(tiny_data, epochs=2, verbose=0,
              callbacks=kag.callbacks.default(model, str(tmp_path / "run")))
    assert calls == [0, 1]  # the package's EpochSchedule is the one fit uses


def test_initial_epoch_is_the_true_epoch(tiny_data):
    model = build("uag", **TINY, attention_ngf=8, attention_stop_epoch=2)
    history = model.fit(tiny_data, epochs=4, initial_epoch=2, verbose=0).history
    assert history["attention_stopped"] == [1.0, 1.0]
    assert int(model.attention_optimizer.iterations) == 0
    # epochs 2 and 3 of a 4-epoch run: the decay's third and fourth factors
    assert history["learning_rate"] == pytest.approx([2e-4 * 2 / 3, 2e-4 / 3])


def test_steps_per_execution_gives_the_same_schedule(tiny_data):
    logs = []
    for steps in (1, 2):  # lambda's induction counts steps, not executions
        keras.utils.set_random_seed(0)
        model = kag.models.build("sat", **TINY_SAT, lambda_interval=1, use_attention=False)
        model.compile(steps_per_execution=steps)
        logs.append(model.fit(tiny_data, epochs=2, verbose=0).history)
    assert logs[0]["lambda"][-1] > logs[0]["lambda"][0] > 0
    for key in ("stage", "lambda", "learning_rate"):
        assert logs[0][key] == pytest.approx(logs[1][key]), key


@pytest.mark.parametrize("name, hparams, epochs, option", [
    ("sat", dict(TINY_SAT, stage_epochs=(10, 20)), 10, "stage_epochs[0]=10"),
    ("uag", dict(TINY, attention_ngf=8, attention_stop_epoch=30), 20,
     "attention_stop_epoch=30"),
    ("aggan", dict(TINY, curriculum_epoch=10), 5, "curriculum_epoch=10"),
    ("cyclegan", dict(TINY, decay_start=300), 200, "decay_start=300"),
])
def test_a_schedule_the_run_never_reaches_is_refused_before_any_step(
        tiny_data, name, hparams, epochs, option):
    model = build(name, **hparams)
    with pytest.raises(ValueError, match=rf"{option.replace('[', '.').replace(']', '.')} is "
                                         rf"never reached in a {epochs}-epoch run"):
        model.fit(tiny_data, epochs=epochs, verbose=0)
    assert int(model.generator_optimizer.iterations) == 0


def test_the_schedule_is_printed_at_the_start(tiny_data, capsys):
    model = build("uag", **TINY, attention_ngf=8, attention_stop_min_steps=0)
    model.fit(tiny_data.take(1), epochs=4, initial_epoch=3, verbose=1)  # one epoch trained
    printed = capsys.readouterr().out
    assert "UAG schedule for 4 epochs (paper: 100)" in printed
    assert "from epoch: 1 (attention_stop_epoch, paper: 30 of 100, scaled to the run)" \
        in printed
    assert "decay to 0 from this epoch: 2" in printed


@pytest.mark.parametrize("name, expected", [
    ("cyclegan", {"g_a2b": 1, "g_b2a": 1, "cycle_a": 10, "cycle_b": 10, "idt_a": 5,
                  "idt_b": 5}),
    ("unit", {"gan_1": 10, "gan_2": 10, "kl": 0.1, "recon_1": 100, "recon_2": 100,
              "cycle_kl": 0.1, "cycle_1": 100, "cycle_2": 100}),
])
def test_objective_is_the_papers_weighted_sum(name, expected):
    model = kag.models.build(name, **TINY)
    assert coefficients(model.generator_objective, expected) == pytest.approx(expected)
    # one weight changed: exactly its term's coefficient changes
    changed = kag.models.build(name, **TINY, lambda_cycle=1.0)
    got = coefficients(changed.generator_objective, expected)
    for term, weight in expected.items():
        if term.startswith("cycle_") and term != "cycle_kl":
            assert got[term] == pytest.approx(1.0)
        elif term.startswith("idt"):
            assert got[term] == pytest.approx(0.5)  # lambda_identity is relative to it
        else:
            assert got[term] == pytest.approx(weight)
    if name == "unit":  # the cycle ablation removes both cycle terms, nothing else
        ablated = coefficients(kag.models.build(name, **TINY, cycle=False).generator_objective,
                               expected)
        assert ablated == pytest.approx({k: 0.0 if k.startswith("cycle") else v
                                         for k, v in expected.items()})


def test_aggan_objective_is_eq_9_and_each_switch_removes_its_term():
    terms = ("g_gan", "tv", "cycle", "pixel")
    for r in (0.01, 0.5):
        model = kag.models.build("aggan", **TINY)
        got = coefficients(lambda loss: model.generator_objective(loss, r), terms)
        assert got == pytest.approx({"g_gan": (1 - r) * 0.5, "tv": (1 - r) * 1e-6,
                                     "cycle": r * 10, "pixel": r * 1})
        for switch, term in (("attention_loss", "tv"), ("pixel_loss", "pixel")):
            ablated = kag.models.build("aggan", **TINY, **{switch: False})
            coefs = coefficients(lambda loss: ablated.generator_objective(loss, r), terms)
            assert coefs == pytest.approx({**got, term: 0.0}), switch


def coefficients(objective, terms):
    """Each loss term's weight in a linear ``objective``: its change for a unit step."""
    base = {term: 0.0 for term in terms}
    zero = float(objective(base))
    return {term: float(objective({**base, term: 1.0})) - zero for term in terms}


def test_cyclegan_discriminator_loss_is_halved():
    real, fake = np.full((1, 4, 4, 1), 0.25, "float32"), np.full((1, 4, 4, 1), 0.5, "float32")
    value = float(kag.losses.discriminator_adversarial(real, fake, "lsgan"))
    assert value == pytest.approx(0.5 * ((0.25 - 1) ** 2 + 0.5 ** 2))


def test_uag_masked_stage_pool_and_discriminator_inputs(demo_arrays):
    """After the stop the pool stores (mapped image, raw output, source mask) and D sees
    the raw output where the source image's mask exceeds tau; real images where their
    own mask does."""
    model = build("uag", **TINY, attention_ngf=8, attention_stop_epoch=0, pool_size=2)
    model.apply_schedule(0)
    real_a, real_b = pair(demo_arrays)
    # before the step's update; in training mode, as the step computes them (the
    # attention nets normalise by running statistics only at inference)
    fake_b, raw_b, mask_a = model._map(real_a, "a2b", training=True)
    mask_b = np.array(model._attention(real_b, "b", training=True))
    _, fakes = model._generator_step(real_a, real_b)
    c = 3
    stored = np.array(fakes["b"])
    assert np.allclose(stored[..., :c], fake_b, atol=1e-5)
    assert np.allclose(stored[..., c:2 * c], raw_b, atol=1e-5)
    assert np.allclose(stored[..., 2 * c:], mask_a, atol=1e-6)
    assert np.allclose(np.array(fakes["mask_real_b"]), mask_b, atol=1e-6)
    d_fake = np.array(model._discriminator_input(stored[..., :c], stored[..., c:2 * c],
                                                 stored[..., 2 * c:]))
    above = np.broadcast_to(np.array(mask_a) > model.threshold, d_fake.shape)
    assert np.allclose(d_fake[above], np.array(raw_b)[above], atol=1e-5)
    assert np.all(d_fake[~above] == 0)
    # the pool hands back what it stored, in order, until it is full
    pooled = np.array(model.pool_b.query(fakes["b"]))
    assert np.allclose(pooled, stored)


# every weight of the objective, changed alone, changes exactly its own terms
@pytest.mark.parametrize("name, weight, terms, objective_args", [
    ("cyclegan", "lambda_cycle", ("cycle_a", "cycle_b", "idt_a", "idt_b"), ()),
    ("cyclegan", "lambda_identity", ("idt_a", "idt_b"), ()),
    ("unit", "lambda_gan", ("gan_1", "gan_2"), ()),
    ("unit", "lambda_kl", ("kl",), ()),
    ("unit", "lambda_recon", ("recon_1", "recon_2"), ()),
    ("unit", "lambda_cycle_kl", ("cycle_kl",), ()),
    ("unit", "lambda_cycle", ("cycle_1", "cycle_2"), ()),
    ("aggan", "lambda_gan", ("g_gan",), (0.5,)),
    ("aggan", "lambda_tv", ("tv",), (0.5,)),
    ("aggan", "lambda_cycle", ("cycle",), (0.5,)),
    ("aggan", "lambda_pixel", ("pixel",), (0.5,)),
])
def test_each_weight_changes_exactly_its_terms(name, weight, terms, objective_args):
    all_terms = {"cyclegan": ("g_a2b", "g_b2a", "cycle_a", "cycle_b", "idt_a", "idt_b"),
                 "unit": ("gan_1", "gan_2", "kl", "recon_1", "recon_2", "cycle_kl",
                          "cycle_1", "cycle_2"),
                 "aggan": ("g_gan", "tv", "cycle", "pixel")}[name]
    model = kag.models.build(name, **TINY)
    before = coefficients(lambda loss: model.generator_objective(loss, *objective_args),
                          all_terms)
    changed = kag.models.build(name, **TINY, **{weight: 3.0 * getattr(model, weight)})
    after = coefficients(lambda loss: changed.generator_objective(loss, *objective_args),
                         all_terms)
    for term in all_terms:
        if term in terms:
            assert after[term] == pytest.approx(3.0 * before[term]), term
            assert before[term] != 0, term
        else:
            assert after[term] == pytest.approx(before[term]), term


def test_uag_discriminators_pair_each_domain_with_its_own_real_mask(demo_arrays):
    """d_a judges real A images through A's attention mask, d_b real B through B's: a
    mask given to the other domain's discriminator changes that discriminator's loss."""
    model = build("uag", **TINY, attention_ngf=8, attention_stop_epoch=0, pool_size=2)
    model.apply_schedule(0)
    real_a, real_b = pair(demo_arrays)
    c = 3
    pooled_a = np.concatenate([real_a, real_a, np.ones_like(real_a[..., :1])], -1)
    pooled_b = np.concatenate([real_b, real_b, np.ones_like(real_b[..., :1])], -1)
    ones, zeros = np.ones_like(real_a[..., :1]), np.zeros_like(real_a[..., :1])

    def loss_of(disc, real, mask):
        real_in = model._discriminator_input(real, real, mask)
        fake_in = model._discriminator_input(real[..., :c], real, ones)
        return float(kag.losses.discriminator_adversarial(disc(real_in), disc(fake_in),
                                                          model.gan_mode))

    weights = [w.numpy().copy() for w in model.discriminator_variables]
    loss = model._discriminator_step(real_a, real_b, pooled_a, pooled_b, ones, zeros)
    for w, saved in zip(model.discriminator_variables, weights):  # undo the update
        w.assign(saved)
    assert float(loss["d_a"]) == pytest.approx(loss_of(model.discriminator_a, real_a, ones),
                                               rel=2e-6)
    assert float(loss["d_b"]) == pytest.approx(loss_of(model.discriminator_b, real_b, zeros),
                                               rel=2e-6)
    assert loss_of(model.discriminator_b, real_b, zeros) != pytest.approx(
        loss_of(model.discriminator_b, real_b, ones), rel=2e-6)
