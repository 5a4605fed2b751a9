"""Training modes: how a model's training batches are formed and its validation scored.

``segment`` is the original work's semantics, every segment a sample of its own;
``clip`` feeds whole clips through the clip-level model (:func:`mclnn.train.model.clip_model`),
computing each frame once for all the segments that contain it. :data:`TRAINING_MODES`
maps ``training.mode`` to a mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np

from mclnn.train.model import clip_model, segment_model
from mclnn.train.segments import INFERENCE_CLIPS, ClipBatches, SegmentBatches, StandardizedClips

if TYPE_CHECKING:
    from mclnn.train.model_kinds import ModelKind

__all__ = ["TRAINING_MODES", "ClipTraining", "SegmentTraining", "TrainingMode"]


class TrainingMode:
    """How a kind's per-segment model is trained and validated."""

    def trainable(self, model: keras.Model, kind: "ModelKind") -> keras.Model:
        """The model the training steps run on, sharing ``model``'s layers."""
        return model

    def kept(self, trainable: keras.Model, kind: "ModelKind") -> keras.Model:
        """The per-segment model sharing the layers of ``trainable`` (one loaded from a checkpoint)."""
        return trainable

    def training_batches(self, clips: StandardizedClips, kind: "ModelKind", *, shuffle_seed: int):
        """Shuffled batches of ``(inputs, labels)`` for one epoch at a time."""
        raise NotImplementedError

    def validation(self, model: keras.Model, trainable: keras.Model, clips: StandardizedClips,
                   kind: "ModelKind") -> tuple[keras.Model, object]:
        """The compiled model that scores validation batches, and the batches."""
        raise NotImplementedError


class SegmentTraining(TrainingMode):
    """Every segment a sample of its own, batches drawn from all training clips (the original work)."""

    def training_batches(self, clips, kind, *, shuffle_seed):
        return SegmentBatches(clips, segment_frames=kind.segment_frames, step=kind.step,
                              batch_size=kind.batch_size, shuffle_seed=shuffle_seed)

    def validation(self, model, trainable, clips, kind):
        return trainable, SegmentBatches(clips, segment_frames=kind.segment_frames, step=kind.step,
                                         batch_size=kind.batch_size)


class ClipTraining(TrainingMode):
    """Batches of whole clips through the clip-level model, every segment's loss counted.

    A batch holds about ``batch_size`` segments' worth of whole clips. Overlapping
    segments of a clip share the dropout masks of the MCLNN layers' inputs.
    """

    def trainable(self, model, kind):
        return clip_model(model, step=kind.step)

    def kept(self, trainable, kind):
        return segment_model(trainable, segment_frames=kind.segment_frames)

    def training_batches(self, clips, kind, *, shuffle_seed):
        segment = {"segment_frames": kind.segment_frames, "step": kind.step}
        segments = np.median(ClipBatches(clips, **segment, clips_per_batch=1).segments_per_clip)
        per_batch = max(1, round(kind.batch_size / segments))
        return ClipBatches(clips, **segment, clips_per_batch=per_batch, shuffle_seed=shuffle_seed)

    def validation(self, model, trainable, clips, kind):
        # Scored through XLA, like the test clips; the clip model shares the trained weights.
        validator = clip_model(model, step=kind.step)
        kind.compile(validator, jit_compile=True)
        return validator, ClipBatches(clips, segment_frames=kind.segment_frames, step=kind.step,
                                      clips_per_batch=INFERENCE_CLIPS)


TRAINING_MODES: dict[str, TrainingMode] = {"segment": SegmentTraining(), "clip": ClipTraining()}
