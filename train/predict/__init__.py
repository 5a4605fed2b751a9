"""``mclnn predict``: trained models on new clips.

:mod:`~mclnn.train.predict.models` loads models and computes probabilities,
:mod:`~mclnn.train.predict.files` reads the clip list and writes the CSV files,
:mod:`~mclnn.train.predict.on_workers` submits chunks to a Dask cluster, whose workers run
:mod:`~mclnn.train.predict.worker`; :mod:`~mclnn.train.predict.export` writes trained
models as one plain-Keras classifier. Names are imported on first use.
"""

from mclnn.lazy_imports import lazy_attributes

_NAMES = {
    "Predictions": "mclnn.train.predict.models",
    "TrainedModel": "mclnn.train.predict.models",
    "load_trained_models": "mclnn.train.predict.models",
    "predict_clips": "mclnn.train.predict.models",
    "AUDIO_SUFFIXES": "mclnn.train.predict.files",
    "list_clips": "mclnn.train.predict.files",
    "write_class_map": "mclnn.train.predict.files",
    "write_predictions": "mclnn.train.predict.files",
    "predict_on_workers": "mclnn.train.predict.on_workers",
    "export_classifier": "mclnn.train.predict.export",
    "Classifier": "mclnn.train.predict.classifier",
}

__all__ = sorted(_NAMES)

__getattr__ = lazy_attributes("mclnn.train.predict", _NAMES)
