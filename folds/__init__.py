"""Stage 2: cross-validation index triples and per-fold standardization statistics."""

from mclnn.folds.fold_files import (
    dataset_tag,
    folds_manifest_path,
    read_folds_manifest,
    read_trial_indices,
    read_trial_statistics,
)
from mclnn.folds.splits import Trial, assign_folds, check_trials, make_trials, trial_rotation
from mclnn.folds.stage import FoldsResult, format_fold_tables, make_folds
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
    "read_trial_indices",
    "read_trial_statistics",
    "training_statistics",
    "trial_rotation",
]
