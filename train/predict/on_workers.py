"""Submitting ``mclnn predict``'s clips to a Dask cluster's workers, in chunks, and gathering the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import joblib
import numpy as np

from mclnn.cluster import task_backend
from mclnn.train.predict.models import Predictions
from mclnn.train.predict.worker import predict_chunk

__all__ = ["CLIPS_PER_TASK", "predict_on_workers"]

CLIPS_PER_TASK = 64  # clips per task on a cluster: each task loads the models once


def predict_on_workers(model_path: str | Path, clips: Sequence[tuple[str, Path]], *, client: Any,
                       progress: Callable[[int, int], None] | None = None) -> Predictions:
    """:func:`predict_clips` on a Dask cluster's workers, in tasks of up to 64 clips; results in input order.

    Each task loads the models at ``model_path`` itself (workers see the same paths), and
    names its worker in the reasons of the clips it could not predict.
    """
    chunks = [list(clips[start:start + CLIPS_PER_TASK]) for start in range(0, len(clips), CLIPS_PER_TASK)]
    parts = []
    with task_backend(client, "loky"):
        for part in joblib.Parallel(n_jobs=-1, return_as="generator")(
                joblib.delayed(predict_chunk)(model_path, chunk) for chunk in chunks):
            parts.append(part)
            if progress is not None:
                progress(min(len(parts) * CLIPS_PER_TASK, len(clips)), len(clips))
    return Predictions(names=[name for part in parts for name in part.names],
                       probabilities=np.concatenate([part.probabilities for part in parts]),
                       class_names=parts[0].class_names,
                       failures=[failure for part in parts for failure in part.failures])
