"""Scoring a trained model on clips: per-clip votes and the clip-level scores."""

from __future__ import annotations

from typing import Sequence

import keras

from mclnn.train.metrics import clip_scores, summarize_clip
from mclnn.train.scorer import Scorer
from mclnn.train.segments import StandardizedClips

__all__ = ["evaluate_model"]


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
        ``scores`` (:func:`mclnn.train.metrics.clip_scores`) and ``clips``: per clip its
        dataset index, file name, label, segment votes and mean probabilities.
    """
    summaries = [summarize_clip(probabilities) for probabilities in scorer.segment_probabilities(model, clips)]
    return {
        "scores": clip_scores(clips.labels, summaries, n_classes=n_classes),
        "clips": [{"index": int(index), "filename": str(filenames[index]), "label": int(label), **summary}
                  for index, label, summary in zip(clips.indices, clips.labels, summaries)],
    }
