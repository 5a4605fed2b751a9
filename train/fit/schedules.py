"""Learning-rate schedules: the rate at every point of training, one kind per ``training.schedule``.

A schedule gives the rate at a fractional epoch (``epoch + batches done / batches``),
so warm-up and decay move every step; :data:`mclnn.variants.SCHEDULES` maps the setting's names to them.
"""

from __future__ import annotations

import math

from mclnn.config import TrainingSettings

__all__ = ["ConstantSchedule", "CosineSchedule", "OneCycleSchedule", "PlateauSchedule", "Schedule"]

# One-cycle starts at the peak divided by this (the usual choice for one-cycle).
_ONE_CYCLE_START_DIVISOR = 25.0
# One-cycle warms up over this part of the epochs when warmup_epochs is 0.
_ONE_CYCLE_WARMUP_FRACTION = 0.3


class Schedule:
    """The learning rate as a function of training progress.

    ``decays_over_epochs`` says whether the schedule spans ``training.epochs`` (its warm-up
    must leave epochs to decay over).

    Parameters
    ----------
    training : TrainingSettings
        ``learning_rate`` is the peak; ``epochs`` the budget.
    peak : float, optional
        The peak rate, if not ``training.learning_rate`` (a baseline's ``lr``).
    """

    decays_over_epochs = False

    def __init__(self, training: TrainingSettings, *, peak: float | None = None):
        self.training = training
        self.peak = training.learning_rate if peak is None else peak

    def rate(self, position: float, *, scale: float = 1.0) -> float:
        """The rate at ``position`` (epochs done, fractional); ``scale`` is the plateau's reduction so far."""
        raise NotImplementedError

    def end_epoch(self, state, *, improved: bool) -> None:
        """Update ``state`` (a :class:`mclnn.train.trial_files.TrainingState`) after an epoch; most schedules need not."""


class ConstantSchedule(Schedule):
    """The peak rate throughout (the original recipe)."""

    def rate(self, position, *, scale=1.0):
        return self.peak


class CosineSchedule(Schedule):
    """Linear warm-up over ``warmup_epochs``, then cosine decay to ``min_learning_rate`` at ``epochs``."""

    decays_over_epochs = True

    def rate(self, position, *, scale=1.0):
        warmup, floor = self.training.warmup_epochs, self.training.min_learning_rate
        if position < warmup:
            return self.peak * position / warmup
        progress = min(1.0, (position - warmup) / (self.training.epochs - warmup))
        return floor + (self.peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class OneCycleSchedule(Schedule):
    """Cosine up from ``peak / 25`` over the warm-up (else 30% of the epochs), then cosine down to the floor."""

    decays_over_epochs = True

    def rate(self, position, *, scale=1.0):
        training = self.training
        warmup = training.warmup_epochs or _ONE_CYCLE_WARMUP_FRACTION * training.epochs
        start = self.peak / _ONE_CYCLE_START_DIVISOR
        if position < warmup:
            return start + (self.peak - start) * 0.5 * (1 - math.cos(math.pi * position / warmup))
        progress = min(1.0, (position - warmup) / (training.epochs - warmup))
        floor = training.min_learning_rate
        return floor + (self.peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class PlateauSchedule(Schedule):
    """The peak rate times ``plateau_factor`` for every ``plateau_patience`` epochs without improvement."""

    def rate(self, position, *, scale=1.0):
        return max(self.training.min_learning_rate, self.peak * scale)

    def end_epoch(self, state, *, improved):
        state.plateau_wait = 0 if improved else state.plateau_wait + 1
        if state.plateau_wait >= self.training.plateau_patience:
            state.rate_scale *= self.training.plateau_factor
            state.plateau_wait = 0

