"""Cheap on-the-fly augmentation of training batches: time and frequency shifts, spectral colouring,
SpecAugment masks, mixup; batches formed on the device from indices.

A batch leaves the host as a :class:`BatchPlan`: where each example's frames start in the
trial's frames table (whole clips in ``clip`` mode, segments in ``segment`` mode) and every
random choice the augmentation made, drawn with a generator seeded per epoch so that a
resumed trial draws what an uninterrupted one would. :func:`form_batch`, compiled for the
backend, gathers and augments the frames where the table lives (an accelerator's memory,
put there once a trial), so no batch of frames is copied from the host.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from mclnn.config import TrainingSettings

__all__ = ["AugmentedBatches", "BatchAugmentation", "BatchPlan", "form_batch", "form_frames"]


@dataclass(frozen=True)
class BatchPlan:
    """One batch as indices and draws; None where an augmentation is off.

    Attributes
    ----------
    starts : np.ndarray [shape=(examples,), dtype=int32]
        Each example's first row in the frames table.
    n_frames : int
        Frames per example.
    time_shifts : np.ndarray [shape=(examples,)] or None
        Each example rolled forward in time by this many frames.
    columns : np.ndarray [shape=(examples, n_features)] or None
        The feature each output feature is read from (a frequency shift).
    colour : np.ndarray [shape=(examples, block), dtype=float32] or None
        Added to the first block of features (spectral colouring).
    band_masks, frame_masks : np.ndarray [shape=(examples, n_masks, 2)] or None
        First band (or frame) and width of every mask, zeroed.
    partners : np.ndarray [shape=(examples,)] or None
        Mixup: each example mixed with this one, ...
    weights : np.ndarray [shape=(examples,), dtype=float32] or None
        ... keeping this weight of its own.
    """

    starts: np.ndarray
    n_frames: int
    time_shifts: np.ndarray | None = None
    columns: np.ndarray | None = None
    colour: np.ndarray | None = None
    band_masks: np.ndarray | None = None
    frame_masks: np.ndarray | None = None
    partners: np.ndarray | None = None
    weights: np.ndarray | None = None

    def arrays(self) -> dict:
        """Every field but ``n_frames``, by name (None where an augmentation is off)."""
        return {name: value for name, value in vars(self).items() if name != "n_frames"}


@dataclass(frozen=True)
class BatchAugmentation:
    """What is done to each training batch, and how its labels are given.

    Attributes
    ----------
    training : TrainingSettings
        ``time_shift``, ``frequency_shift``, ``spectral_tilt``, the frequency and time
        masks, ``mixup_alpha``; labels become class
        probabilities ``(..., n_classes)`` where ``training.soft_labels`` asks for them.
    n_classes : int
    feature_blocks : int
        Frequency shifts and masks move or cover the same bands in each of this many equal
        blocks of features (2 when the delta follows the log-mel); spectral colouring acts on
        the first block, the log-mel, alone.
    """

    training: TrainingSettings
    n_classes: int
    feature_blocks: int = 1

    def labels(self, labels: np.ndarray) -> np.ndarray:
        """Class indices as the model is trained on them: unchanged, or one-hot probabilities."""
        return np.eye(self.n_classes, dtype=np.float32)[labels] if self.training.soft_labels else labels

    def plan(self, starts: np.ndarray, n_frames: int, labels: np.ndarray, *, n_features: int,
             rng: np.random.Generator | None) -> tuple[BatchPlan, np.ndarray]:
        """One batch's plan and its labels as trained on (mixed where mixup is on).

        Parameters
        ----------
        starts : np.ndarray [shape=(examples,)]
            Each example's first row in the frames table.
        n_frames, n_features : int
        labels : np.ndarray [shape=(examples,) or (examples, segments)]
            Class indices.
        rng : np.random.Generator or None
            Draws the augmentation; None: no augmentation, only the labels' form.

        Returns
        -------
        plan : BatchPlan
        labels : np.ndarray
            Class indices, or probabilities ``[..., n_classes]`` with ``training.soft_labels``.
        """
        labels = self.labels(labels)
        starts = np.asarray(starts, dtype=np.int32)
        if rng is None:
            return BatchPlan(starts, n_frames), labels
        training, examples = self.training, len(starts)
        block = n_features // self.feature_blocks
        draws = {}
        if training.time_shift:
            draws["time_shifts"] = rng.integers(0, n_frames, size=examples).astype(np.int32)
        if training.frequency_shift:
            shifts = rng.integers(-training.frequency_shift, training.frequency_shift + 1, size=examples)
            bands = np.clip(np.arange(block)[None, :] - shifts[:, None], 0, block - 1)
            draws["columns"] = np.concatenate([bands + offset for offset in range(0, n_features, block)],
                                              axis=1).astype(np.int32)
        if training.spectral_tilt:
            gain, tilt = rng.uniform(-training.spectral_tilt, training.spectral_tilt, size=(2, examples, 1))
            draws["colour"] = (gain + tilt * np.linspace(-1.0, 1.0, block)[None, :]).astype(np.float32)
        band_masks = np.zeros((examples, training.frequency_masks, 2), np.int32)
        frame_masks = np.zeros((examples, training.time_masks, 2), np.int32)
        for example in range(examples):  # in this order, so that the draws stay those of earlier versions
            for mask in range(training.frequency_masks):
                width = rng.integers(0, min(training.frequency_mask_bands, block) + 1)
                band_masks[example, mask] = rng.integers(0, block - width + 1), width
            for mask in range(training.time_masks):
                width = rng.integers(0, min(training.time_mask_frames, n_frames) + 1)
                frame_masks[example, mask] = rng.integers(0, n_frames - width + 1), width
        if training.frequency_masks:
            draws["band_masks"] = band_masks
        if training.time_masks:
            draws["frame_masks"] = frame_masks
        if training.mixup_alpha > 0:
            partners = rng.permutation(examples)
            weights = rng.beta(training.mixup_alpha, training.mixup_alpha, size=examples).astype(np.float32)
            draws.update(partners=partners.astype(np.int32), weights=weights)
            shape = (examples,) + (1,) * (labels.ndim - 1)
            labels = weights.reshape(shape) * labels + (1 - weights.reshape(shape)) * labels[partners]
        return BatchPlan(starts, n_frames, **draws), labels

    def form(self, table, plan: BatchPlan):
        """The plan's frames ``[examples, n_frames, n_features]`` from ``table`` (see :func:`form_batch`)."""
        return form_batch(table, plan, feature_blocks=self.feature_blocks)


def form_batch(table, plan: BatchPlan, *, feature_blocks: int = 1):
    """A batch's frames, gathered and augmented as ``plan`` says, where ``table`` lives.

    Parameters
    ----------
    table : tensor [shape=(rows, n_features), dtype=float32]
        The trial's standardized frames (:attr:`StandardizedClips.frames`), a backend tensor
        (converted once, so its rows stay on the device) or an array.
    plan : BatchPlan
    feature_blocks : int
        Masks cover the same bands in each block; colour goes to the first.

    Returns
    -------
    tensor [shape=(examples, plan.n_frames, n_features), dtype=float32]
        A backend tensor. Compiled once per backend and plan shape (XLA under JAX, a graph
        under TensorFlow).
    """
    return _compiled_former()(table, plan.arrays(), n_frames=plan.n_frames, feature_blocks=feature_blocks)


def form_frames(table, arrays: dict, *, n_frames: int, feature_blocks: int):
    """:func:`form_batch`'s computation, in backend-neutral ops, for use inside a compiled function.

    ``arrays`` holds the plan's fields but ``n_frames`` (None where an augmentation is off).
    """
    n_features = table.shape[-1]
    block = n_features // feature_blocks
    time = ops.arange(n_frames, dtype="int32")
    offsets = time[None, :]
    if arrays["time_shifts"] is not None:
        offsets = ops.mod(offsets - arrays["time_shifts"][:, None], n_frames)
    frames = ops.take(table, arrays["starts"][:, None] + offsets, axis=0)
    examples = ops.shape(frames)[0]
    if arrays["columns"] is not None:
        columns = ops.broadcast_to(arrays["columns"][:, None, :], (examples, n_frames, n_features))
        frames = ops.take_along_axis(frames, columns, axis=2)
    if arrays["colour"] is not None:
        colour = ops.concatenate([arrays["colour"], ops.zeros((examples, n_features - block), frames.dtype)], axis=1)
        frames = frames + colour[:, None, :]
    if arrays["band_masks"] is not None:
        covered = ops.tile(_covered(arrays["band_masks"], ops.arange(block, dtype="int32")), (1, feature_blocks))
        frames = ops.where(covered[:, None, :], ops.zeros_like(frames), frames)
    if arrays["frame_masks"] is not None:
        covered = _covered(arrays["frame_masks"], time)
        frames = ops.where(covered[:, :, None], ops.zeros_like(frames), frames)
    if arrays["partners"] is not None:
        weights = arrays["weights"][:, None, None]
        frames = weights * frames + (1 - weights) * ops.take(frames, arrays["partners"], axis=0)
    return frames


def _covered(masks, positions):
    """``[examples, positions]``: whether any of each example's masks (first, width) covers a position."""
    first, width = masks[:, :, 0:1], masks[:, :, 1:2]
    return ops.any((positions[None, None, :] >= first) & (positions[None, None, :] < first + width), axis=1)


@functools.cache
def _compiled_former():
    """:func:`form_frames` compiled for the backend: XLA under JAX, a graph under TensorFlow, eager elsewhere."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(form_frames, static_argnames=("n_frames", "feature_blocks"))
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(form_frames)
    return form_frames


class AugmentedBatches:
    """Batches of another batch source, formed where the backend computes: augmented (training) or
    only with their labels' form changed.

    The source's frames go to the backend's device once, as :attr:`table`
    (:meth:`StandardizedClips.device_frames`); each batch then leaves the host as its
    :class:`BatchPlan` and is formed there (:func:`form_batch`).

    Parameters
    ----------
    batches : SegmentBatches or ClipBatches
        Gives each batch's rows (``rows(batch)``) in ``batches.clips.frames``.
    augmentation : BatchAugmentation
    seed : int or None
        Seeds the augmentation, anew each epoch with ``(seed, epoch)``; None: labels only.
    epoch : int
        The epoch the next pass is (a resumed trial starts past 0).
    """

    def __init__(self, batches, augmentation: BatchAugmentation, *, seed: int | None = None, epoch: int = 0):
        self.batches = batches
        self.augmentation = augmentation
        self.table = batches.clips.device_frames()
        self._seed = seed
        self._epoch = epoch
        self._rng = self._epoch_rng()

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, batch: int):
        """The batch's frames (a backend tensor) and labels (an array)."""
        plan, labels = self.plan(batch)
        return self.augmentation.form(self.table, plan), labels

    def plan(self, batch: int) -> tuple[BatchPlan, np.ndarray]:
        """The host's part of a batch: its plan and labels (:meth:`BatchAugmentation.plan`)."""
        starts, n_frames, labels = self.batches.rows(batch)
        return self.augmentation.plan(starts, n_frames, labels, n_features=self.table.shape[-1], rng=self._rng)

    def on_epoch_end(self) -> None:
        self.batches.on_epoch_end()
        self._epoch += 1
        self._rng = self._epoch_rng()

    def _epoch_rng(self):
        return None if self._seed is None else np.random.default_rng([self._seed, self._epoch])
