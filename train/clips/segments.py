"""Segments: windows of ``segment_frames`` frames cut from standardized clips on the fly."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from mclnn.dataset_file import Dataset
from mclnn.errors import DatasetError

__all__ = ["INFERENCE_CLIPS", "INFERENCE_SEGMENTS", "ClipBatches", "SegmentBatches", "StandardizedClips", "gather",
           "segment_starts"]

# Clips per batch when MCLNN scores whole clips, segments per batch otherwise: larger
# batches run faster (benchmarks/RESULTS.md) and do not change the outputs.
INFERENCE_CLIPS = 32
INFERENCE_SEGMENTS = 2048


def segment_starts(n_frames: int, *, segment_frames: int, step: int) -> np.ndarray:
    """First frames of a clip's segments: ``0, step, ...`` while a whole segment fits (the original's rule)."""
    return np.arange(0, n_frames - segment_frames + 1, step)


class StandardizedClips:
    """Some clips of a Dataset.hdf5, standardized, concatenated in memory.

    Parameters
    ----------
    dataset : Dataset
    indices : sequence of int
        Clip positions in the dataset.
    mean_vector, std_vector : np.ndarray [shape=(n_features,)]
        The trial's training statistics: clips become ``(x - mean) / std``.
    segment_frames : int
        Checked against every clip's length.
    remedy : str
        What to change when a clip is shorter than one segment, in the model kind's own
        settings (:attr:`mclnn.train.trial_files.ScoringRecord.remedy`).

    Raises
    ------
    DatasetError
        A clip is shorter than one segment (the message names the clips).
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int], *, mean_vector: np.ndarray,
                 std_vector: np.ndarray, segment_frames: int, remedy: str = ""):
        indices = np.asarray(indices)
        self._standardize(indices, dataset.labels[indices], dataset.frame_counts[indices], dataset.features,
                          names=dataset.filenames, mean_vector=mean_vector, std_vector=std_vector,
                          segment_frames=segment_frames, remedy=remedy)

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray], *, names: Sequence[str], mean_vector: np.ndarray,
                    std_vector: np.ndarray, segment_frames: int, remedy: str = "",
                    labels: Sequence[int] | None = None) -> "StandardizedClips":
        """Clips given as feature arrays ``[frames, n_features]``; new clips are unlabelled (labels 0).

        Raises
        ------
        DatasetError
            A clip is shorter than one segment (the message names the clips by ``names``).
        """
        clips = cls.__new__(cls)
        labels = np.zeros(len(arrays), dtype=np.int32) if labels is None else np.asarray(labels, dtype=np.int32)
        clips._standardize(np.arange(len(arrays)), labels,
                           np.array([len(array) for array in arrays]), arrays.__getitem__, names=names,
                           mean_vector=mean_vector, std_vector=std_vector, segment_frames=segment_frames,
                           remedy=remedy)
        return clips

    def _standardize(self, indices: np.ndarray, labels: np.ndarray, counts: np.ndarray,
                     features: Callable[[int], np.ndarray], *, names, mean_vector, std_vector, segment_frames,
                     remedy):
        self.indices = indices
        short = np.flatnonzero(counts < segment_frames)
        if len(short):
            shown = ", ".join(f"{names[indices[p]]} ({counts[p]} frames)" for p in short[:5])
            raise DatasetError(f"{len(short)} clip(s) are shorter than one segment of {segment_frames} frames: "
                               f"{shown}" + (f"; {remedy}" if remedy else ""))
        self.labels = labels
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.frames = np.empty((self.offsets[-1], len(mean_vector)), dtype=np.float32)
        for position, index in enumerate(indices):
            clip = features(index)
            self.frames[self.offsets[position]:self.offsets[position + 1]] = (clip - mean_vector) / std_vector

    def __len__(self) -> int:
        return len(self.indices)

    def clip(self, position: int) -> np.ndarray:
        """The standardized frames of the ``position``-th clip, ``[frames, n_features]``."""
        return np.asarray(self.frames[self.offsets[position]:self.offsets[position + 1]])

    def device_frames(self):
        """:attr:`frames` as a tensor where the backend computes (an accelerator's memory), converted once.

        The tensor then takes the array's place, since on a CPU the two would hold the clips
        twice; reads from the host (:meth:`clip`, the batch sources' frames) go through it.
        """
        if isinstance(self.frames, np.ndarray):
            from keras import ops

            self.frames = ops.convert_to_tensor(self.frames)
        return self.frames


def gather(frames, starts: np.ndarray, n_frames: int, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A batch's frames ``[examples, n_frames, n_features]`` from its rows (``rows``), and its labels.

    ``frames`` is :attr:`StandardizedClips.frames`: an array, or a backend tensor once on the device.
    """
    rows = starts[:, None] + np.arange(n_frames)
    if isinstance(frames, np.ndarray):
        return frames[rows], labels
    from keras import ops

    return np.asarray(ops.take(frames, rows, axis=0)), labels


class SegmentBatches:
    """Batches of ``(segments, labels)`` over every segment of some clips.

    Parameters
    ----------
    clips : StandardizedClips
    segment_frames, step, batch_size : int
    shuffle_seed : int, optional
        Shuffle the segments, anew every epoch, with this seed; None keeps clip order.
    """

    def __init__(self, clips: StandardizedClips, *, segment_frames: int, step: int, batch_size: int,
                 shuffle_seed: int | None = None):
        self.clips = clips
        starts = [segment_starts(n, segment_frames=segment_frames, step=step) for n in np.diff(clips.offsets)]
        self.segments_per_clip = np.array([len(s) for s in starts])
        self.positions = np.concatenate([clips.offsets[p] + s for p, s in enumerate(starts)])
        self.labels = np.repeat(clips.labels, self.segments_per_clip)
        self.segment_frames = segment_frames
        self.batch_size = batch_size
        self._rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
        self.order = np.arange(len(self.positions))
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.positions) / self.batch_size)

    def __getitem__(self, batch: int):
        return gather(self.clips.frames, *self.rows(batch))

    def rows(self, batch: int) -> tuple[np.ndarray, int, np.ndarray]:
        """A batch as indices: each segment's first row in ``clips.frames``, frames per segment, labels."""
        chosen = self.order[batch * self.batch_size:(batch + 1) * self.batch_size]
        return self.positions[chosen], self.segment_frames, self.labels[chosen]

    def on_epoch_end(self) -> None:
        if self._rng is not None:
            self._rng.shuffle(self.order)


class ClipBatches:
    """Batches of whole clips and their labels, for the clip-level model.

    Clips of equal length are batched together; each clip's label is repeated once per
    segment, matching :func:`mclnn.train.model.clip_model`'s output, or given once a clip.

    Parameters
    ----------
    clips : StandardizedClips
    segment_frames, step : int
    clips_per_batch : int
    shuffle_seed : int, optional
        Shuffle clips, anew every epoch, with this seed; None keeps clip order.
    clip_labels : bool
        One label a clip (``(clips,)``) instead of one a segment (``(clips, segments)``).
    """

    def __init__(self, clips: StandardizedClips, *, segment_frames: int, step: int, clips_per_batch: int,
                 shuffle_seed: int | None = None, clip_labels: bool = False):
        self.clips = clips
        self.clip_labels = clip_labels
        self.lengths = lengths = np.diff(clips.offsets)
        self.segments_per_clip = np.array([len(segment_starts(n, segment_frames=segment_frames, step=step))
                                           for n in lengths])
        self.step = step
        self._groups = [np.flatnonzero(lengths == n) for n in np.unique(lengths)]
        self._clips_per_batch = clips_per_batch
        self._rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, batch: int):
        return gather(self.clips.frames, *self.rows(batch))

    def rows(self, batch: int) -> tuple[np.ndarray, int, np.ndarray]:
        """A batch as indices: each clip's first row in ``clips.frames``, frames per clip (equal in a batch),
        and the labels (per segment, or per clip with ``clip_labels``)."""
        positions = self.batches[batch]
        labels = self.clips.labels[positions]
        if not self.clip_labels:
            labels = np.repeat(labels[:, None], self.segments_per_clip[positions[0]], axis=1)
        return self.clips.offsets[positions], int(self.lengths[positions[0]]), labels

    def on_epoch_end(self) -> None:
        self.batches = []
        for group in self._groups:
            order = self._rng.permutation(group) if self._rng is not None else group
            self.batches += [order[i:i + self._clips_per_batch] for i in range(0, len(order), self._clips_per_batch)]
        if self._rng is not None:
            self._rng.shuffle(self.batches)
