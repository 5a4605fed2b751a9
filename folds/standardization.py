"""Per-feature standardization statistics of each trial's training clips."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from mclnn.dataset_file import Dataset

__all__ = ["NEAR_ZERO_STD", "clip_moments", "training_statistics"]

# A feature whose training standard deviation is below this is left unscaled (std 1).
NEAR_ZERO_STD = 1e-6


def clip_moments(
    dataset: Dataset, *, progress: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame count, per-feature mean and sum of squared deviations of every clip.

    One pass over the file, one clip in memory at a time, in float64, so it works on a
    Dataset.hdf5 larger than memory.

    Returns
    -------
    counts : np.ndarray [shape=(n_clips,)]
    means, squared_deviations : np.ndarray [shape=(n_clips, n_features), dtype=float64]
    """
    counts = np.asarray(dataset.frame_counts, dtype=np.float64)
    means = np.empty((len(dataset), dataset.n_features))
    squared_deviations = np.empty_like(means)
    for index in range(len(dataset)):
        frames = dataset.features(index).astype(np.float64)
        means[index] = frames.mean(axis=0)
        squared_deviations[index] = ((frames - means[index]) ** 2).sum(axis=0)
        if progress is not None:
            progress(index + 1, len(dataset))
    return counts, means, squared_deviations


def training_statistics(
    moments: tuple[np.ndarray, np.ndarray, np.ndarray], train: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over all frames of the ``train`` clips.

    Combines per-clip moments exactly (Chan et al.'s pairwise update, summed), which
    equals ``np.mean`` and ``np.std`` over the concatenated frames. Standard deviations
    below :data:`NEAR_ZERO_STD` become 1.

    Returns
    -------
    mean_vector, std_vector : np.ndarray [shape=(n_features,), dtype=float32]
    """
    counts, means, squared_deviations = (part[np.asarray(train)] for part in moments)
    total = counts.sum()
    mean = (counts[:, None] * means).sum(axis=0) / total
    spread = squared_deviations.sum(axis=0) + (counts[:, None] * (means - mean) ** 2).sum(axis=0)
    std = np.sqrt(spread / total)
    std[std < NEAR_ZERO_STD] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)
