"""Stage 1: audio (plus muda augmentations) -> librosa features -> one ordered Dataset.hdf5.

Names are imported on first use, so importing a light module of this package (the
deformer table, the feature presets) does not load librosa.
"""

from mclnn.lazy_imports import lazy_attributes

_NAMES = {
    "ClipSource": "mclnn.preprocess.discovery",
    "discover_clips": "mclnn.preprocess.discovery",
    "TransformResult": "mclnn.preprocess.transform",
    "dataset_path": "mclnn.preprocess.transform",
    "resolve_source": "mclnn.preprocess.transform",
    "transform_dataset": "mclnn.preprocess.transform",
}

__all__ = sorted(_NAMES)

__getattr__ = lazy_attributes("mclnn.preprocess", _NAMES)
