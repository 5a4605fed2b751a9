"""Training one trial's model: the epoch loop, early stopping, the best model, checkpoints and resume."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from typing import Callable

import keras
import numpy as np

from mclnn.atomic import atomic_path
from mclnn.config import TrainingSettings
from mclnn.errors import ParameterError
from mclnn.train.fit.batch_augmentation import AugmentedBatches, BatchAugmentation
from mclnn.train.fit.event_files import TrainingEvents
from mclnn.train.fit.step_runs import StepRuns, runs_of_steps_available
from mclnn.train.model.kinds import ModelKind
from mclnn.train.model.saved_models import saved_model_intact
from mclnn.train.clips.segments import StandardizedClips
from mclnn.train.trial_files import TrainingState, TrialPaths, write_json
from mclnn.variants import SCHEDULES

__all__ = ["EpochProgress", "train_trial"]

logger = logging.getLogger(__name__)

#: ``progress(trial, epoch, epochs, logs)`` after every epoch; ``logs`` holds the losses, accuracies,
#: learning rate and the epoch's ``seconds``.
EpochProgress = Callable[[int, int, int, dict], None]


def train_trial(kind: ModelKind, training: TrainingSettings, *, trial: int, n_features: int,
                augmentation: BatchAugmentation, train_clips: StandardizedClips,
                validation_clips: StandardizedClips, paths: TrialPaths, run_hash: str, model_hash: str,
                progress: EpochProgress | None = None) -> TrainingState:
    """Train one trial's model, resuming from its checkpoint; the kept model goes to ``paths.model``.

    Every epoch trains on all training batches (augmented, with the learning rate of
    ``training.schedule`` set before every step), scores the validation clips, keeps the
    model if ``training.monitor`` improved (or every epoch, ``training.keep='last'``),
    checkpoints (model and state), so a killed run resumes after its last finished epoch,
    and writes the epoch's metrics to ``paths.history`` and TensorBoard event files.
    Training stops after ``training.epochs`` epochs or ``training.patience`` epochs
    without improvement.

    Parameters
    ----------
    kind : ModelKind
    training : TrainingSettings
    trial : int
        1-based; seeds the weights (``seed + 1000 * trial``), dropout, shuffling and
        augmentation (``seed + trial``).
    n_features : int
    augmentation : BatchAugmentation
        What is done to training batches; its ``n_classes`` sizes the model.
    train_clips, validation_clips : StandardizedClips
    paths : TrialPaths
    run_hash : str
        Identifies the settings; a checkpoint of other settings starts training anew.
    model_hash : str
        Identifies the settings scoring the model depends on (:attr:`TrainingState.model_hash`).
    progress : callable, optional
        ``progress(trial, epoch, epochs, logs)`` after every epoch.

    Returns
    -------
    TrainingState
        The final state (also in ``paths.state``).
    """
    if training.steps_per_call > 1 and not runs_of_steps_available():
        raise ParameterError(f"training.steps_per_call={training.steps_per_call} needs the JAX backend "
                             "(KERAS_BACKEND=jax); set it to 1 under others")
    paths.folder.mkdir(parents=True, exist_ok=True)
    state = TrainingState.read(paths.state)
    same_settings = state is not None and state.settings_hash == run_hash and paths.model.is_file()
    if same_settings and state.stopped:  # finished: its kept model needs no checkpoint
        return state
    resumable = same_settings and saved_model_intact(paths.checkpoint)
    if same_settings and paths.checkpoint.exists() and not resumable:
        logger.warning("trial %d: %s is damaged; training anew", trial, paths.checkpoint)
    keras.utils.set_random_seed(training.seed + trial)
    mode, sizes = kind.training_mode, kind.sizes
    if resumable:
        logger.info("trial %d: resuming after epoch %d", trial, state.epoch)
        state.resumed_after.append(state.epoch)
        trainable = keras.models.load_model(paths.checkpoint)
        for variable, value in zip(_seed_states(trainable), state.seed_states, strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        model = mode.kept(trainable, sizes)
    else:
        state = TrainingState(run_hash, model_hash)
        model = kind.build(n_features=n_features, n_classes=augmentation.n_classes, seed=training.seed + 1000 * trial)
        trainable = mode.trainable(model, sizes)
        kind.compile(trainable)
    # ``model`` (per segment) is what is kept; ``trainable`` shares its layers.
    batches = mode.training_batches(train_clips, sizes, shuffle_seed=training.seed + trial)
    for _ in range(state.epoch):  # a resumed trial's batches are shuffled as an uninterrupted one's were
        batches.on_epoch_end()
    train = AugmentedBatches(batches, augmentation, seed=training.seed + trial, epoch=state.epoch)
    validator, validation = mode.validation(model, trainable, validation_clips, sizes, compile=kind.compile)
    validation = AugmentedBatches(validation, augmentation)
    runs = _step_runs(trainable, train) if training.steps_per_call > 1 else None
    schedule = SCHEDULES.load(training.schedule)(training, peak=kind.learning_rate)
    events = TrainingEvents(paths.events)
    for epoch in range(state.epoch, training.epochs):
        started = time.perf_counter()
        set_rate = functools.partial(_set_rate, trainable.optimizer, schedule, state, epoch)
        logs = _run_epoch(trainable.train_on_batch, train, before_step=set_rate, runs=runs)
        with _averaged_weights(trainable):  # validated and kept as averaged, where the weights are averaged
            logs.update({f"val_{key}": value for key, value in _run_epoch(validator.test_on_batch, validation).items()})
            seconds = time.perf_counter() - started
            if not all(math.isfinite(value) for value in logs.values()):
                raise ParameterError(f"trial {trial}, epoch {epoch + 1}: the loss became {logs['loss']} (validation "
                                     f"loss {logs.get('val_loss')}); the last good checkpoint is kept. Lower "
                                     "training.learning_rate, or check the features and statistics for NaN")
            improved = state.record(logs, seconds=seconds, monitor=training.monitor)
            schedule.end_epoch(state, improved=improved)
            if improved or training.keep == "last":
                _save_model(model, paths.model)
        _save_model(trainable, paths.checkpoint)
        state.seed_states = [np.asarray(variable).tolist() for variable in _seed_states(trainable)]
        state.write(paths.state)
        events.write(state.epoch, logs)
        if progress is not None:
            progress(trial, epoch + 1, training.epochs, {**logs, "seconds": seconds})
        if state.wait >= training.patience:
            break
    events.close()
    state.stopped = True
    state.write(paths.state)
    write_json(paths.history, {"trial": trial, **state.history})
    return state


def _run_epoch(step, batches, *, before_step=None, runs=None) -> dict:
    """One pass of ``step`` (a model's ``train_on_batch`` or ``test_on_batch``) over the batches.

    ``before_step(number, batches)`` runs before each step and returns the learning rate
    it set, whose last value is logged as ``learning_rate``. With ``runs``
    (:class:`StepRuns`, ``training.steps_per_call`` under JAX) each run of batches of one
    shape, up to ``runs.steps`` long, is trained in one compiled call, each step at the rate
    ``before_step`` gives, instead of ``step``.
    Returns the loss and metrics averaged over the pass's samples (segments: a class index,
    or a row of class probabilities, per segment). A plain loop:
    on the 2-core machine ``Model.fit`` fed from Python batches spent more than half of a
    clip-mode ESC-10 epoch waiting on its input pipeline's threads (15 s an epoch
    against 4 s for the steps alone).
    """
    totals, samples, rate = {}, 0, None
    steps = _each_step(step, batches, before_step) if runs is None else _runs_of_steps(runs, batches, before_step)
    for labels, logs, rate in steps:
        segments = labels.size if labels.dtype.kind in "iu" else labels.size // labels.shape[-1]
        for key, value in logs.items():
            totals[key] = totals.get(key, 0.0) + float(value) * segments
        samples += segments
    batches.on_epoch_end()
    return {key: total / samples for key, total in totals.items()} | ({} if rate is None else {"learning_rate": rate})


def _each_step(step, batches, before_step):
    """``(labels, logs, rate)`` of every batch, one ``step`` call each."""
    for number in range(len(batches)):
        rate = None if before_step is None else before_step(number, len(batches))
        frames, labels = batches[number]
        yield labels, step(frames, labels, return_dict=True), rate


def _runs_of_steps(runs, batches, before_step):
    """``(labels, logs, rate)`` of every batch; runs of batches of one shape go in one ``runs`` call each."""
    run = []

    def finish():
        plans, labels, rates = zip(*run)
        yield from zip(labels, runs(batches.table, list(plans), list(labels), list(rates)), rates)
        run.clear()

    for number in range(len(batches)):
        rate = before_step(number, len(batches))
        plan, labels = batches.plan(number)
        if run and (len(run) == runs.steps or _shape(plan, labels) != _shape(run[0][0], run[0][1])):
            yield from finish()
        run.append((plan, labels, rate))
    if run:
        yield from finish()


def _shape(plan, labels) -> tuple:
    """What must agree between the batches of one run."""
    return (plan.n_frames, labels.shape, labels.dtype,
            tuple(None if value is None else value.shape for value in plan.arrays().values()))


def _step_runs(trainable, batches) -> StepRuns:
    """:class:`StepRuns` for ``trainable``, built on zeros of the shapes of ``batches``' first batch."""
    starts, n_frames, labels = batches.batches.rows(0)
    frames = np.zeros((len(starts), n_frames, batches.table.shape[-1]), np.float32)
    return StepRuns(trainable, steps=batches.augmentation.training.steps_per_call,
                    feature_blocks=batches.augmentation.feature_blocks, frames=frames,
                    labels=batches.augmentation.labels(labels))


def _set_rate(optimizer, schedule, state, epoch, number, batches) -> float:
    """Set the learning rate for step ``number`` of ``batches`` in 0-based ``epoch``; return it."""
    rate = schedule.rate(epoch + (number + 1) / batches, scale=state.rate_scale)
    optimizer.learning_rate.assign(rate)
    return rate


@contextlib.contextmanager
def _averaged_weights(trainable):
    """Within the block, ``trainable``'s weights are their moving average, where its optimizer keeps one
    (``training.ema_momentum``); the raw weights come back after it."""
    optimizer = trainable.optimizer
    if not optimizer.use_ema:
        yield
        return
    # Copies, on both sides: under JAX a variable and its average would otherwise share one buffer, which
    # the next compiled step donates (and deletes).
    raw = [np.array(variable) for variable in trainable.trainable_variables]
    optimizer.finalize_variable_values(trainable.trainable_variables)
    for variable in trainable.trainable_variables:
        variable.assign(np.array(variable))
    try:
        yield
    finally:
        for variable, value in zip(trainable.trainable_variables, raw):
            variable.assign(value)


def _seed_states(model) -> list:
    """The state variables of the model's random seed generators, in a fixed order."""
    return [variable for variable in model.non_trainable_variables if variable.path.endswith("seed_generator_state")]


def _save_model(model, path):
    with atomic_path(path) as partial:
        model.save(partial)
