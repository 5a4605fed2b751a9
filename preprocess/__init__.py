"""Stage 1: audio (plus muda augmentations) -> librosa features -> one ordered Dataset.hdf5."""

from mclnn.preprocess.dataset_file import Dataset, load_dataset
from mclnn.preprocess.discovery import ClipSource, discover_clips
from mclnn.preprocess.transform import TransformResult, dataset_path, resolve_source, transform_dataset

__all__ = [
    "ClipSource",
    "Dataset",
    "TransformResult",
    "dataset_path",
    "discover_clips",
    "load_dataset",
    "resolve_source",
    "transform_dataset",
]
