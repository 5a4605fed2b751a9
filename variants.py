"""The registries of mclnn's variants: one per kind of thing a setting or flag chooses by name.

Each registry maps a name to where its variant is defined (``"module:attribute"``); the
module is imported only when the variant is loaded, so checking a name, listing the
choices of a CLI option or writing an error message loads neither TensorFlow nor
librosa. Every check, choice and message reads these registries; nothing else spells
the names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from mclnn.errors import ParameterError

__all__ = ["BLOCK_MASKS", "FEATURE_PRESETS", "MODEL_KINDS", "MONITORS", "ORIGINAL_BLOCK_MASK", "POOLINGS", "Registry",
           "SCHEDULES", "TRAINING_MODES"]


@dataclass(frozen=True)
class Registry:
    """Names of one kind of variant, each with the ``"module:attribute"`` that defines it.

    Parameters
    ----------
    setting : str
        How a user chooses the variant (``"--model"``, ``"training.mode"``), for messages.
    entries : mapping of str to str
        Name to ``"module:attribute"``, in the order choices are listed.
    """

    setting: str
    entries: Mapping[str, str]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    @property
    def names(self) -> tuple[str, ...]:
        """The variants' names, in order."""
        return tuple(self.entries)

    def check(self, name: object) -> None:
        """Raise ParameterError, naming the setting, the value and the choices, unless ``name`` is registered."""
        if name not in self.entries:
            raise ParameterError(f"{self.setting} must be one of {', '.join(self.entries)}; got {name!r}")

    def load(self, name: str) -> Any:
        """The variant registered as ``name``, its module imported on first use.

        Raises
        ------
        ParameterError
            ``name`` is not registered.
        """
        self.check(name)
        module, _, attribute = self.entries[name].partition(":")
        return getattr(importlib.import_module(module), attribute)


#: ``--model``: the model kinds cv-train trains (:mod:`mclnn.train.model.kinds`).
MODEL_KINDS = Registry("--model", {
    "mclnn": "mclnn.train.model.kinds:MCLNNKind",
    "cnn": "mclnn.train.model.kinds:CNNKind",
    "mlp": "mclnn.train.model.kinds:MLPKind",
})

#: ``training.mode``: how training batches are formed (:mod:`mclnn.train.model.training_modes`).
TRAINING_MODES = Registry("training.mode", {
    "clip": "mclnn.train.model.training_modes:CLIP_TRAINING",
    "clip-mean": "mclnn.train.model.training_modes:CLIP_MEAN_TRAINING",
    "segment": "mclnn.train.model.training_modes:SEGMENT_TRAINING",
})

#: ``training.schedule``: learning-rate schedules (:mod:`mclnn.train.fit.schedules`).
SCHEDULES = Registry("training.schedule", {
    "constant": "mclnn.train.fit.schedules:ConstantSchedule",
    "cosine": "mclnn.train.fit.schedules:CosineSchedule",
    "one-cycle": "mclnn.train.fit.schedules:OneCycleSchedule",
    "plateau": "mclnn.train.fit.schedules:PlateauSchedule",
})

#: ``training.monitor``: what early stopping and the kept model follow, with its direction
#: (:mod:`mclnn.train.fit.monitors`).
MONITORS = Registry("training.monitor", {
    "val_accuracy": "mclnn.train.fit.monitors:VALIDATION_ACCURACY",
    "val_loss": "mclnn.train.fit.monitors:VALIDATION_LOSS",
})

#: ``model.pooling``: MCLNN's temporal pooling, as the segment model's pooling layer (:mod:`mclnn.train.model.pooling`).
POOLINGS = Registry("model.pooling", {
    "average": "keras.layers:GlobalAveragePooling1D",
    "max": "keras.layers:GlobalMaxPooling1D",
    "average+max": "mclnn.train.model.pooling:AverageMaxPooling1D",
})

#: ``model.block_mask``: how the first MCLNN layer's mask meets the blocks of a frame (the log-mel, its delta,
#: PCEN) (:func:`mclnn.train.model.layers.band_mask`).
BLOCK_MASKS = Registry("model.block_mask", {
    "across": "mclnn.train.model.layers:mask_across_blocks",
    "interleaved": "mclnn.train.model.layers:mask_interleaved_blocks",
    "within": "mclnn.train.model.layers:mask_within_blocks",
})
#: The original work's rule, the default; the only one a layer without blocks of features can use.
ORIGINAL_BLOCK_MASK = "across"

#: ``features.preset``: how a clip's features are computed (:mod:`mclnn.preprocess.feature_presets`).
FEATURE_PRESETS = Registry("features.preset", {
    "mclnn": "mclnn.preprocess.feature_presets:MCLNN_LOG_MEL",
    "logmel-dcase2018": "mclnn.preprocess.feature_presets:DCASE2018_LOG_MEL",
})
