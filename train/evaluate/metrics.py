"""Clip-level evaluation: votes over a clip's segments, accuracies, F1 and MAP@3."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

__all__ = ["average_precision_at_3", "clip_scores", "summarize_clip"]


def average_precision_at_3(label: int, class_probabilities: np.ndarray) -> float:
    """1 / rank of the true class among the 3 most probable classes, else 0 (DCASE 2018's MAP@3 per clip)."""
    top3 = np.argsort(-class_probabilities, kind="stable")[:3]
    hits = np.flatnonzero(top3 == label)
    return 1.0 / (hits[0] + 1) if len(hits) else 0.0


def summarize_clip(segment_probabilities: np.ndarray) -> dict:
    """What the clip-level scores need of one clip's segment probabilities.

    Returns
    -------
    dict
        ``segment_votes`` (segments predicting each class) and ``mean_probabilities``.
    """
    n_classes = segment_probabilities.shape[1]
    return {
        "segment_votes": np.bincount(np.argmax(segment_probabilities, axis=1), minlength=n_classes).tolist(),
        "mean_probabilities": segment_probabilities.mean(axis=0).round(6).tolist(),
    }


def clip_scores(labels: Sequence[int], summaries: Sequence[dict], *, n_classes: int) -> dict:
    """Segment and clip-level scores of test clips, from :func:`summarize_clip` summaries.

    Works the same for one trial and for all trials pooled.

    Returns
    -------
    dict
        ``clips``, ``segments``, ``segment_accuracy``, ``majority_accuracy`` (the class
        most segments predict; ties go to the lowest class index),
        ``mean_probability_accuracy`` (the class of highest mean segment probability),
        ``f1_micro`` and ``f1_weighted`` (of the mean-probability votes), ``map_at_3``
        (over all clips) and ``map_at_3_per_class`` (over each class's clips; None for a
        class without clips), and the ``confusion_majority`` and
        ``confusion_mean_probability`` matrices (rows: true class).
    """
    labels = np.asarray(labels, dtype=int)
    votes = np.array([summary["segment_votes"] for summary in summaries])
    means = np.array([summary["mean_probabilities"] for summary in summaries])
    majority = np.argmax(votes, axis=1)
    mean_votes = np.argmax(means, axis=1)
    classes = list(range(n_classes))
    precisions = np.array([average_precision_at_3(label, mean) for label, mean in zip(labels, means)])
    return {
        "clips": len(labels),
        "segments": int(votes.sum()),
        "segment_accuracy": float(votes[np.arange(len(labels)), labels].sum() / votes.sum()),
        "majority_accuracy": float(np.mean(majority == labels)),
        "mean_probability_accuracy": float(np.mean(mean_votes == labels)),
        "f1_micro": float(f1_score(labels, mean_votes, average="micro", labels=classes)),
        "f1_weighted": float(f1_score(labels, mean_votes, average="weighted", labels=classes, zero_division=0)),
        "map_at_3": float(np.mean(precisions)),
        "map_at_3_per_class": [float(np.mean(precisions[labels == c])) if np.any(labels == c) else None
                               for c in classes],
        "confusion_majority": confusion_matrix(labels, majority, labels=classes).tolist(),
        "confusion_mean_probability": confusion_matrix(labels, mean_votes, labels=classes).tolist(),
    }
