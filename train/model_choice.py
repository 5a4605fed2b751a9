"""Which model cv-train trains: MCLNN from the dataset's settings, or a DCASE 2018 baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from mclnn.config import DatasetConfig
from mclnn.errors import ParameterError
from mclnn.train.baselines import BASELINES, baseline_hparams, baseline_loss, build_baseline
from mclnn.train.model import build_model, clip_segment_probabilities
from mclnn.train.segments import ClipBatches, SegmentBatches, StandardizedClips

__all__ = ["INFERENCE_CLIPS", "MODELS", "ModelChoice", "clip_probabilities"]

MODELS = ("mclnn", *BASELINES)

# Clips per batch when MCLNN scores whole clips, segments per batch otherwise: larger
# batches run faster (benchmarks/RESULTS.md) and do not change the outputs.
INFERENCE_CLIPS = 32
INFERENCE_SEGMENTS = 2048


@dataclass(frozen=True)
class ModelChoice:
    """A model and how its segments (or examples) are cut and batched.

    Attributes
    ----------
    name : {'mclnn', 'cnn', 'mlp'}
    hparams : dict
        A baseline's hyperparameters (:func:`mclnn.train.baselines.baseline_hparams`);
        empty for MCLNN, whose settings are the dataset's ``model`` section.
    segment_frames, step : int
        Frames per segment (example) and between segment starts.
    batch_size : int
        Segments per training batch.
    learning_rate : float
    mode : {'segment', 'clip'}
        ``training.mode`` for MCLNN; baselines train on segments.
    """

    name: str
    segment_frames: int
    step: int
    batch_size: int
    learning_rate: float
    mode: str
    hparams: dict = field(default_factory=dict)

    @classmethod
    def of(cls, config: DatasetConfig, name: str = "mclnn", hparams: str | None = None) -> "ModelChoice":
        """The choice of ``--model NAME --hparams TEXT`` for a dataset.

        Raises
        ------
        ParameterError
            An unknown model, ``--hparams`` given to MCLNN, or a bad hyperparameter.
        """
        if name not in MODELS:
            raise ParameterError(f"--model {name!r} is not one of {', '.join(MODELS)}")
        training = config.training
        if name == "mclnn":
            if hparams:
                raise ParameterError("--hparams sets the cnn and mlp baselines; set MCLNN's settings with "
                                     "--set model.NAME=VALUE or training.NAME=VALUE")
            return cls(name, config.model.segment_frames, training.step, training.batch_size,
                       training.learning_rate, training.mode)
        values = baseline_hparams(name, config.features, hparams)
        return cls(name, values["example_frames"], values["example_hop"], values["batch_size"], values["lr"],
                   "segment", values)

    def build(self, config: DatasetConfig, *, n_features: int, n_classes: int, seed: int) -> keras.Model:
        """A fresh, uncompiled per-segment model."""
        if self.name == "mclnn":
            return build_model(config.model, n_features=n_features, n_classes=n_classes, seed=seed)
        return build_baseline(self.name, self.hparams, n_frames=self.segment_frames, n_features=n_features,
                              n_classes=n_classes, seed=seed)

    def compile(self, model: keras.Model, *, jit_compile: bool = False) -> None:
        """Adam with this choice's learning rate (epsilon 1e-8 for MCLNN, as the original), its loss, accuracy.

        ``jit_compile`` compiles the model's steps with XLA (for scoring; it slows training on CPU).
        """
        if self.name == "mclnn":
            epsilon, loss = 1e-8, "sparse_categorical_crossentropy"
        else:
            epsilon, loss = self.hparams["adam_eps"], baseline_loss(self.hparams)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=self.learning_rate, epsilon=epsilon), loss=loss,
                      metrics=["accuracy"], jit_compile=jit_compile)


def clip_probabilities(model: keras.Model, clips: StandardizedClips, *, name: str, segment_frames: int,
                       step: int) -> list[np.ndarray]:
    """Every clip's segment (example) probabilities from a per-segment model.

    MCLNN models run over whole clips (:func:`mclnn.train.model.clip_segment_probabilities`),
    the baselines over batches of segments.

    Returns
    -------
    list of np.ndarray [shape=(segments, n_classes)]
        In the order of ``clips``.
    """
    if name == "mclnn":
        return clip_segment_probabilities(model, ClipBatches(clips, segment_frames=segment_frames, step=step,
                                                             clips_per_batch=INFERENCE_CLIPS))
    batches = SegmentBatches(clips, segment_frames=segment_frames, step=step, batch_size=INFERENCE_SEGMENTS)
    probabilities = np.concatenate([np.asarray(model.predict_on_batch(batches[number][0]))
                                    for number in range(len(batches))])
    return np.split(probabilities, np.cumsum(batches.segments_per_clip)[:-1])
