"""Training one trial's model: the epoch loop, early stopping, the best model, checkpoints and resume."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras

from mclnn.atomic import atomic_path
from mclnn.config import TrainingSettings
from mclnn.train.batch_augmentation import AugmentedBatches, BatchAugmentation
from mclnn.train.event_files import EpochEvents
from mclnn.train.model_kinds import ModelKind
from mclnn.train.schedules import SCHEDULES
from mclnn.train.segments import StandardizedClips
from mclnn.train.trial_files import TrialPaths, read_json, write_json

__all__ = ["EpochProgress", "TrainingState", "train_trial"]

logger = logging.getLogger(__name__)

# Called as progress(trial, epoch, epochs, logs) after every epoch.
#: ``progress(trial, epoch, epochs, logs)`` after every epoch; ``logs`` holds the losses, accuracies,
#: learning rate and the epoch's ``seconds``.
EpochProgress = Callable[[int, int, int, dict], None]


@dataclass
class TrainingState:
    """Where a trial's training stands; written after every epoch (``state.json``).

    Attributes
    ----------
    settings_hash : str
        The settings it is trained with; a checkpoint of other settings is not resumed.
    model_hash : str or None
        The settings that scoring the model depends on (its architecture, the segment
        step, the folds); None in states written before it was recorded.
    epoch : int
        Epochs done.
    best, best_epoch : float and int, or None
        The best monitored value so far and its 1-based epoch.
    wait : int
        Epochs since the best one.
    stopped : bool
        Training has ended (early stopping or the last epoch).
    seconds : float
        Training time so far.
    history : dict of list of float
        Per-epoch losses, accuracies (training and ``val_``) and the learning rate.
    rate_scale : float
        What a ``plateau`` schedule has multiplied the learning rate by so far.
    plateau_wait : int
        Epochs since the ``plateau`` schedule last improved or reduced.
    resumed_after : list of int
        The epochs after which training was resumed from a checkpoint.
    """

    settings_hash: str
    model_hash: str | None = None
    epoch: int = 0
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    stopped: bool = False
    seconds: float = 0.0
    history: dict = field(default_factory=dict)
    rate_scale: float = 1.0
    plateau_wait: int = 0
    resumed_after: list = field(default_factory=list)

    @classmethod
    def read(cls, path: str | Path) -> "TrainingState | None":
        """The state written at ``path``, or None when there is none."""
        content = read_json(path)
        return None if content is None else cls(**content)

    def write(self, path: str | Path) -> None:
        """Write the state atomically."""
        write_json(path, dataclasses.asdict(self))

    def record(self, logs: dict, *, seconds: float, monitor: str) -> bool:
        """Add an epoch's logs; True when its ``monitor`` value is the best so far."""
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        value = logs[monitor]
        improved = self.best is None or (value > self.best if monitor == "val_accuracy" else value < self.best)
        if improved:
            self.best, self.best_epoch, self.wait = value, self.epoch + 1, 0
        else:
            self.wait += 1
        self.epoch += 1
        self.seconds += seconds
        return improved


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
    paths.folder.mkdir(parents=True, exist_ok=True)
    state = TrainingState.read(paths.state)
    resumable = (state is not None and state.settings_hash == run_hash and paths.checkpoint.is_file()
                 and paths.model.is_file())
    if resumable and state.stopped:
        return state
    keras.utils.set_random_seed(training.seed + trial)
    mode = kind.training_mode
    if resumable:
        logger.info("trial %d: resuming after epoch %d", trial, state.epoch)
        state.resumed_after.append(state.epoch)
        trainable = keras.models.load_model(paths.checkpoint)
        model = mode.kept(trainable, kind)
    else:
        state = TrainingState(run_hash, model_hash)
        model = kind.build(n_features=n_features, n_classes=augmentation.n_classes, seed=training.seed + 1000 * trial)
        trainable = mode.trainable(model, kind)
        kind.compile(trainable)
    # ``model`` (per segment) is what is kept; ``trainable`` shares its layers.
    train = AugmentedBatches(mode.training_batches(train_clips, kind, shuffle_seed=training.seed + trial),
                             augmentation, seed=training.seed + trial, epoch=state.epoch)
    validator, validation = mode.validation(model, trainable, validation_clips, kind)
    validation = AugmentedBatches(validation, augmentation)
    schedule = SCHEDULES[training.schedule](training, peak=kind.learning_rate)
    events = EpochEvents(paths.events)
    for epoch in range(state.epoch, training.epochs):
        started = time.perf_counter()
        set_rate = functools.partial(_set_rate, trainable.optimizer, schedule, state, epoch)
        logs = _run_epoch(trainable.train_on_batch, train, before_step=set_rate)
        logs.update({f"val_{key}": value for key, value in _run_epoch(validator.test_on_batch, validation).items()})
        seconds = time.perf_counter() - started
        improved = state.record(logs, seconds=seconds, monitor=training.monitor)
        schedule.end_epoch(state, improved=improved)
        if improved or training.keep == "last":
            _save_model(model, paths.model)
        _save_model(trainable, paths.checkpoint)
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


def _run_epoch(step, batches, *, before_step=None) -> dict:
    """One pass of ``step`` (a model's ``train_on_batch`` or ``test_on_batch``) over the batches.

    ``before_step(number, batches)`` runs before each step and returns the learning rate
    it set, whose last value is logged as ``learning_rate``. Returns the loss and metrics
    averaged over the pass's samples (segments: a class index, or a row of class
    probabilities, per segment). A plain loop:
    on the 2-core machine ``Model.fit`` fed from Python batches spent more than half of a
    clip-mode ESC-10 epoch waiting on its input pipeline's threads (15 s an epoch
    against 4 s for the steps alone).
    """
    totals, samples, rate = {}, 0, None
    for number in range(len(batches)):
        if before_step is not None:
            rate = before_step(number, len(batches))
        frames, labels = batches[number]
        segments = labels.size if labels.dtype.kind in "iu" else labels.size // labels.shape[-1]
        for key, value in step(frames, labels, return_dict=True).items():
            totals[key] = totals.get(key, 0.0) + float(value) * segments
        samples += segments
    batches.on_epoch_end()
    return {key: total / samples for key, total in totals.items()} | ({} if rate is None else {"learning_rate": rate})


def _set_rate(optimizer, schedule, state, epoch, number, batches) -> float:
    """Set the learning rate for step ``number`` of ``batches`` in 0-based ``epoch``; return it."""
    rate = schedule.rate(epoch + (number + 1) / batches, scale=state.rate_scale)
    optimizer.learning_rate.assign(rate)
    return rate


def _save_model(model, path):
    with atomic_path(path) as partial:
        model.save(partial)
