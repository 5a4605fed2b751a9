"""Stage 2: cross-validation index triples and per-fold standardization statistics."""

from mclnn.folds.fold_files import (
    FoldsResult,
    dataset_tag,
    folds_manifest_path,
    format_fold_tables,
    make_folds,
    read_folds_manifest,
)
from mclnn.folds.splits import Trial, assign_folds, check_trials, make_trials, trial_rotation
from mclnn.folds.standardization import clip_moments, training_statistics

__all__ = [
    "FoldsResult",
    "Trial",
    "assign_folds",
    "check_trials",
    "clip_moments",
    "dataset_tag",
    "folds_manifest_path",
    "format_fold_tables",
    "make_folds",
    "make_trials",
    "read_folds_manifest",
    "training_statistics",
    "trial_rotation",
]
