"""Stage 3: cross-validation training and the clip-level report.

The stage is grouped by the question a newcomer asks; imports run one way, from ``run``
and ``predict`` down to ``clips``:

- :mod:`mclnn.train.run`: where a cross-validation and a trial run (here, in processes, on a cluster);
- :mod:`mclnn.train.predict`: trained models on new clips;
- :mod:`mclnn.train.fit`: the epoch loop, schedules, batch augmentation, event files;
- :mod:`mclnn.train.evaluate`: scoring clips, metrics, the reports;
- :mod:`mclnn.train.model`: the MCLNN layer and model, the baselines, model kinds, training modes;
- :mod:`mclnn.train.clips`: standardized clips cut into segments and batches;
- :mod:`mclnn.train.trial_files` and :mod:`mclnn.train.pictures`: a trial folder's files and
  records, and the pictures, shared by all of them.

Names are imported on first use, so ``import mclnn.train`` loads nothing heavy;
``mclnn.train.cv_train`` and the layers load Keras, the metrics scikit-learn.
"""

from mclnn.lazy_imports import lazy_attributes

_NAMES = {
    "MaskedConditional": "mclnn.train.model.layers",
    "band_mask": "mclnn.train.model.layers",
    "PerSegment": "mclnn.train.model.mclnn",
    "build_model": "mclnn.train.model.mclnn",
    "average_precision_at_3": "mclnn.train.evaluate.metrics",
    "clip_scores": "mclnn.train.evaluate.metrics",
    "summarize_clip": "mclnn.train.evaluate.metrics",
    "cv_train": "mclnn.train.run.cross_validation",
    "CrossValidationReport": "mclnn.train.evaluate.report",
    "SeedsReport": "mclnn.train.evaluate.seed_report",
    "ModelInfo": "mclnn.train.trial_files",
    "TrialPaths": "mclnn.train.trial_files",
    "TrialReport": "mclnn.train.trial_files",
    "weights_dir": "mclnn.train.trial_files",
    "write_report": "mclnn.train.evaluate.report",
}

__all__ = sorted(_NAMES)

__getattr__ = lazy_attributes("mclnn.train", _NAMES)
