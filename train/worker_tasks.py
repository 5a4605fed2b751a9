"""What other processes run: cv-train's (seed, trial) tasks and predict's chunks of clips.

Local processes (``--jobs``) and Dask workers import this module to unpickle the tasks and
run them. It is light to import: TensorFlow loads inside the functions, through
:func:`~mclnn.train.quiet_import.import_tensorflow`, so a worker's log has no start-up lines.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from mclnn.cluster import on_worker
from mclnn.config import DatasetConfig, settings_hash
from mclnn.train.quiet_import import import_tensorflow
from mclnn.train.report import recorded_settings

if TYPE_CHECKING:
    from mclnn.train.model_kinds import ModelKind

__all__ = ["SeedRun", "TrialTask", "predict_chunk", "run_trial_task"]


@dataclass(frozen=True)
class SeedRun:
    """One cross-validation with one training seed: its settings, their hashes and its folder.

    Attributes
    ----------
    config : DatasetConfig
    folder : Path
        Receives the trial folders and the report.
    run_hash : str
        Everything a trained model depends on; a finished trial of another one is trained anew.
    model_hash : str
        What scoring a trained model depends on (its architecture, the segment step, the
        folds); ``--evaluate-only`` scores models whatever else they were trained with.
    settings : dict
        The model and training settings, as reports record them.
    """

    config: DatasetConfig
    folder: Path
    run_hash: str
    model_hash: str
    settings: dict

    @classmethod
    def of(cls, config: DatasetConfig, kind: ModelKind, manifest: dict, folder: Path) -> SeedRun:
        """The run of ``config`` (its training seed included) for a model of ``kind``."""
        folds = (manifest["dataset_fingerprint"], manifest["settings_hash"])
        return cls(config, folder, run_hash=settings_hash(kind.hashed_settings, config.training, *folds),
                   model_hash=settings_hash(kind.hashed_settings, config.training.step, *folds),
                   settings=recorded_settings(kind.hashed_settings, config.training))


@dataclass(frozen=True)
class TrialTask:
    """One trial of one :class:`SeedRun`; ``entry`` is the trial's entry in the folds manifest."""

    run: SeedRun
    entry: dict


def run_trial_task(task, *, model: str, hparams: str | None, dataset_file: Path, reference_layout: dict,
                   **options) -> tuple[int, int, str]:
    """One :class:`TrialTask`, opening Dataset.hdf5 itself; its seed, trial and where it ran."""
    import_tensorflow()
    import keras

    from mclnn.dataset_file import load_dataset
    from mclnn.train.model_kinds import model_kind
    from mclnn.train.scorer import Scorer
    from mclnn.train.trial_tasks import run_task

    keras.config.disable_interactive_logging()
    with load_dataset(dataset_file, **reference_layout) as dataset:
        report = run_task(task, Scorer(model_kind(task.run.config, model, hparams)), dataset, progress=None, **options)
    return task.run.config.training.seed, task.entry["trial"], report["ran_on"]


def predict_chunk(model_path: str | Path, clips: Sequence[tuple[str, Path]]):
    """:func:`~mclnn.train.predict.predict_clips` of some clips; failures name the worker."""
    import_tensorflow()
    import keras

    from mclnn.train.predict import load_trained_models, predict_clips

    keras.config.disable_interactive_logging()
    predictions = predict_clips(load_trained_models(model_path), clips)
    where = on_worker()
    return dataclasses.replace(predictions, failures=[(name, reason + where) for name, reason in predictions.failures])
