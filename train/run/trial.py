"""One cross-validation trial: train its model (or reuse it), score its test clips, write its folder."""

from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path

from mclnn.atomic import exclusive_lock
from mclnn.cluster import where_am_i
from mclnn.config import DatasetConfig
from mclnn.dataset_file import Dataset
from mclnn.errors import DatasetError, ParameterError
from mclnn.train.clips.trial_clips import TrialClips
from mclnn.train.evaluate.scorer import Scorer, evaluate_model
from mclnn.train.fit.batch_augmentation import BatchAugmentation
from mclnn.train.fit.trainer import EpochProgress, train_trial
from mclnn.train.model.kinds import ModelKind
from mclnn.train.model.saved_models import load_saved_model
from mclnn.train.run.seed_run import TrialTask
from mclnn.train.trial_files import ModelInfo, TrainingState, TrialPaths, TrialReport

__all__ = ["run_task", "run_trial"]

logger = logging.getLogger(__name__)


def run_trial(config: DatasetConfig, kind: ModelKind, scorer: Scorer, dataset: Dataset, entry: dict,
              paths: TrialPaths, *, run_hash: str, model_hash: str, settings: dict, evaluate_only: bool,
              pictures: bool, out_dir: str | Path, progress: EpochProgress | None = None,
              evaluate_on: str = "test") -> TrialReport:
    """Train (or resume, or with ``evaluate_only`` reuse) one trial's model, score its test clips, write its folder.

    With ``evaluate_on='validation'`` the validation clips are scored instead, and the
    trial's test index file is never read.

    Writes the trial's ``report.json`` and ``model_info.json`` (and with ``pictures`` the
    first layer's pictures) and removes its checkpoint.

    Parameters
    ----------
    config : DatasetConfig
    kind : ModelKind
        The model's kind, from ``config``.
    scorer : Scorer
        Scores the test clips; made for ``kind.scoring``.
    dataset : Dataset
    entry : dict
        The trial's entry in the folds manifest.
    paths : TrialPaths
    run_hash : str
        Identifies the settings the model is (to be) trained with.
    model_hash : str
        Identifies the settings scoring it depends on; with ``evaluate_only`` a model
        trained with other training settings (epochs, rates) is scored all the same.
    settings : dict
        The model and training settings (:func:`mclnn.train.evaluate.report.recorded_settings`), for the report.
    evaluate_only, pictures : bool
    out_dir : str or Path
        The folder of the folds' files.
    progress : callable, optional
    evaluate_on : {'test', 'validation'}
        Which fold's clips are scored and reported.

    Returns
    -------
    TrialReport
        The trial's report, as written.

    Raises
    ------
    DatasetError, ParameterError
        With ``evaluate_only``: no model of these settings to evaluate.
    """
    clips = TrialClips(dataset, entry, out_dir=out_dir, segment_frames=kind.segment_frames, remedy=kind.segment_remedy)
    evaluated = clips.clips(evaluate_on)
    if evaluate_only:
        state = _trained_state(paths, entry["trial"], run_hash, model_hash)
        previous = TrialReport.read(paths.report)
        if previous is not None and previous.settings_hash == state.settings_hash:
            settings = previous.settings  # those it was trained with, which may differ in training settings
    else:
        augmentation = BatchAugmentation(config.training, n_classes=len(dataset.class_names),
                                            feature_blocks=config.features.feature_blocks)
        state = train_trial(kind, config.training, trial=entry["trial"], n_features=dataset.n_features,
                            augmentation=augmentation, train_clips=clips.clips("train"),
                            validation_clips=clips.clips("validation"), paths=paths, run_hash=run_hash,
                            model_hash=model_hash, progress=progress)
    started = time.perf_counter()
    model = load_saved_model(paths.model, remedy=f"run cv-train again without --evaluate-only to retrain trial "
                                                  f"{entry['trial']}")
    evaluation = evaluate_model(model, scorer, evaluated, filenames=dataset.filenames,
                                n_classes=len(dataset.class_names))
    report = TrialReport(
        trial=entry["trial"], test_fold=entry["test_fold"], validation_fold=entry["validation_fold"],
        settings_hash=state.settings_hash, model_hash=model_hash, settings=settings, model=kind.name,
        hparams=kind.hparams, training_mode=kind.mode, epochs_run=state.epoch, resumed_after=state.resumed_after,
        best_epoch=state.best_epoch, kept=config.training.keep, monitor=config.training.monitor,
        best_monitored=state.best, train_seconds=state.seconds, scores=evaluation["scores"], clips=evaluation["clips"],
        evaluated=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        evaluate_seconds=round(time.perf_counter() - started, 1), ran_on=where_am_i(), evaluated_on=evaluate_on)
    if pictures:
        kind.save_pictures(model, evaluated, prefix=paths.pictures)
    ModelInfo(dataset=config.name, model=kind.name, hparams=kind.hparams, segment_frames=kind.segment_frames,
              step=kind.step, class_names=list(dataset.class_names), features=config.features,
              mean_vector=clips.mean_vector, std_vector=clips.std_vector, settings_hash=state.settings_hash
              ).write(paths.info)
    report.write(paths.report)
    paths.checkpoint.unlink(missing_ok=True)
    logger.info("trial %d: clip accuracy %.3f (mean-probability vote)", entry["trial"],
                report.scores["mean_probability_accuracy"])
    return report


def run_task(task: TrialTask, kind: ModelKind, scorer: Scorer, dataset: Dataset, *, out_dir: Path,
             evaluate_only: bool, pictures: bool, progress: EpochProgress | None, evaluate_on: str) -> TrialReport:
    """Run one task under its trial's lock (:func:`run_trial`); the trial's report."""
    paths = TrialPaths.of(task.run.folder, task.entry["trial"])
    with exclusive_lock(paths.report):
        # The lock is held: partial files in the folder are a killed run's, never a live writer's.
        for leftover in paths.folder.glob(".*.partial.*"):
            leftover.unlink(missing_ok=True)
        return run_trial(task.run.config, kind, scorer, dataset, task.entry, paths, run_hash=task.run.run_hash,
                         model_hash=task.run.model_hash, settings=task.run.settings, evaluate_only=evaluate_only,
                         pictures=pictures, out_dir=out_dir, progress=progress, evaluate_on=evaluate_on)


def _trained_state(paths: TrialPaths, trial: int, run_hash: str, model_hash: str) -> TrainingState:
    """The state of a trial trained earlier with the same model settings, for --evaluate-only."""
    state = TrainingState.read(paths.state)
    if not paths.model.is_file() or state is None:
        raise DatasetError(f"{paths.model}: no trained model for trial {trial}; run cv-train first")
    if state.model_hash is None and state.settings_hash != run_hash:  # a state that predates model_hash
        raise ParameterError(
            f"trial {trial}'s model was trained with other model or training settings; give "
            "--evaluate-only the settings (and flags such as --epochs) it was trained with")
    if state.model_hash is not None and state.model_hash != model_hash:
        raise ParameterError(
            f"trial {trial}'s model was trained with other model settings (model.*, training.step or the folds); "
            "give --evaluate-only the ones it was trained with")
    return state
