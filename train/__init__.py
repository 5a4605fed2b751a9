"""Stage 3: MCLNN cross-validation training and the clip-level report.

Importing this package imports TensorFlow and Keras.
"""

from mclnn.train.cross_validation import cv_train, weights_dir
from mclnn.train.layers import MaskedConditional, band_mask
from mclnn.train.metrics import average_precision_at_3, clip_scores, summarize_clip
from mclnn.train.model import PerSegment, build_model
from mclnn.train.report import write_report
from mclnn.train.trial_files import TrialPaths

__all__ = [
    "MaskedConditional",
    "PerSegment",
    "TrialPaths",
    "average_precision_at_3",
    "band_mask",
    "build_model",
    "clip_scores",
    "cv_train",
    "summarize_clip",
    "weights_dir",
    "write_report",
]
