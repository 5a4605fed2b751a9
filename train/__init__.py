"""Stage 3: MCLNN cross-validation training and the clip-level report.

Names are imported on first use, so ``import mclnn.train.metrics`` (numpy only) does not
load TensorFlow; ``mclnn.train.cv_train`` and the layers do.
"""

from mclnn.lazy_imports import lazy_attributes

_NAMES = {
    "MaskedConditional": "mclnn.train.layers",
    "band_mask": "mclnn.train.layers",
    "PerSegment": "mclnn.train.model",
    "build_model": "mclnn.train.model",
    "average_precision_at_3": "mclnn.train.metrics",
    "clip_scores": "mclnn.train.metrics",
    "summarize_clip": "mclnn.train.metrics",
    "cv_train": "mclnn.train.cross_validation",
    "ModelInfo": "mclnn.train.trial_files",
    "TrialPaths": "mclnn.train.trial_files",
    "weights_dir": "mclnn.train.trial_files",
    "write_report": "mclnn.train.report",
}

__all__ = sorted(_NAMES)

__getattr__ = lazy_attributes("mclnn.train", _NAMES)
