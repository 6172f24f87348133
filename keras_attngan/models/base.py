"""What every translation GAN shares: optimizers, loss trackers, image pools, gradient
scaling under tf.distribute and mixed precision, translate(), sample rows and config."""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from typing import Any, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

PACKAGE = "keras_attngan"


class MaskCollapseWarning(UserWarning):
    """An attention mask attends to (almost) nothing or everything over an epoch."""


class ImagePool:
    """History of generated images (Shrivastava et al. 2017) that discriminators train on.

    Until the pool is full each new image is stored and returned; afterwards, with
    probability 0.5, a stored image is returned and replaced by the new one, otherwise the
    new image is returned. The history lives in sync-on-read variables, so each replica
    keeps its own and the pool works inside a compiled ``train_step``. It is not part of
    checkpoints or ``.keras`` files (neither is it in the reference); run backups
    (``callbacks.RunBackup``) save and restore it through ``get_state`` / ``set_state``.
    """

    def __init__(self, size: int, image_shape: Sequence[int], name: str = "image_pool"):
        self.size = int(size)
        if self.size <= 0:
            return
        variable = dict(
            trainable=False,
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.NONE,
        )
        self.images = tf.Variable(
            tf.zeros((self.size, *image_shape), "float32"), name=f"{name}_images", **variable
        )
        self.count = tf.Variable(0, dtype=tf.int32, name=f"{name}_count", **variable)

    def get_state(self) -> dict[str, np.ndarray]:
        """The history as numpy arrays (one replica's: each replica keeps its own)."""
        if self.size <= 0:
            return {}
        return {"images": _first_replica(self.images), "count": _first_replica(self.count)}

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        if self.size <= 0 or not state:
            return
        for variable, key in ((self.images, "images"), (self.count, "count")):
            value = np.asarray(state[key])
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"The saved image pool holds {key} of shape {value.shape}; "
                                 f"this model's pool has {tuple(variable.shape)}.")
            for component in getattr(variable, "values", None) or (variable,):
                component.assign(value.astype(variable.dtype.as_numpy_dtype))

    def query(self, images: tf.Tensor) -> tf.Tensor:
        if self.size <= 0:
            return images
        dtype = images.dtype
        images = tf.cast(images, "float32")
        count = tf.shape(images)[0]

        def body(i, outputs):
            return i + 1, outputs.write(i, self._query_one(images[i]))

        _, outputs = tf.while_loop(lambda i, _: i < count, body,
                                   (tf.constant(0), tf.TensorArray(tf.float32, size=count)))
        result = outputs.stack()
        result.set_shape(images.shape)
        return tf.cast(result, dtype)

    def _query_one(self, image: tf.Tensor) -> tf.Tensor:
        def put(slot):
            # Sync-on-read variables have no scatter update: assign the updated history.
            history = self.images.read_value()
            return self.images.assign(tf.tensor_scatter_nd_update(history, [[slot]],
                                                                  image[None]))

        def store():
            slot = self.count.read_value()
            with tf.control_dependencies([put(slot)]):
                with tf.control_dependencies([self.count.assign_add(1)]):
                    return tf.identity(image)

        def swap():
            slot = tf.random.uniform((), 0, self.size, dtype=tf.int32)
            old = tf.identity(self.images.read_value()[slot])
            with tf.control_dependencies([old]):
                with tf.control_dependencies([put(slot)]):
                    return tf.identity(old)

        def keep():
            return tf.identity(image)

        def replace_or_keep():
            return tf.cond(tf.random.uniform(()) < 0.5, swap, keep)

        return tf.cond(self.count.read_value() < self.size, store, replace_or_keep)


class ScheduleWarning(UserWarning):
    """A paper schedule that a run is too short to carry out in full."""


@dataclasses.dataclass(frozen=True)
class Milestone:
    """One epoch of a paper's schedule, held as a model hyper-parameter ``option``.

    ``value`` None takes the paper's proportion of the run: round(paper * epochs /
    paper_epochs), kept inside the run, and no earlier than the epoch in which
    ``min_steps`` training steps have run (when the steps per epoch are known). An
    explicit value is taken as it is, and refused if the run never reaches it (a silent
    no-op would train another model than asked).
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

    def resolve(self, epochs: int, paper_epochs: int,
                steps_per_epoch: int | None = None) -> int:
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
        return self.scaled(epochs, paper_epochs, steps_per_epoch)

    def scaled(self, epochs: int, paper_epochs: int,
               steps_per_epoch: int | None = None) -> int:
        value = int(round(self.paper * epochs / paper_epochs))
        if self.min_steps and steps_per_epoch:
            value = max(value, math.ceil(self.min_steps / steps_per_epoch))
        if self.last_allowed or self.paper >= paper_epochs:
            return min(max(value, 0), epochs)
        return min(max(value, 1), max(epochs - 1, 1))

    def describe(self, resolved: int, epochs: int, paper_epochs: int) -> str:
        origin = ("as given" if self.value is not None
                  else f"paper: {self.paper} of {paper_epochs}, scaled to the run")
        if self.value is None and self.min_steps:
            origin += f", after at least {self.min_steps} steps ({self.min_steps_option})"
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


def _is_chief() -> bool:
    from keras_attngan.training.strategy import is_chief  # training imports this module

    return is_chief()


def _first_replica(variable) -> np.ndarray:
    values = getattr(variable, "values", None)  # a distributed variable's components
    return np.array((values[0] if values else variable).numpy())


def step_count(name: str, value: int) -> int:
    """A schedule hyper-parameter counted in training steps (0: none), refused below 0."""
    if value < 0:
        raise ValueError(f"{name} must be >= 0; got {value}.")
    return int(value)


def num_replicas() -> int:
    return tf.distribute.get_strategy().num_replicas_in_sync


def _multi_worker() -> bool:
    strategy = tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode())


class TranslationGAN(keras.Model):
    """Base of every model. A subclass declares its networks, ``loss_names``,
    ``generator_variables`` / ``discriminator_variables``, ``_translate`` and
    ``train_step``; everything else lives here once.

    Conventions: images are float in [-1, 1]; masks in [0, 1]; ``call(x)`` is the a2b
    translation; losses in ``train_step`` are per-replica means passed to
    ``apply_gradients``, which scales them for cross-replica gradient summation.
    """

    #: directions the model translates, the first is ``call``'s.
    directions: tuple[str, ...] = ("a2b", "b2a")
    #: losses shown in the progress bar and in TensorBoard, in this order.
    loss_names: tuple[str, ...] = ()
    #: whether ``translate`` returns a "mask".
    has_attention: bool = False
    #: whether training needs labelled A images (``unpaired(..., labels_a=...)``).
    needs_source_labels: bool = False
    #: image sides must be a multiple of this (the networks' total stride).
    size_multiple: int = 4
    #: domains whose attention masks ``train_step`` reports (see ``mask_statistics``).
    mask_domains: tuple[str, ...] = ()
    #: tau: a pixel is attended when its mask value exceeds this (UAG's threshold).
    mask_threshold: float = 0.1
    #: one optimiser per role, each over ``{role}_variables``.
    optimizer_roles: tuple[str, ...] = ("generator", "discriminator")
    #: paper optimiser settings, used by ``compile()`` unless overridden.
    learning_rate: float = 2e-4
    adam_beta_1: float = 0.5
    adam_beta_2: float = 0.999
    #: paper schedule: total epochs and the epoch where linear decay to 0 starts
    #: (``paper_epochs`` itself: a constant rate).
    paper_epochs: int = 200
    paper_decay_start: int = 100

    def __init__(self, image_size: int = 256, channels: int = 3, pool_size: int = 50,
                 decay_start: int | None = None,
                 loss_names: Sequence[str] | None = None,
                 mask_domains: Sequence[str] | None = None, **kwargs):
        super().__init__(**kwargs)
        if image_size % self.size_multiple:
            raise ValueError(
                f"image_size={image_size} is not a multiple of {self.size_multiple}, which "
                f"the {type(self).__name__} networks' strides need."
            )
        self.image_size = int(image_size)
        self.channels = int(channels)
        self.pool_size = int(pool_size)
        # None: the paper's proportion of the run (see ``schedule_epochs``)
        self.decay_start = None if decay_start is None else int(decay_start)
        self._milestones = None
        if loss_names is not None:  # a model whose switches change its losses
            self.loss_names = tuple(loss_names)
        if mask_domains is not None:  # likewise for the masks it reports
            self.mask_domains = tuple(mask_domains)
        self._trackers = {name: keras.metrics.Mean(name=name)
                          for name in self.loss_names + self.mask_statistic_names()}
        for role in self.optimizer_roles:
            setattr(self, f"{role}_optimizer", None)
        self.base_learning_rates: dict[str, float] = {}
        self._gan_compile_config: dict[str, Any] = {}

    # ----------------------------------------------------------------- configuration
    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image_size": self.image_size,
            "channels": self.channels,
            "pool_size": self.pool_size,
            "decay_start": self.decay_start,
        }

    def make_pool(self, name: str, channels: int | None = None) -> ImagePool:
        return ImagePool(self.pool_size,
                         (self.image_size, self.image_size, channels or self.channels),
                         name=name)

    def pools(self) -> dict[str, ImagePool]:
        """The model's image pools by attribute name (saved in run backups)."""
        return {name: value for name, value in sorted(vars(self).items())
                if isinstance(value, ImagePool)}

    def skip_batches(self, count: int) -> None:
        """Makes the next ``count`` training steps consume their batch without training:
        a run resumed from a backup taken inside an epoch thereby ends that epoch with as
        many steps as an uninterrupted run."""
        self._batches_to_skip = max(0, int(count))

    def make_train_function(self, force: bool = False):
        super().make_train_function(force)
        compiled = self.train_function
        if getattr(compiled, "_skips_batches", False):
            return compiled

        def train_function(iterator):
            if getattr(self, "_batches_to_skip", 0) > 0:
                for _ in range(self.steps_per_execution):
                    iterator.get_next()
                self._batches_to_skip -= self.steps_per_execution
                return {name: tracker.result() for name, tracker in self._trackers.items()}
            return compiled(iterator)

        train_function._skips_batches = True
        self.train_function = train_function
        return train_function

    @property
    def generator_variables(self) -> list:
        raise NotImplementedError

    @property
    def discriminator_variables(self) -> list:
        raise NotImplementedError

    # ----------------------------------------------------------------------- compile
    def compile(
        self,
        learning_rate: float | None = None,
        beta_1: float | None = None,
        beta_2: float | None = None,
        learning_rates: Mapping[str, float] | None = None,
        optimizers: Mapping[str, keras.optimizers.Optimizer | dict] | None = None,
        jit_compile: bool | str = "auto",
        steps_per_execution: int = 1,
        run_eagerly: bool = False,
    ) -> None:
        """Creates one paper-default Adam per role in ``optimizer_roles`` (or takes the
        ones in ``optimizers``, by role) and builds them on the role's variables.

        ``learning_rates`` overrides the rate per role ({"discriminator": 1e-4}). Call it
        inside ``strategy.scope()`` when training under tf.distribute. Under a
        ``mixed_float16`` policy each optimiser is wrapped in a ``LossScaleOptimizer``.
        """
        learning_rate = self.learning_rate if learning_rate is None else learning_rate
        beta_1 = self.adam_beta_1 if beta_1 is None else beta_1
        beta_2 = self.adam_beta_2 if beta_2 is None else beta_2
        learning_rates, optimizers = dict(learning_rates or {}), dict(optimizers or {})
        for name, rate in [("learning_rate", learning_rate), *(
                (f"learning_rates[{role!r}]", r) for role, r in learning_rates.items())]:
            if isinstance(rate, numbers.Real) and not rate > 0:
                raise ValueError(f"{name} must be above 0; got {rate}. The paper's rate for "
                                 f"{type(self).__name__} is {self.learning_rate}.")
        unknown = (set(learning_rates) | set(optimizers)) - set(self.optimizer_roles)
        if unknown:
            raise ValueError(f"{type(self).__name__} has optimiser roles "
                             f"{self.optimizer_roles}; got {sorted(unknown)}.")
        config: dict[str, Any] = {"learning_rate": learning_rate, "beta_1": beta_1,
                                  "beta_2": beta_2, "learning_rates": {}}
        rates = {}
        for role in self.optimizer_roles:
            optimizer = optimizers.get(role)
            if isinstance(optimizer, dict):
                optimizer = keras.optimizers.deserialize(optimizer)
            if optimizer is None:
                optimizer = keras.optimizers.Adam(
                    learning_rates.get(role, learning_rate), beta_1=beta_1, beta_2=beta_2,
                    name=f"{role}_adam")
            else:
                config.setdefault("optimizers", {})[role] = keras.optimizers.serialize(
                    optimizer)
            rates[role] = float(ops.convert_to_numpy(optimizer.learning_rate))
            config["learning_rates"][role] = rates[role]
            if keras.mixed_precision.global_policy().name == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(self.variables_of(role))
            setattr(self, f"{role}_optimizer", optimizer)
        self.base_learning_rates = rates
        self._gan_compile_config = config
        # optimizer=None: Keras would otherwise create an unused RMSprop that lands in
        # checkpoints and in TensorBoard's learning-rate curve.
        super().compile(optimizer=None, jit_compile=jit_compile,
                        steps_per_execution=steps_per_execution, run_eagerly=run_eagerly)

    def variables_of(self, role: str) -> list:
        """The trainable variables the ``role`` optimiser updates."""
        return getattr(self, f"{role}_variables")

    def get_compile_config(self) -> dict[str, Any]:
        return dict(self._gan_compile_config)

    def compile_from_config(self, config: Mapping[str, Any]) -> None:
        self.compile(**config)

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
        explicitly that the run never reaches is refused; unset ones scale with the run.
        Called by ``fit`` (through ``EpochSchedule``)."""
        epochs = int(epochs or self.paper_epochs)
        resolved = {}
        for milestone in self.schedule_epochs():
            resolved[milestone.name] = milestone.resolve(epochs, self.paper_epochs,
                                                         steps_per_epoch)
        self._run_epochs, self._milestones = epochs, resolved
        self._steps_per_epoch = steps_per_epoch
        # a run too short for the scaled switches: say so (never a silent no-op)
        switches = [(m, resolved[m.name]) for m in self.schedule_epochs()
                    if not m.last_allowed]
        for i, (milestone, epoch) in enumerate(switches):
            problem = None
            if epoch >= epochs:
                problem = f"is never reached in this {epochs}-epoch run"
            elif any(epoch >= later for _, later in switches[i + 1:]):
                problem = "coincides with a later switch, so its stage is skipped"
            if problem and _is_chief():
                warnings.warn(
                    f"{type(self).__name__}: {milestone.meaning} {epoch} ({milestone.option}"
                    f"{', scaled to the run' if milestone.value is None else ''}) {problem}. "
                    f"Train for more epochs or set {milestone.option} explicitly.",
                    ScheduleWarning, stacklevel=2)
        if verbose and _is_chief():
            print(self.describe_schedule())
        return dict(resolved)

    def milestone(self, name: str) -> int:
        """A resolved schedule epoch (0-based: the switch happens when this epoch starts)."""
        if getattr(self, "_milestones", None) is None:
            self.start_schedule()
        return self._milestones[name]

    def describe_schedule(self) -> str:
        epochs = self._run_epochs
        lines = [f"{type(self).__name__} schedule for {epochs} epochs "
                 f"(paper: {self.paper_epochs}):"]
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
        stages (``set_epoch``) and each optimiser's rate. When the set of trained
        networks changes, the compiled step is rebuilt, so frozen networks are left out
        of it entirely (no update, no optimiser step, no batch-norm statistics)."""
        trained = self.trained_roles()
        self.set_epoch(epoch)
        factor = self.learning_rate_factor(epoch)
        for role in self.optimizer_roles:
            optimizer = getattr(self, f"{role}_optimizer")
            if optimizer is not None:
                optimizer.learning_rate = (self.base_learning_rates[role] * factor
                                           * self.learning_rate_gate(role))
        self._schedule_factor = factor
        if self.trained_roles() != trained and getattr(self, "train_function", None):
            self.make_train_function(force=True)

    def learning_rate_gate(self, role: str) -> float:
        """A role's share of the scheduled rate; 0 freezes the role (see
        ``trained_roles``). Read when the step is traced: a Python value, not a
        variable."""
        return 1.0

    def trained_roles(self) -> tuple[str, ...]:
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

    # -------------------------------------------------------- attention monitoring
    def mask_statistic_names(self) -> tuple[str, ...]:
        return tuple(f"mask_{d}_{what}" for d in self.mask_domains
                     for what in ("mean", "active_mean", "active_fraction"))

    def mask_statistics(self, masks: Mapping[str, Any]) -> dict[str, Any]:
        """Per domain: the mask's mean over the image (``mask_a_mean``), its mean where
        it exceeds tau (``mask_a_active_mean``, 0 where nothing does) and the fraction
        of pixels above tau (``mask_a_active_fraction``); averaged over the epoch by the
        trackers, so they reach the progress bar, ``history`` and TensorBoard."""
        out = {}
        for domain, mask in masks.items():
            mask = ops.cast(ops.stop_gradient(mask), "float32")
            active = ops.cast(mask > self.mask_threshold, "float32")
            out[f"mask_{domain}_mean"] = ops.mean(mask)
            out[f"mask_{domain}_active_mean"] = (ops.sum(mask * active)
                                                 / ops.maximum(ops.sum(active), 1.0))
            out[f"mask_{domain}_active_fraction"] = ops.mean(active)
        return out

    def masks_in_use(self) -> bool:
        """Whether the masks decide the translation now (False e.g. in SAT's stage 1,
        where the mask is 1 by design); collapse warnings apply only then."""
        return bool(self.mask_domains)

    #: what to try when a mask collapses, shown in the warning
    collapse_advice: str = ("check the mask in the sample grids; a lower attention "
                            "learning rate or a longer run before any stage switch may help")

    def warn_if_masks_collapsed(self, epoch: int, logs: Mapping[str, Any]) -> list[str]:
        """Warns (and returns the warnings) when, over an epoch, a domain's mask attends
        to almost no pixel (< 0.5 % above tau: the translation is the identity) or is
        almost 1 everywhere (mean > 0.95: the whole image is repainted)."""
        if not self.masks_in_use():
            return []
        found = []
        for domain in self.mask_domains:
            fraction = logs.get(f"mask_{domain}_active_fraction")
            mean = logs.get(f"mask_{domain}_mean")
            if fraction is None or mean is None:
                continue
            fraction = float(np.mean(ops.convert_to_numpy(fraction)))
            mean = float(np.mean(ops.convert_to_numpy(mean)))
            if fraction < 0.005:
                what = (f"attends to {fraction:.1%} of the pixels (above tau = "
                        f"{self.mask_threshold:g}): the translation is the identity, the "
                        "mask collapsed to 0")
            elif mean > 0.95:
                what = (f"has mean {mean:.3f}: the whole image is repainted, the mask "
                        "collapsed to 1")
            else:
                continue
            found.append(f"{type(self).__name__}: in epoch {epoch + 1} the mask on domain "
                         f"{domain} {what}; {self.collapse_advice}.")
        for message in found:
            warnings.warn(message, MaskCollapseWarning, stacklevel=2)
        return found

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

    # ------------------------------------------------------------------- train step
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TF trainer reduces the first batch across replicas eagerly to trace a
        # symbolic build; under MultiWorkerMirroredStrategy that reduce fails with
        # "Attempt to convert a value (PerReplica...)" (keras#20585). Our networks, loss
        # trackers and optimisers are all built in __init__ and compile(), so there is
        # nothing left to build.
        return

    @property
    def metrics(self) -> list:
        return list(self._trackers.values())

    def track(self, losses: Mapping[str, Any]) -> dict[str, Any]:
        """Updates the loss trackers and returns the logs Keras shows."""
        for name, value in losses.items():
            self._trackers[name].update_state(value)
        logs = {name: tracker.result() for name, tracker in self._trackers.items()}
        if _multi_worker():
            # Keras reduces logs across workers with reduce("MEAN", axis=0), which fails
            # on scalars (keras#20585): give it one-element vectors to average.
            logs = {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def unpack_batch(self, data) -> tuple[tf.Tensor, tf.Tensor]:
        """(a, b) from what ``kag.data.unpaired`` yields, checked against the model."""
        if isinstance(data, Mapping):
            data = (data["a"], data["b"])
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError(
                "A training batch must be a pair (images_a, images_b), as "
                "keras_attngan.data.unpaired() yields; got "
                f"{type(data).__name__}."
            )
        images = []
        for side, x in zip("ab", data[:2]):
            shape = tuple(x.shape)
            expected = (self.image_size, self.image_size, self.channels)
            if len(shape) != 4 or any(
                s is not None and s != e for s, e in zip(shape[1:], expected)
            ):
                raise ValueError(
                    f"Domain {side.upper()} batch has shape {shape}, but this model was "
                    f"built for (batch, {self.image_size}, {self.image_size}, "
                    f"{self.channels}) images. Pass the same image_size to "
                    "kag.data.unpaired() and kag.models.build()."
                )
            images.append(ops.cast(x, self.compute_dtype))
        return images[0], images[1]

    @classmethod
    def trains_with_source_labels(cls, hparams: Mapping[str, Any]) -> bool:
        """Whether the model built with ``hparams`` trains on labelled A images, so its
        batches must carry them (``unpaired(..., labels_a=...)``)."""
        return cls.needs_source_labels

    @staticmethod
    def unpack_labels(data):
        """The A images' labels when the batch carries them (``unpaired(...,
        labels_a=...)`` yields (a, b, labels_a)), else None."""
        if isinstance(data, Mapping):
            return data.get("labels_a")
        if isinstance(data, (tuple, list)) and len(data) > 2:
            return data[2]
        return None

    def apply_gradients(self, tape: tf.GradientTape, loss, roles: str | Sequence[str]) -> None:
        """Differentiates a per-replica mean ``loss`` (computed inside ``tape``) in one
        backward pass and applies each role's gradients with that role's optimiser.

        Keras sums gradients across replicas, so the loss is divided by the replica count
        to make N replicas take the step one replica would on the global batch. The scale
        enters as the backward pass's initial gradient, which is also where mixed
        precision's loss scale goes (the first role's; the others' gradients are brought
        to their own optimiser's scale). Roles the schedule has frozen are skipped.
        """
        roles = (roles,) if isinstance(roles, str) else tuple(roles)
        # frozen roles (a schedule's stage) get no update at all: read at trace time
        roles = tuple(role for role in roles if role in self.trained_roles())
        if not roles:
            return
        optimizers = [getattr(self, f"{role}_optimizer") for role in roles]
        variables = [self.variables_of(role) for role in roles]
        lead = optimizers[0]
        mixed = isinstance(lead, keras.optimizers.LossScaleOptimizer)
        scale = ops.cast(1.0 / num_replicas(), "float32")
        if mixed:
            scale = lead.scale_loss(scale)
        flat = [v for group in variables for v in group]
        grads = tape.gradient(ops.cast(loss, "float32"), flat, output_gradients=scale)
        start = 0
        for optimizer, group in zip(optimizers, variables):
            part = grads[start:start + len(group)]
            start += len(group)
            if mixed and optimizer is not lead:
                ratio = optimizer.dynamic_scale / lead.dynamic_scale
                part = [None if g is None else g * ops.cast(ratio, g.dtype) for g in part]
            optimizer.apply(part, group)

    # --------------------------------------------------------------------- inference
    def _translate(self, x, direction: str, training: bool = False) -> dict[str, Any]:
        """{"image": [-1, 1], "mask": [0, 1] if the model has attention, ...}."""
        raise NotImplementedError

    def call(self, x, training: bool = False):
        return self._translate(x, self.directions[0], training=training)["image"]

    def translate(self, images, direction: str | None = None, batch_size: int = 8,
                  **options) -> dict[str, np.ndarray]:
        """Translates images of any size the strides allow (padded, then cropped back).

        ``images``: uint8 in [0, 255] or float in [-1, 1]; (H, W, C) or (N, H, W, C) with C
        1, 3 or 4 (grayscale and RGBA become RGB). Returns numpy arrays: "image" in
        [-1, 1] with the input's batch shape, and "mask" in [0, 1] for attention models.
        """
        direction = direction or self.directions[0]
        if direction not in self.directions:
            raise ValueError(
                f"{type(self).__name__} translates {self.directions}; got "
                f"direction={direction!r}."
            )
        x, single = to_model_range(images)
        height, width = x.shape[1:3]
        pad_h = -height % self.size_multiple
        pad_w = -width % self.size_multiple
        outputs: dict[str, list] = {}
        for start in range(0, x.shape[0], batch_size):
            chunk = tf.constant(x[start:start + batch_size])
            if pad_h or pad_w:
                chunk = tf.pad(chunk, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], "SYMMETRIC")
            result = self._translation_function(direction, options)(chunk)
            for key, value in result.items():
                value = ops.convert_to_numpy(value)
                if value.ndim == 4 and value.shape[1:3] == chunk.shape[1:3]:
                    value = value[:, :height, :width].astype("float32")
                outputs.setdefault(key, []).append(value)
        merged = {key: np.concatenate(parts) for key, parts in outputs.items()}
        if single:
            merged = {key: value[0] for key, value in merged.items()}
        return merged

    def _translation_function(self, direction: str, options: dict[str, Any]):
        """``_translate`` for this direction and these options as a graph, traced once per
        image shape (then for any shape). Eagerly, a 512 px CycleGAN translation peaked at
        2.9 GB RSS and took 2.1-2.4 s; as a graph 1.1-1.2 GB and 1.7 s."""
        functions = self.__dict__.get("_translation_functions")
        if functions is None:  # not a tracked attribute: nothing to save or restore
            functions = {}
            object.__setattr__(self, "_translation_functions", functions)
        key = (direction, tuple(sorted(options.items())))
        if key not in functions:
            functions[key] = tf.function(
                lambda x: self._translate(x, direction, training=False, **options),
                reduce_retracing=True)
        return functions[key]

    def sample_rows(self, images_a, images_b) -> list[dict[str, Any]]:
        """Rows of the sample grid, each {column name: images in [-1, 1]}: for each
        direction the input, the translation, the mask (attention models) and, where the
        model translates back, the reconstruction."""
        rows = []
        for direction, x in zip(self.directions, (images_a, images_b)):
            out = self._translate(x, direction, training=False)
            row = {"input": x, "translation": out["image"]}
            if "mask" in out:
                row["mask"] = ops.repeat(out["mask"] * 2.0 - 1.0, 3, axis=-1)
            reverse = direction[::-1]  # "a2b" -> "b2a"
            if reverse in self.directions:
                row["reconstruction"] = self._translate(out["image"], reverse)["image"]
            rows.append(row)
        return rows


def to_model_range(images) -> tuple[np.ndarray, bool]:
    """uint8 [0, 255] or float [-1, 1] images -> float32 RGB batch in [-1, 1]."""
    x = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"Expected an image (H, W, C) or a batch (N, H, W, C); got shape {x.shape}."
        )
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"Expected 1 (grayscale), 3 (RGB) or 4 (RGBA) channels; got {x.shape[-1]} in "
            f"shape {x.shape}. Channels go last."
        )
    if 0 in x.shape:
        raise ValueError(f"Got an empty image batch of shape {x.shape}.")
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif x.shape[-1] == 4:
        x = x[..., :3]
    if x.dtype == np.uint8:
        return x.astype("float32") / 127.5 - 1.0, single
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"Images must be uint8 in [0, 255] or float in [-1, 1]; got dtype {x.dtype}."
        )
    if x.size and (np.nanmin(x) < -1.001 or np.nanmax(x) > 1.001):
        raise ValueError(
            f"Float images must lie in [-1, 1]; these span [{np.nanmin(x):.3g}, "
            f"{np.nanmax(x):.3g}]. Pass uint8 images for 0..255 data."
        )
    return x.astype("float32"), single
