"""Stage 2: cross-validation index triples and per-fold standardization statistics.

Names are imported on first use, so reading a folds manifest (:mod:`mclnn.folds.fold_files`,
as the command line does before anything else) loads neither scikit-learn nor the stage.
"""

from mclnn.lazy_imports import lazy_attributes

_NAMES = {
    "dataset_tag": "mclnn.folds.fold_files",
    "folds_manifest_path": "mclnn.folds.fold_files",
    "read_folds_manifest": "mclnn.folds.fold_files",
    "read_trial_indices": "mclnn.folds.fold_files",
    "read_trial_statistics": "mclnn.folds.fold_files",
    "Trial": "mclnn.folds.splits",
    "assign_folds": "mclnn.folds.splits",
    "check_trials": "mclnn.folds.splits",
    "make_trials": "mclnn.folds.splits",
    "trial_rotation": "mclnn.folds.splits",
    "FoldsResult": "mclnn.folds.stage",
    "format_fold_tables": "mclnn.folds.stage",
    "make_folds": "mclnn.folds.stage",
    "clip_moments": "mclnn.folds.standardization",
    "training_statistics": "mclnn.folds.standardization",
}

__all__ = sorted(_NAMES)

__getattr__ = lazy_attributes("mclnn.folds", _NAMES)
