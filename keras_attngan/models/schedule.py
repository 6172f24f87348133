"""A paper's training schedule, owned by the model: the epochs of its switches
(``Milestone``), the learning-rate decay, and the callback that runs them inside any
``fit`` (``EpochSchedule``). ``ScheduledTraining`` is the part of ``TranslationGAN``
that resolves and applies them.

A switch with a minimum number of steps (beyond the papers: UAG's attention stop,
AGGAN's curriculum) is decided inside the compiled step, from the step count the
optimisers keep (``switch_due``), and what it switched lives in the model's variables:
it opens at its step whatever the epochs' length (unknown included), with
``steps_per_execution`` > 1 and in a resumed run. The epoch half of the rule changes
only between epochs; the step is retraced when it does."""

from __future__ import annotations

import dataclasses
import warnings

import keras


class ScheduleWarning(UserWarning):
    """A paper schedule that a run is too short to carry out in full."""


@dataclasses.dataclass(frozen=True)
class Milestone:
    """One epoch of a paper's schedule, held as a model hyper-parameter ``option``.

    ``value`` None takes the paper's proportion of the run: round(paper * epochs /
    paper_epochs), kept inside the run; the switch then also waits, inside the step,
    until ``min_steps`` training steps have run (``ScheduledTraining.switch_due``). An
    explicit value is taken as it is, with no minimum, and refused if the run never
    reaches it (a silent no-op would train another model than asked).
    """

    option: str
    value: int | None
    paper: int
    meaning: str
    #: the decay start may equal the run's length (= no decay); a stage switch may not.
    last_allowed: bool = False
    name: str = ""
    #: a stage that must run this many steps before the switch, whatever the run's
    #: length (0: none); ``min_steps_option`` names the hyper-parameter that sets it
    min_steps: int = 0
    min_steps_option: str = ""

    def __post_init__(self):
        if not self.name:
            object.__setattr__(self, "name", self.option)

    @property
    def decided_in_step(self) -> bool:
        """Whether the switch is decided inside the compiled step (it has a step
        minimum option, whether or not this run's epoch was given)."""
        return bool(self.min_steps_option)

    @property
    def step_minimum(self) -> int:
        """The steps the switch waits for inside the step: ``min_steps`` when the epoch
        is scaled, 0 when it was given."""
        return self.min_steps if self.value is None else 0

    def resolve(self, epochs: int, paper_epochs: int) -> int:
        """The epoch for a run of ``epochs``: the given value (refused if never reached)
        or the scaled one."""
        if self.value is not None:
            value = int(self.value)
            highest = epochs if self.last_allowed else epochs - 1
            if not 0 <= value <= highest:
                scaled = self.scaled(epochs, paper_epochs)
                raise ValueError(
                    f"{self.option}={value} is never reached in a {epochs}-epoch run "
                    f"(epochs 0..{epochs - 1}), so this part of the schedule would "
                    f"silently not happen. Pass {self.option}={scaled} (the paper's "
                    f"{self.paper} of {paper_epochs} epochs, scaled to the run), leave it "
                    "unset to scale it with the run, or train for more epochs."
                )
            return value
        return self.scaled(epochs, paper_epochs)

    def scaled(self, epochs: int, paper_epochs: int) -> int:
        """The paper's epoch scaled to a run of ``epochs``, kept inside it."""
        value = int(round(self.paper * epochs / paper_epochs))
        if self.last_allowed or self.paper >= paper_epochs:
            return min(max(value, 0), epochs)
        return min(max(value, 1), max(epochs - 1, 1))

    def describe(self, resolved: int, epochs: int, paper_epochs: int) -> str:
        """One line for the printed schedule: the epoch, the option and where it came
        from."""
        origin = ("as given" if self.value is not None
                  else f"paper: {self.paper} of {paper_epochs}, scaled to the run")
        if self.step_minimum:
            origin += (f"; and not before step {self.step_minimum} "
                       f"({self.min_steps_option})")
        reached = "" if resolved < epochs or self.last_allowed else \
            f" -- NOT reached in this {epochs}-epoch run"
        return f"{self.meaning}: {resolved} ({self.option}, {origin}){reached}"


class EpochSchedule(keras.callbacks.Callback):
    """Runs the model's own schedule inside ``fit``: resolves and prints it when training
    starts, applies it at each epoch's start (the true epoch, ``initial_epoch`` and
    resumed runs included) and adds ``model.schedule_logs()`` to each epoch's logs, so
    they reach ``history`` and TensorBoard. ``TranslationGAN.fit`` adds one unless the
    callbacks hold one already."""

    def on_train_begin(self, logs=None):
        self.model.start_schedule(self.params.get("epochs"), self.params.get("steps"),
                                  verbose=bool(self.params.get("verbose")))

    def on_epoch_begin(self, epoch, logs=None):
        self.model.apply_schedule(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.model.schedule_logs())
            self.model.warn_if_masks_collapsed(epoch, logs)

    def on_train_end(self, logs=None):
        self.model.end_schedule()


def _is_chief() -> bool:
    from keras_attngan.training.strategy import is_chief  # training imports this module

    return is_chief()


def step_count(name: str, value: int) -> int:
    """A schedule hyper-parameter counted in training steps (0: none), refused below 0."""
    if value < 0:
        raise ValueError(f"{name} must be >= 0; got {value}.")
    return int(value)



class ScheduledTraining:
    """The schedule half of ``TranslationGAN`` (a mixin): resolves the paper's epochs
    for the run, applies them at each epoch's start and logs them. Reads the model's
    ``paper_epochs``, ``paper_decay_start``, ``decay_start``, ``optimizer_roles`` and
    ``base_learning_rates``."""

    # ---------------------------------------------------------------------- schedule
    def schedule_epochs(self) -> list[Milestone]:
        """The epochs of this model's paper schedule, as hyper-parameters: the rate's
        decay start, and (in subclasses) stage switches. A milestone whose value is None
        takes the paper's proportion of the run."""
        return [Milestone("decay_start", self.decay_start, self.paper_decay_start,
                          "learning rate: linear decay to 0 from this epoch",
                          last_allowed=True)]

    def start_schedule(self, epochs: int | None = None, steps_per_epoch: int | None = None,
                       verbose: bool = False) -> dict:
        """Resolves the schedule for a run of ``epochs`` (default: the paper's) of
        ``steps_per_epoch`` steps (unknown: None) and checks it: a milestone given
        explicitly that the run never reaches is refused; unset ones scale with the run;
        a step minimum the run is too short for is warned of. Called by ``fit`` (through
        ``EpochSchedule``)."""
        epochs = int(epochs or self.paper_epochs)
        resolved = {}
        for milestone in self.schedule_epochs():
            resolved[milestone.name] = milestone.resolve(epochs, self.paper_epochs)
        self._run_epochs, self._milestones = epochs, resolved
        self._steps_per_epoch = steps_per_epoch
        self._epoch_reached = {}
        # a run too short for the scaled switches: say so (never a silent no-op)
        switches = [(m, resolved[m.name]) for m in self.schedule_epochs()
                    if not m.last_allowed]
        total = epochs * steps_per_epoch if steps_per_epoch else None
        for i, (milestone, epoch) in enumerate(switches):
            problem, option = None, milestone.option
            if epoch >= epochs:
                problem = f"is never reached in this {epochs}-epoch run"
            elif any(epoch >= later for _, later in switches[i + 1:]):
                problem = "coincides with a later switch, so its stage is skipped"
            elif total is not None and milestone.step_minimum >= total:
                problem = (f"waits for step {milestone.step_minimum} "
                           f"({milestone.min_steps_option}), which this {total}-step run "
                           "never reaches, so it never happens")
                option = milestone.min_steps_option
            if problem and _is_chief():
                warnings.warn(
                    f"{type(self).__name__}: {milestone.meaning} {epoch} ({milestone.option}"
                    f"{', scaled to the run' if milestone.value is None else ''}) {problem}. "
                    f"Train for more epochs or set {option} explicitly.",
                    ScheduleWarning, stacklevel=2)
        self._rate_note = self.run_learning_rate(total)
        if verbose and _is_chief():
            print(self.describe_schedule())
        return dict(resolved)

    def run_learning_rate(self, total_steps: int | None) -> str | None:
        """Picks the rates for a run of ``total_steps`` (None: unknown) when ``compile``
        was given none: ``short_run_learning_rate`` for a run shorter than
        ``short_run_steps`` (the paper's rates are for its runs of 100,000 steps and
        more), else the paper's. Returns the line the printed schedule gives about it."""
        short, paper = self.short_run_learning_rate, self.learning_rate
        if short is None or getattr(self, "_rate_given", True):
            return None
        self.base_learning_rates = dict(self._compiled_rates)
        if total_steps is not None and total_steps < self.short_run_steps:
            self.base_learning_rates = {role: rate * short / paper
                                        for role, rate in self._compiled_rates.items()}
            return (f"learning rate {short:g}, for a run under {self.short_run_steps:,} "
                    f"steps ({total_steps:,}); the paper's {paper:g} is for its runs of "
                    f"100,000 steps and more: compile(learning_rate={paper:g}) or --lr "
                    f"{paper:g} keeps it")
        if total_steps is None:
            return (f"learning rate {paper:g} (the paper's); this run's length is unknown: "
                    f"for a run under {self.short_run_steps:,} steps pass --lr {short:g} "
                    f"(compile(learning_rate={short:g}))")
        return None

    def end_schedule(self) -> None:
        """At the end of ``fit``: warns of a step-minimum switch whose epoch came but
        whose minimum the run did not reach (the warning ``start_schedule`` gives when
        the run's length is known beforehand)."""
        for milestone in self.schedule_epochs():
            opened = self.switch_opened(milestone.name)
            if (milestone.step_minimum and opened is False
                    and getattr(self, "_epoch_reached", {}).get(milestone.name)
                    and self._steps_per_epoch is None and _is_chief()):
                warnings.warn(
                    f"{type(self).__name__}: {milestone.meaning} never came: it waits for "
                    f"step {milestone.step_minimum} ({milestone.min_steps_option}) and "
                    f"this run stopped at step {self.completed_steps_now()}. Train for "
                    f"more steps or lower {milestone.min_steps_option}.",
                    ScheduleWarning, stacklevel=2)

    # --------------------------------------------------------- switches in the step
    #: the role whose optimiser steps once in every training step, in every stage: its
    #: iteration count is the run's step count
    step_counter_role = "discriminator"

    def completed_steps(self):
        """The training steps done before this one (a tensor; read inside the step; 0
        before ``compile``)."""
        optimizer = getattr(self, f"{self.step_counter_role}_optimizer", None)
        return 0 if optimizer is None else optimizer.iterations

    def completed_steps_now(self) -> int:
        """``completed_steps`` as a Python number (between steps)."""
        from keras import ops

        return int(ops.convert_to_numpy(self.completed_steps()))

    def switch_due(self, name: str):
        """Inside the compiled step: whether the switch ``name`` is due at this step: its
        epoch has begun (known between epochs; the step is retraced when it changes)
        and its step minimum has run (counted in the step). A boolean tensor."""
        from keras import ops

        milestone = next(m for m in self.schedule_epochs() if m.name == name)
        if not getattr(self, "_epoch_reached", {}).get(name, False):
            return ops.convert_to_tensor(False)
        return ops.greater_equal(ops.cast(self.completed_steps(), "int64"),
                                 milestone.step_minimum)

    def switch_opened(self, name: str) -> bool | None:
        """Whether the model's state shows switch ``name`` happened (None: it keeps no
        such state). Subclasses with step-minimum switches answer it."""
        return None

    def milestone(self, name: str) -> int:
        """A resolved schedule epoch (0-based: the switch happens when this epoch starts)."""
        if getattr(self, "_milestones", None) is None:
            self.start_schedule()
        return self._milestones[name]

    def describe_schedule(self) -> str:
        """The resolved schedule, as printed when training starts."""
        epochs = self._run_epochs
        lines = [f"{type(self).__name__} schedule for {epochs} epochs "
                 f"(paper: {self.paper_epochs}):"]
        for note in ("_precision_note", "_rate_note"):
            if getattr(self, note, None):
                lines.append("  " + getattr(self, note))
        for milestone in self.schedule_epochs():
            lines.append("  " + milestone.describe(self._milestones[milestone.name], epochs,
                                                   self.paper_epochs))
        return "\n".join(lines)

    def learning_rate_factor(self, epoch: int) -> float:
        """The paper's rule, as the CycleGAN reference writes it: constant until
        ``decay_start``, then linear to 0 at the run's end: 1 - max(0, epoch + 1 -
        decay_start) / (epochs - decay_start + 1), for the (0-based) epoch."""
        epochs, start = self._run_epochs_or_paper(), self.milestone("decay_start")
        return 1.0 - max(0, epoch + 1 - start) / float(epochs - start + 1)

    def _run_epochs_or_paper(self) -> int:
        if getattr(self, "_milestones", None) is None:
            self.start_schedule()
        return self._run_epochs

    def apply_schedule(self, epoch: int) -> None:
        """Everything the schedule sets at the start of (0-based) ``epoch``: the model's
        stages (``set_epoch``), each optimiser's rate and which step-minimum switches'
        epochs have come. When the set of trained networks or those epochs change, the
        compiled step is rebuilt, so frozen networks are left out of it entirely (no
        update, no optimiser step, no batch-norm statistics)."""
        trained = self.trained_roles()
        reached = dict(getattr(self, "_epoch_reached", {}))
        self._epoch_reached = {m.name: epoch >= self.milestone(m.name)
                               for m in self.schedule_epochs() if m.decided_in_step}
        self.set_epoch(epoch)
        factor = self.learning_rate_factor(epoch)
        for role in self.optimizer_roles:
            optimizer = getattr(self, f"{role}_optimizer")
            if optimizer is not None:
                optimizer.learning_rate = (self.base_learning_rates[role] * factor
                                           * self.learning_rate_gate(role))
        self._schedule_factor = factor
        if ((self.trained_roles() != trained or self._epoch_reached != reached)
                and getattr(self, "train_function", None)):
            self.make_train_function(force=True)

    def learning_rate_gate(self, role: str) -> float:
        """A role's share of the scheduled rate; 0 freezes the role (see
        ``trained_roles``). Read when the step is traced: a Python value, not a
        variable."""
        return 1.0

    def learning_rate_gate_in_step(self, role: str):
        """Inside the step: a 0/1 tensor on the role's rate for a switch decided in the
        step (None: none). It freezes the role from the very step the switch opens; the
        next epoch's ``learning_rate_gate`` then leaves the role out of the step."""
        return None

    def trained_roles(self) -> tuple[str, ...]:
        """The optimiser roles the current stage trains (gate above 0)."""
        return tuple(r for r in self.optimizer_roles if self.learning_rate_gate(r) > 0)

    def set_epoch(self, epoch: int) -> None:
        """Sets what depends on the (0-based) epoch: stage switches, curricula. A function
        of the epoch (and of saved variables) alone, so resumed runs land in the right
        stage. ``apply_schedule`` calls it at each epoch's start."""

    def schedule_logs(self) -> dict[str, float]:
        """Schedule values logged at each epoch's end (in ``history`` and TensorBoard):
        the generator's scheduled learning rate, and a subclass's stages."""
        factor = getattr(self, "_schedule_factor", None)
        if factor is None:
            return {}
        return {"learning_rate": self.base_learning_rates.get("generator", 0.0) * factor}

    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """``keras.Model.fit`` with the model's paper schedule in it: an ``EpochSchedule``
        is added unless the callbacks hold one already, so the schedule runs exactly
        once, with or without the package's callbacks."""
        if isinstance(callbacks, keras.callbacks.CallbackList):
            raise TypeError("Pass callbacks as a list; a CallbackList would skip the "
                            "model's schedule.")
        callbacks = list(callbacks or [])
        if not any(isinstance(c, EpochSchedule) for c in callbacks):
            callbacks.insert(0, EpochSchedule())
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

