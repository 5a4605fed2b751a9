"""What another process runs for ``mclnn predict --scheduler``: one chunk of clips, the models loaded there.

Dask workers import this module to unpickle the task. It is light to import: TensorFlow
loads inside the function, through :func:`~mclnn.quiet_import.import_tensorflow`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from mclnn.cluster import on_worker
from mclnn.quiet_import import import_tensorflow

__all__ = ["predict_chunk"]


def predict_chunk(model_path: str | Path, clips: Sequence[tuple[str, Path]]):
    """:func:`~mclnn.train.predict.models.predict_clips` of some clips; failures name the worker."""
    import_tensorflow()
    import keras

    from mclnn.train.predict.models import load_trained_models, predict_clips

    keras.config.disable_interactive_logging()
    predictions = predict_clips(load_trained_models(model_path), clips)
    where = on_worker()
    return dataclasses.replace(predictions, failures=[(name, reason + where) for name, reason in predictions.failures])
