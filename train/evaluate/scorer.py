"""Scoring trained models on clips: segment probabilities through one compiled copy, and the clip votes."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from mclnn.train.clips.segments import StandardizedClips
from mclnn.train.evaluate.metrics import clip_scores, summarize_clip
from mclnn.train.trial_files import ScoringRecord
from mclnn.variants import MODEL_KINDS

__all__ = ["Scorer", "evaluate_model"]


class Scorer:
    """Segment probabilities of clips, for every model of one kind that it is given.

    Keras traces a compiled model's predict step anew for each model and each input
    shape, so a model compiled per trial (or per saved model in ``mclnn predict``) was
    traced every time, and TensorFlow warned of the retracing between trials. A Scorer
    compiles one copy of the architecture when it first sees it and lends that copy each
    model's weights; batches are padded to one size, so it traces once per clip length.

    Parameters
    ----------
    record : ScoringRecord
        The models' kind and how their clips are cut; no training settings.
    """

    def __init__(self, record: ScoringRecord):
        self.record = record
        self._kind = MODEL_KINDS.load(record.model)
        self._copy: keras.Model | None = None
        self._compiled: keras.Model | None = None

    def segment_probabilities(self, model: keras.Model, clips: StandardizedClips) -> list[np.ndarray]:
        """Every clip's segment probabilities under ``model`` (:meth:`ModelKind.segment_probabilities`)."""
        weights = model.get_weights()
        if self._copy is None or [w.shape for w in self._copy.get_weights()] != [w.shape for w in weights]:
            self._copy = keras.models.clone_model(model)
            self._compiled = self._kind.scoring_model(self._copy, self.record)
        self._copy.set_weights(weights)
        return self._kind.segment_probabilities(self._compiled, clips, self.record)


def evaluate_model(model: keras.Model, scorer: Scorer, clips: StandardizedClips, *, filenames: Sequence[str],
                   n_classes: int) -> dict:
    """A trained model's scores on some labelled clips.

    Parameters
    ----------
    model : keras.Model
        A per-segment model of ``scorer``'s kind.
    scorer : Scorer
    clips : StandardizedClips
    filenames : sequence of str
        Every dataset clip's file name, indexed by ``clips.indices``.
    n_classes : int

    Returns
    -------
    dict
        ``scores`` (:func:`mclnn.train.evaluate.metrics.clip_scores`) and ``clips``: per clip its
        dataset index, file name, label, segment votes and mean probabilities.
    """
    summaries = [summarize_clip(probabilities) for probabilities in scorer.segment_probabilities(model, clips)]
    return {
        "scores": clip_scores(clips.labels, summaries, n_classes=n_classes),
        "clips": [{"index": int(index), "filename": str(filenames[index]), "label": int(label), **summary}
                  for index, label, summary in zip(clips.indices, clips.labels, summaries)],
    }
