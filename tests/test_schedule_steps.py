"""Switches counted in training steps, inside the compiled step (UAG's attention stop,
AGGAN's curriculum and its ramp): at their step with epochs of any length (unknown
included), with steps_per_execution > 1 and in resumed runs; a minimum the run cannot
meet is warned of by its option; the attention networks stay exactly as they were from
the stop on; the short-run learning rate a model picks when given none."""

import keras
import numpy as np
import pytest

import keras_attngan as kag
from conftest import TINY, build_compiled as build, snapshot

#: the narrowest networks: these tests time switches, not learning
SMALL = dict(TINY, ngf=4, ndf=4, n_blocks=1)


class PerStep(keras.callbacks.Callback):
    """Records ``get()`` after each batch the callbacks see (each execution's last)."""

    def __init__(self, get):
        super().__init__()
        self.get, self.seen = get, []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(self.get())


def unknown_length(dataset):
    """The same batches, with a cardinality tf.data cannot know."""
    return dataset.filter(lambda *batch: True)


def curriculum_r(model):
    return float(np.array(model.reconstruction_weight))


def test_aggan_curriculum_ramps_step_by_step_inside_long_epochs(tiny_data):
    """r rises over curriculum_ramp_steps training steps from the switch's, inside an
    epoch (4-step epochs, a 2-step ramp), not by whole epochs."""
    model = build("aggan", **SMALL, curriculum_epoch=1, curriculum_ramp_steps=2)
    r = PerStep(lambda: curriculum_r(model))
    history = model.fit(tiny_data.repeat(), epochs=2, steps_per_epoch=4, verbose=0,
                        callbacks=[r]).history
    assert r.seen == pytest.approx([0.01] * 4 + [0.255, 0.5, 0.5, 0.5])
    assert history["curriculum_r"] == pytest.approx([0.01, 0.5])
    # 0: the paper's switch, at once
    model = build("aggan", **SMALL, curriculum_epoch=1, curriculum_ramp_steps=0)
    r = PerStep(lambda: curriculum_r(model))
    model.fit(tiny_data, epochs=2, verbose=0, callbacks=[r])
    assert r.seen == pytest.approx([0.01, 0.01, 0.5, 0.5])
    with pytest.raises(ValueError, match="curriculum_ramp_steps must be >= 0"):
        build("aggan", **SMALL, curriculum_ramp_steps=-1)


def test_a_step_minimum_holds_for_epochs_of_unknown_length(tiny_data):
    """Unset, the switch comes at the scaled epoch (1 of 3) or at step
    curriculum_min_steps (4), whichever is later, counted in the step, though the epochs'
    length is unknown. States are keyed by the steps done: on this data Keras runs 3
    steps an epoch, the third without a batch-end callback, so epoch 1 starts with 3
    steps done and the switch comes in its middle."""
    data = unknown_length(tiny_data)
    model = build("aggan", **SMALL, curriculum_min_steps=4, curriculum_ramp_steps=2)
    r = PerStep(lambda: (model.completed_steps_now(), curriculum_r(model)))
    model.fit(data, epochs=3, verbose=0, callbacks=[r])
    r = dict(r.seen)
    # the step that starts with 4 done is the ramp's first
    assert (r[2], r[4], r[5], r[7]) == pytest.approx((0.01, 0.01, 0.255, 0.5))
    # UAG's attention stop likewise: from step 4 the attention networks (weights and
    # running statistics) and their inference masks stay as they were
    model = build("uag", **SMALL, attention_ngf=8, attention_stop_min_steps=4)
    probe = tiny_data.take(1).get_single_element()[0]
    state = PerStep(lambda: (model.completed_steps_now(), (
        snapshot(model.attention_net_a.weights + model.attention_net_b.weights),
        np.array(model.translate(probe)["mask"]), float(np.array(model.masked_stage)))))
    history = model.fit(data, epochs=3, verbose=0, callbacks=[state]).history
    state = dict(state.seen)
    assert history["attention_stopped"] == [0.0, 1.0, 1.0]
    assert (state[4][2], state[5][2]) == (0.0, 1.0)  # the masked stage, from step 4
    # step 3 learned, statistics included; from step 4 on nothing moves
    assert not all(np.array_equal(x, y) for x, y in zip(state[2][0], state[4][0]))
    assert not np.array_equal(state[2][1], state[4][1])
    for later in (5, 7, 8):
        assert all(np.array_equal(x, y) for x, y in zip(state[4][0], state[later][0]))
        assert np.array_equal(state[4][1], state[later][1])
    assert float(model.attention_optimizer.learning_rate) == 0.0


def test_a_minimum_the_run_never_reaches_is_warned_of_by_its_option(tiny_data):
    model = build("uag", **SMALL, attention_ngf=8)  # 1,800 steps; this run has 4
    with pytest.warns(kag.models.ScheduleWarning,
                      match=r"waits for step 1800 \(attention_stop_min_steps\), which "
                            r"this 4-step run never reaches.*attention_stop_min_steps"):
        history = model.fit(tiny_data, epochs=2, verbose=0).history
    assert history["attention_stopped"] == [0.0, 0.0]
    # unknown length: said at the end, from what the run did
    model = build("aggan", **SMALL, curriculum_min_steps=100)
    with pytest.warns(kag.models.ScheduleWarning,
                      match=r"never came: it waits for step 100 \(curriculum_min_steps\) "
                            r"and this run stopped at step \d+"):
        model.fit(unknown_length(tiny_data), epochs=2, verbose=0)
    assert curriculum_r(model) == pytest.approx(0.01)
    # a ramp the run ends inside of: said when the run starts (2 epochs of 2 steps)
    model = build("aggan", **SMALL, curriculum_epoch=1, curriculum_ramp_steps=8)
    with pytest.warns(kag.models.ScheduleWarning,
                      match=r"starts at step 2 and this run ends at step 4, so r reaches "
                            r"only 0.13 of 0.5.*curriculum_ramp_steps"):
        model.start_schedule(2, 2)


def test_a_resumed_run_goes_on_with_the_ramp_where_it_was(tiny_data, tmp_path):
    """The ramp crosses an epoch's end (3 steps from step 2); a run killed after
    epoch 2 and resumed from its backup lands on the uninterrupted run's r."""
    def run(epochs, folder):
        keras.utils.set_random_seed(0)
        model = build("aggan", **SMALL, curriculum_epoch=1, curriculum_ramp_steps=3)
        r = PerStep(lambda: curriculum_r(model))
        model.fit(tiny_data, epochs=epochs, verbose=0,
                  callbacks=kag.callbacks.default(model, str(folder)) + [r])
        return r.seen

    # an uninterrupted run's r per step: 0.01, 0.01, 0.01 + 0.49 / 3, 0.01 + 0.98 / 3,
    # 0.5, 0.5 (the ramp from the second epoch's first step)
    assert run(2, tmp_path) == pytest.approx([0.01, 0.01, 0.01 + 0.49 / 3, 0.01 + 0.98 / 3])
    # resumed for the third epoch: the ramp goes on (a fresh r would give 0.17, 0.34)
    assert run(3, tmp_path) == pytest.approx([0.5, 0.5])


def test_steps_per_execution_switches_at_the_same_step(tiny_data):
    """A switch due inside an execution of 2 steps (step 5, a ramp of 4) ends where
    one step per execution does: 3 of the ramp's 4 steps taken (steps 5, 6 and 7).
    Switched at a whole execution's start, it would take 4 (step 4) or 2 (step 6)."""
    model = kag.models.build("aggan", **SMALL, curriculum_min_steps=5,
                             curriculum_ramp_steps=4)
    model.compile(steps_per_execution=2)
    model.fit(tiny_data.repeat(), epochs=2, steps_per_epoch=4, verbose=0)
    assert curriculum_r(model) == pytest.approx(0.01 + 0.49 * 3 / 4)


def test_unset_switches_scale_with_the_run(tiny_data):
    model = build("aggan", **SMALL, curriculum_min_steps=0)
    assert model.start_schedule(4, 2)["curriculum_epoch"] == 1  # the paper's 5 %
    model = build("aggan", **TINY)
    assert model.start_schedule(200, 1067)["curriculum_epoch"] == 10
    assert "and not before step 1500 (curriculum_min_steps)" in model.describe_schedule()
    assert "linearly over 900 steps" in model.describe_schedule()
    model = build("uag", **SMALL, attention_ngf=8)
    assert model.start_schedule(10, 300)["attention_stop_epoch"] == 3
    assert model.start_schedule(100, 1067)["attention_stop_epoch"] == 30


def test_running_statistics_learn_from_real_images_only(tiny_data):
    """The cycle pass runs the attention networks on generated images: their running
    statistics count one real batch per step, not two."""
    model = build("uag", **SMALL, attention_ngf=8)
    model.fit(tiny_data, epochs=1, verbose=0)
    counts = {float(np.array(layer.count)) for net in (model.attention_net_a,
                                                        model.attention_net_b)
              for layer in net._flatten_layers()
              if isinstance(layer, kag.layers.RunningInstanceNorm)}
    assert counts == {2.0}


def test_a_short_run_given_no_rate_trains_at_the_models_short_run_rate(tiny_data, capsys):
    """AGGAN's paper rate (1e-4) is for runs of 200k steps: a 4-step run given none
    trains at 2e-4 and says so; a rate given, or a long run, keeps what it has."""
    model = build("aggan", **SMALL)
    history = model.fit(tiny_data, epochs=2, verbose=1).history
    assert history["learning_rate"] == pytest.approx([2e-4, 1e-4])  # and its decay
    assert "learning rate 0.0002, for a run under 20,000 steps (4)" in capsys.readouterr().out
    given = kag.models.build("aggan", **SMALL)
    given.compile(learning_rate=1e-4)
    given.start_schedule(2, 2)
    assert given.base_learning_rates["generator"] == pytest.approx(1e-4)
    model.start_schedule(200, 1067)
    assert model.base_learning_rates["generator"] == pytest.approx(1e-4)
    assert "for a run under 20,000 steps pass --lr 0.0002" in (
        model.run_learning_rate(None) or "")
    # a reloaded model picks again: its compile config holds no rate
    assert model.get_compile_config()["learning_rate"] is None
    assert given.get_compile_config()["learning_rate"] == 1e-4
