"""Scoring any number of models of one kind through one compiled copy, traced once per input shape."""

from __future__ import annotations

import keras
import numpy as np

from mclnn.train.model_kinds import ModelKind
from mclnn.train.segments import StandardizedClips

__all__ = ["Scorer"]


class Scorer:
    """Segment probabilities of clips, for every model of one kind that it is given.

    Keras traces a compiled model's predict step anew for each model and each input
    shape, so a model compiled per trial (or per saved model in ``mclnn predict``) was
    traced every time, and TensorFlow warned of the retracing between trials. A Scorer
    compiles one copy of the architecture when it first sees it and lends that copy each
    model's weights; batches are padded to one size, so it traces once per clip length.

    Parameters
    ----------
    kind : ModelKind
    """

    def __init__(self, kind: ModelKind):
        self.kind = kind
        self._copy: keras.Model | None = None
        self._compiled: keras.Model | None = None

    def segment_probabilities(self, model: keras.Model, clips: StandardizedClips) -> list[np.ndarray]:
        """Every clip's segment probabilities under ``model`` (:meth:`ModelKind.segment_probabilities`)."""
        weights = model.get_weights()
        if self._copy is None or [w.shape for w in self._copy.get_weights()] != [w.shape for w in weights]:
            self._copy = keras.models.clone_model(model)
            self._compiled = self.kind.scoring_model(self._copy)
        self._copy.set_weights(weights)
        return self.kind.segment_probabilities(self._compiled, clips)
