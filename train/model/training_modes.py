"""Training modes: how a model's training batches are formed and its validation scored.

``segment`` is the original work's semantics, every segment a sample of its own;
``clip`` feeds whole clips through the clip-level model (:func:`mclnn.train.model.clip_model`),
computing each frame once for all the segments that contain it; ``clip-mean`` does the same
with one loss a clip, on the mean of its segments' probabilities (what the mean-probability
vote scores). :data:`mclnn.variants.TRAINING_MODES` maps ``training.mode`` to a mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

from mclnn.train.model.mclnn import clip_model, segment_model
from mclnn.train.clips.segments import INFERENCE_CLIPS, ClipBatches, SegmentBatches, StandardizedClips

__all__ = ["CLIP_MEAN_TRAINING", "CLIP_TRAINING", "SEGMENT_TRAINING", "ClipMeanTraining", "ClipTraining", "SegmentSizes",
           "SegmentTraining", "TrainingMode"]


@dataclass(frozen=True)
class SegmentSizes:
    """How a model's clips are cut and batched in training.

    Attributes
    ----------
    segment_frames, step : int
        Frames per segment (example) and between segment starts.
    batch_size : int
        Segments per training batch.
    """

    segment_frames: int
    step: int
    batch_size: int


class TrainingMode:
    """How a kind's per-segment model is trained and validated."""

    def trainable(self, model: keras.Model, sizes: SegmentSizes) -> keras.Model:
        """The model the training steps run on, sharing ``model``'s layers."""
        return model

    def kept(self, trainable: keras.Model, sizes: SegmentSizes) -> keras.Model:
        """The per-segment model sharing the layers of ``trainable`` (one loaded from a checkpoint)."""
        return trainable

    def training_batches(self, clips: StandardizedClips, sizes: SegmentSizes, *, shuffle_seed: int):
        """Shuffled batches of ``(inputs, labels)`` for one epoch at a time."""
        raise NotImplementedError

    def validation(self, model: keras.Model, trainable: keras.Model, clips: StandardizedClips, sizes: SegmentSizes, *,
                   compile: Callable[..., None]) -> tuple[keras.Model, object]:
        """The compiled model that scores validation batches, and the batches.

        ``compile(model, jit_compile=...)`` compiles a new model as the kind does.
        """
        raise NotImplementedError


class SegmentTraining(TrainingMode):
    """Every segment a sample of its own, batches drawn from all training clips (the original work)."""

    def training_batches(self, clips, sizes, *, shuffle_seed):
        return SegmentBatches(clips, segment_frames=sizes.segment_frames, step=sizes.step,
                              batch_size=sizes.batch_size, shuffle_seed=shuffle_seed)

    def validation(self, model, trainable, clips, sizes, *, compile):
        return trainable, SegmentBatches(clips, segment_frames=sizes.segment_frames, step=sizes.step,
                                         batch_size=sizes.batch_size)


class ClipTraining(TrainingMode):
    """Batches of whole clips through the clip-level model, every segment's loss counted.

    A batch holds about ``batch_size`` segments' worth of whole clips. Overlapping
    segments of a clip share the dropout masks of the MCLNN layers' inputs.
    """

    #: One label a clip rather than one a segment.
    clip_labels = False

    def trainable(self, model, sizes):
        return clip_model(model, step=sizes.step)

    def kept(self, trainable, sizes):
        return segment_model(trainable, segment_frames=sizes.segment_frames)

    def training_batches(self, clips, sizes, *, shuffle_seed):
        segment = {"segment_frames": sizes.segment_frames, "step": sizes.step}
        segments = np.median(ClipBatches(clips, **segment, clips_per_batch=1).segments_per_clip)
        per_batch = max(1, round(sizes.batch_size / segments))
        return ClipBatches(clips, **segment, clips_per_batch=per_batch, shuffle_seed=shuffle_seed,
                           clip_labels=self.clip_labels)

    def validation(self, model, trainable, clips, sizes, *, compile):
        # Scored through XLA, like the test clips; the clip model shares the trained weights.
        validator = clip_model(model, step=sizes.step)
        compile(validator, jit_compile=True)
        return validator, ClipBatches(clips, segment_frames=sizes.segment_frames, step=sizes.step,
                                      clips_per_batch=INFERENCE_CLIPS)


class ClipMeanTraining(ClipTraining):
    """Batches of whole clips, one loss a clip: on the mean of its segments' probabilities.

    Training then scores what the mean-probability vote scores, and a segment that does
    not hold the clip's sound is not pushed towards its label on its own. Validation is
    :class:`ClipTraining`'s, segment by segment, so the monitor means the same in both.
    """

    clip_labels = True

    def trainable(self, model, sizes):
        clips = super().trainable(model, sizes)
        inputs = keras.Input(shape=clips.input_shape[1:], name="clip")
        mean = keras.layers.GlobalAveragePooling1D(name="segment_mean")(clips(inputs))
        return keras.Model(inputs, mean, name="mclnn_clip_mean")

    def kept(self, trainable, sizes):
        return super().kept(trainable.get_layer("mclnn_clips"), sizes)


SEGMENT_TRAINING = SegmentTraining()
CLIP_TRAINING = ClipTraining()
CLIP_MEAN_TRAINING = ClipMeanTraining()
