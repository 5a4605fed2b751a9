"""The kinds of model cv-train trains, behind one interface.

A kind owns how its model is built, compiled, fed and scored, and which settings
identify a trained model; :data:`mclnn.variants.MODEL_KINDS` maps the names ``--model``
takes to kinds. Scoring needs no training settings: it is a class method that takes the
model's :class:`~mclnn.train.trial_files.ScoringRecord`, so a saved model is scored
from its ``model_info.json`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from mclnn.config import DatasetConfig, ModelSettings, TrainingSettings
from mclnn.errors import ParameterError
from mclnn.train.clips.segments import INFERENCE_CLIPS, INFERENCE_SEGMENTS, ClipBatches, SegmentBatches, StandardizedClips
from mclnn.train.model.baselines import CNN, MLP, baseline_hparams, build_baseline, sparse_binary_crossentropy
from mclnn.train.model.layer_pictures import save_layer_pictures
from mclnn.train.model.mclnn import build_model, clip_segment_probabilities, predict_padded, scoring_model
from mclnn.train.model.training_modes import SegmentSizes, TrainingMode
from mclnn.train.trial_files import ScoringRecord
from mclnn.variants import MODEL_KINDS, ORIGINAL_BLOCK_MASK, TRAINING_MODES

__all__ = ["BaselineKind", "CNNKind", "MCLNNKind", "MLPKind", "ModelKind", "model_kind"]

@dataclass(frozen=True)
class ModelKind:
    """A model and how its segments (or examples) are cut, batched and scored.

    Attributes
    ----------
    name : str
        The ``--model`` name.
    segment_frames, step : int
        Frames per segment (example) and between segment starts.
    batch_size : int
        Segments per training batch.
    learning_rate : float
    mode : str
        The training mode (:data:`mclnn.train.model.training_modes.TRAINING_MODES`).
    hparams : dict
        A baseline's hyperparameters; empty for MCLNN.
    """

    name: str
    segment_frames: int
    step: int
    batch_size: int
    learning_rate: float
    mode: str
    hparams: dict = field(default_factory=dict)
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    soft_labels: bool = False
    ema_momentum: float = 0.0

    # What a segment is made of, and how to shorten it (for the too-long errors).
    segment_rule = ""
    segment_remedy = ""

    @property
    def training_mode(self) -> TrainingMode:
        """How batches of this kind are formed in training."""
        return TRAINING_MODES.load(self.mode)

    @property
    def sizes(self) -> SegmentSizes:
        """How clips are cut and batched in training."""
        return SegmentSizes(self.segment_frames, self.step, self.batch_size)

    @property
    def scoring(self) -> ScoringRecord:
        """What scoring a model of this kind takes."""
        return ScoringRecord(self.name, self.segment_frames, self.step, dict(self.hparams), self.segment_remedy)

    @property
    def weights_suffix(self) -> str:
        """The end of the weights folder's name, ``<TAG>_folds_<k>_<suffix>``."""
        raise NotImplementedError

    @property
    def hashed_settings(self) -> Any:
        """The settings that identify a trained model of this kind."""
        raise NotImplementedError

    def build(self, *, n_features: int, n_classes: int, seed: int) -> keras.Model:
        """A fresh, uncompiled per-segment model."""
        raise NotImplementedError

    def compile(self, model: keras.Model, *, jit_compile: bool = False) -> None:
        """Adam with this kind's learning rate, its loss, accuracy.

        ``jit_compile`` compiles the model's steps with XLA (for scoring; it slows training
        on CPU under TensorFlow); under JAX they always are (:func:`_with_xla`).
        """
        raise NotImplementedError

    def _optimizer(self, *, epsilon: float) -> keras.optimizers.Optimizer:
        """Adam, or AdamW when a weight decay is set (biases and PReLU slopes are not decayed); either keeps
        the moving average of the weights when ``ema_momentum`` is set."""
        averaging = {"use_ema": self.ema_momentum > 0, "ema_momentum": self.ema_momentum or 0.99}
        if self.weight_decay <= 0:
            return keras.optimizers.Adam(learning_rate=self.learning_rate, epsilon=epsilon, **averaging)
        optimizer = keras.optimizers.AdamW(learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                                           epsilon=epsilon, **averaging)
        optimizer.exclude_from_weight_decay(var_names=["bias", "alpha"])
        return optimizer

    def _loss(self, *, logistic: bool):
        """Cross-entropy of the softmax (or of independent sigmoids), against class indices or probabilities."""
        if not self.soft_labels:
            return sparse_binary_crossentropy if logistic else "sparse_categorical_crossentropy"
        loss = keras.losses.BinaryCrossentropy if logistic else keras.losses.CategoricalCrossentropy
        return loss(label_smoothing=self.label_smoothing)

    @classmethod
    def scoring_model(cls, model: keras.Model, record: ScoringRecord) -> keras.Model:
        """A compiled model for :meth:`segment_probabilities`, sharing ``model``'s layers and weights."""
        raise NotImplementedError

    @classmethod
    def segment_probabilities(cls, scoring: keras.Model, clips: StandardizedClips,
                              record: ScoringRecord) -> list[np.ndarray]:
        """Every clip's segment (example) probabilities from a :meth:`scoring_model`.

        Use :class:`mclnn.train.evaluate.scorer.Scorer` to score several models: it compiles once.

        Returns
        -------
        list of np.ndarray [shape=(segments, n_classes)]
            In the order of ``clips``.
        """
        raise NotImplementedError

    def save_pictures(self, model: keras.Model, clips: StandardizedClips, *, prefix: str) -> None:
        """Draw what is worth seeing inside a trained model (nothing, unless a kind says so)."""


@dataclass(frozen=True)
class MCLNNKind(ModelKind):
    """MCLNN, from the dataset's ``model`` and ``training`` settings."""

    settings: ModelSettings = field(default_factory=ModelSettings)
    feature_blocks: int = 1
    segment_rule = "(2 * sum(order) + extra_frames + 1)"
    segment_remedy = "lower model.extra_frames or model.order"

    @classmethod
    def of(cls, config: DatasetConfig, name: str, hparams: str | None) -> "MCLNNKind":
        if hparams:
            raise ParameterError("--hparams sets the cnn and mlp baselines; set MCLNN's settings with "
                                 "--set model.NAME=VALUE or training.NAME=VALUE")
        if config.model.block_mask != ORIGINAL_BLOCK_MASK and config.features.feature_blocks == 1:
            raise ParameterError(f"model.block_mask={config.model.block_mask} needs more than one block of features "
                                 f"a frame; {config.name} has the log-mel alone: set features.delta or features.pcen")
        training = config.training
        return cls(name, config.model.segment_frames, training.step, training.batch_size, training.learning_rate,
                   training.mode, settings=config.model, feature_blocks=config.features.feature_blocks,
                   **_recipe(training))

    @property
    def weights_suffix(self) -> str:
        return "weights"

    @property
    def hashed_settings(self) -> ModelSettings:
        return self.settings

    def build(self, *, n_features, n_classes, seed):
        return build_model(self.settings, n_features=n_features, n_classes=n_classes,
                           feature_blocks=self.feature_blocks, seed=seed)

    def compile(self, model, *, jit_compile=False):
        # Adam's epsilon of the original code.
        model.compile(optimizer=self._optimizer(epsilon=1e-8), loss=self._loss(logistic=False), metrics=["accuracy"],
                      jit_compile=_with_xla(jit_compile))

    @classmethod
    def scoring_model(cls, model, record):
        return scoring_model(model, step=record.step)

    @classmethod
    def segment_probabilities(cls, scoring, clips, record):
        # The MCLNN layers are convolutions over time: whole clips at once.
        return clip_segment_probabilities(scoring, ClipBatches(clips, segment_frames=record.segment_frames,
                                                               step=record.step, clips_per_batch=INFERENCE_CLIPS))

    def save_pictures(self, model, clips, *, prefix):
        shown = np.linspace(0, len(clips) - 1, 4).astype(int)
        segments = np.stack([clips.clip(position)[:self.segment_frames] for position in shown])
        save_layer_pictures(model, segments, units=8, prefix=f"{prefix}_layer0")


@dataclass(frozen=True)
class BaselineKind(ModelKind):
    """A DCASE 2018 baseline (:mod:`mclnn.train.model.baselines`), trained on segments."""

    architecture = None  # a BaselineArchitecture, set by each baseline's kind
    segment_rule = "(example_frames)"
    segment_remedy = "lower --hparams example_frames"

    @classmethod
    def of(cls, config: DatasetConfig, name: str, hparams: str | None) -> "BaselineKind":
        values = baseline_hparams(cls.architecture, config.features, hparams)
        return cls(name, values["example_frames"], values["example_hop"], values["batch_size"], values["lr"],
                   "segment", values, **_recipe(config.training))

    @property
    def weights_suffix(self) -> str:
        return f"{self.name}_weights"

    @property
    def hashed_settings(self) -> dict:
        return {"model": self.name, **self.hparams}

    def build(self, *, n_features, n_classes, seed):
        return build_baseline(self.architecture, self.hparams, n_frames=self.segment_frames, n_features=n_features,
                              n_classes=n_classes, seed=seed)

    def compile(self, model, *, jit_compile=False):
        model.compile(optimizer=self._optimizer(epsilon=self.hparams["adam_eps"]),
                      loss=self._loss(logistic=self.hparams["classifier"] == "logistic"), metrics=["accuracy"],
                      jit_compile=_with_xla(jit_compile))

    @classmethod
    def scoring_model(cls, model, record):
        model.compile(jit_compile=_with_xla(False))  # predicting needs no optimizer or loss
        return model

    @classmethod
    def segment_probabilities(cls, scoring, clips, record):
        batches = SegmentBatches(clips, segment_frames=record.segment_frames, step=record.step,
                                 batch_size=INFERENCE_SEGMENTS)
        probabilities = np.concatenate([predict_padded(scoring, batches[number][0], rows=INFERENCE_SEGMENTS)
                                        for number in range(len(batches))])
        return np.split(probabilities, np.cumsum(batches.segments_per_clip)[:-1])


def _with_xla(requested: bool) -> bool:
    """Whether a model's steps are XLA-compiled: where asked, and always under JAX, whose only compiled
    mode XLA is (``jit_compile=False`` runs JAX's steps eagerly, op by op)."""
    return requested or keras.backend.backend() == "jax"


def _recipe(training: TrainingSettings) -> dict:
    """The training settings a kind's compiled model depends on beyond its learning rate."""
    return {"weight_decay": training.weight_decay, "label_smoothing": training.label_smoothing,
            "soft_labels": training.soft_labels, "ema_momentum": training.ema_momentum}


@dataclass(frozen=True)
class CNNKind(BaselineKind):
    """The DCASE 2018 baseline CNN."""

    architecture = CNN


@dataclass(frozen=True)
class MLPKind(BaselineKind):
    """The DCASE 2018 baseline MLP."""

    architecture = MLP


def model_kind(config: DatasetConfig, name: str = "mclnn", hparams: str | None = None) -> ModelKind:
    """The kind of ``--model NAME --hparams TEXT`` for a dataset.

    Raises
    ------
    ParameterError
        An unknown model, ``--hparams`` given to MCLNN, or a bad hyperparameter.
    """
    return MODEL_KINDS.load(name).of(config, name, hparams)
