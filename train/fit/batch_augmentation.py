"""Cheap on-the-fly augmentation of training batches: time and frequency shifts, spectral colouring,
SpecAugment masks, mixup.

Applied to a batch's standardized frames ``(examples, frames, features)`` (whole clips in
``clip`` mode, segments in ``segment`` mode) and its labels, with a generator seeded per
epoch so that a resumed trial draws what an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mclnn.config import TrainingSettings

__all__ = ["BatchAugmentation", "AugmentedBatches"]


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

    def __call__(self, frames: np.ndarray, labels: np.ndarray, *, rng: np.random.Generator):
        """An augmented copy of one batch.

        Parameters
        ----------
        frames : np.ndarray [shape=(examples, n_frames, n_features)]
        labels : np.ndarray [shape=(examples,) or (examples, segments)]
            Class indices.
        rng : np.random.Generator

        Returns
        -------
        frames : np.ndarray [shape=(examples, n_frames, n_features)]
        labels : np.ndarray
            Class indices, or probabilities ``[..., n_classes]`` with ``training.soft_labels``.
        """
        training = self.training
        examples, n_frames, n_features = frames.shape
        block = n_features // self.feature_blocks
        fresh = False  # whether ``frames`` is already this call's own array, which the masks may write into
        if training.time_shift:
            shifts = rng.integers(0, n_frames, size=examples)
            frames = frames[np.arange(examples)[:, None], (np.arange(n_frames)[None, :] - shifts[:, None]) % n_frames]
            fresh = True
        if training.frequency_shift:
            shifts = rng.integers(-training.frequency_shift, training.frequency_shift + 1, size=examples)
            bands = np.clip(np.arange(block)[None, :] - shifts[:, None], 0, block - 1)
            columns = np.concatenate([bands + offset for offset in range(0, n_features, block)], axis=1)
            frames = np.take_along_axis(frames, columns[:, None, :], axis=2)
            fresh = True
        if training.spectral_tilt:
            gain, tilt = rng.uniform(-training.spectral_tilt, training.spectral_tilt, size=(2, examples, 1))
            colour = np.zeros((examples, 1, n_features), np.float32)
            colour[:, 0, :block] = gain + tilt * np.linspace(-1.0, 1.0, block)[None, :]
            frames = frames + colour
            fresh = True
        if not fresh and (training.frequency_masks or training.time_masks):
            frames = frames.copy()  # the masks write in place; the source's frames stay untouched
        for example in range(examples):
            for _ in range(training.frequency_masks):
                width = rng.integers(0, min(training.frequency_mask_bands, block) + 1)
                first = rng.integers(0, block - width + 1)
                for offset in range(0, n_features, block):
                    frames[example, :, offset + first:offset + first + width] = 0.0
            for _ in range(training.time_masks):
                width = rng.integers(0, min(training.time_mask_frames, n_frames) + 1)
                first = rng.integers(0, n_frames - width + 1)
                frames[example, first:first + width] = 0.0
        labels = self.labels(labels)
        if training.mixup_alpha > 0:
            partners = rng.permutation(examples)
            weights = rng.beta(training.mixup_alpha, training.mixup_alpha, size=examples).astype(np.float32)
            frames = weights[:, None, None] * frames + (1 - weights[:, None, None]) * frames[partners]
            shape = (examples,) + (1,) * (labels.ndim - 1)
            labels = weights.reshape(shape) * labels + (1 - weights.reshape(shape)) * labels[partners]
        return frames.astype(np.float32, copy=False), labels


class AugmentedBatches:
    """Batches of another batch source, augmented (training) or only with their labels' form changed.

    Parameters
    ----------
    batches : SegmentBatches or ClipBatches
    augmentation : BatchAugmentation
    seed : int or None
        Seeds the augmentation, anew each epoch with ``(seed, epoch)``; None: labels only.
    epoch : int
        The epoch the next pass is (a resumed trial starts past 0).
    """

    def __init__(self, batches, augmentation: BatchAugmentation, *, seed: int | None = None, epoch: int = 0):
        self.batches = batches
        self.augmentation = augmentation
        self._seed = seed
        self._epoch = epoch
        self._rng = self._epoch_rng()

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, batch: int):
        frames, labels = self.batches[batch]
        if self._rng is None:
            return frames, self.augmentation.labels(labels)
        return self.augmentation(frames, labels, rng=self._rng)

    def on_epoch_end(self) -> None:
        self.batches.on_epoch_end()
        self._epoch += 1
        self._rng = self._epoch_rng()

    def _epoch_rng(self):
        return None if self._seed is None else np.random.default_rng([self._seed, self._epoch])
