"""``mclnn cv-train``: train and evaluate one model per cross-validation trial, then report.

Reads the folds manifest written by ``mclnn folds``, and writes under
``<out>/<TAG>_folds_<k>_weights/`` (MCLNN) or ``<out>/<TAG>_folds_<k>_<model>_weights/``
(a baseline) one folder per trial (:class:`mclnn.train.trial_files.TrialPaths`) and the
pooled ``report.json`` and ``report.md`` (:mod:`mclnn.train.evaluate.report`).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import keras

from mclnn.atomic import exclusive_lock
from mclnn.config import DatasetConfig, FeatureSettings, write_settings
from mclnn.dataset_file import Dataset, load_dataset
from mclnn.errors import DatasetError, ParameterError
from mclnn.folds.fold_files import check_trial, dataset_unchanged, read_folds_manifest
from mclnn.train.evaluate.report import CrossValidationReport, write_report
from mclnn.train.evaluate.seed_report import SeedsReport, write_seeds_report
from mclnn.train.model.kinds import ModelKind, model_kind
from mclnn.train.model.saved_models import saved_model_intact
from mclnn.train.run.seed_run import SeedRun, TrialTask
from mclnn.train.run.tasks import run_trials
from mclnn.train.trial_files import EVALUATED_FOLDS, TrialPaths, TrialReport, settings_changes, weights_dir

__all__ = ["cv_train"]

logger = logging.getLogger(__name__)


def cv_train(
    config: DatasetConfig,
    *,
    out_dir: str | Path,
    k: int | None = None,
    trial: int | None = None,
    seeds: Sequence[int] | None = None,
    evaluate_only: bool = False,
    pictures: bool = False,
    progress: Callable[[int, int, int, dict], None] | None = None,
    model: str = "mclnn",
    hparams: str | Mapping[str, Any] | None = None,
    jobs: int = 1,
    client: Any = None,
    evaluate_on: str = "test",
    weights: str | Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> CrossValidationReport | SeedsReport:
    """Train (or resume, or only evaluate) the trials, then write the cross-validation report.

    Finished trials of earlier runs with the same settings are skipped, an interrupted
    trial resumes from its last checkpoint, and the report covers every finished trial.
    With ``seeds``, the whole cross-validation runs once per seed, each in its own
    ``seed_<s>`` folder under the weights folder, and ``report_seeds.json`` and
    ``report_seeds.md`` there summarize them (:func:`mclnn.train.evaluate.seed_report.write_seeds_report`).

    Parameters
    ----------
    config : DatasetConfig
        Its ``training`` settings are used, and its ``model`` settings for MCLNN.
    out_dir : str or Path
        Holds Dataset.hdf5 and the folds; receives the weights folder.
    k : int, optional
        Which folds (default ``config.folds.k``).
    trial : int, optional
        Run only this 1-based trial (trials can run as separate jobs).
    seeds : sequence of int, optional
        Repeat the cross-validation with each of these training seeds.
    evaluate_only : bool
        Re-evaluate stored best models without training.
    pictures : bool
        Also draw each trial's first MCLNN layer weights and its outputs for a few test segments.
    progress : callable, optional
        ``progress(trial, epoch, epochs, logs)`` after every epoch (trials run here, one at a time).
    model : str
        A name of :data:`mclnn.variants.MODEL_KINDS`: ``mclnn``, or a DCASE
        2018 baseline (``cnn``, ``mlp``).
    hparams : str or mapping, optional
        A baseline's hyperparameter overrides, ``name=value,...`` or ``{"name": value}``.
    jobs : int
        Trials (of all seeds) run at once in separate local processes.
    client : distributed.Client, optional
        Run each (seed, trial) as a task on this Dask cluster's workers
        (:mod:`mclnn.train.run.tasks`); this process writes the reports.
    evaluate_on : {'test', 'validation'}
        Which fold of each trial is scored and reported. ``validation`` reads no test index
        file and writes to a weights folder of its own (``..._weights_validation``), so
        recipes can be chosen (:mod:`mclnn.train.evaluate.compare`) without a test fold.
    weights : str or Path, optional
        The weights folder, instead of the one named after the folds (runs of several
        recipes on the same folds side by side).
    callbacks : sequence of keras.callbacks.Callback
        Called after every epoch of every trial run here, as Keras calls them:
        ``on_epoch_end(epoch, logs)`` with the 0-based epoch of the trial and its logs
        (losses, accuracies, learning rate, seconds, and ``trial``). The epoch loop stays
        mclnn's own (measured faster than ``Model.fit``); trials in other processes
        (``jobs``, ``client``) cannot call back into this one.

    Returns
    -------
    CrossValidationReport or SeedsReport
        What report.json says, its trials' clips included (see
        :func:`mclnn.train.write_report`), or with ``seeds`` what report_seeds.json says.

    Raises
    ------
    DatasetError
        Missing folds, standardization or model files, a Dataset.hdf5 that changed
        since the folds were made, or clips shorter than one segment.
    ParameterError
        A trial number out of range, an unknown model or hyperparameter.
    """
    kind = model_kind(config, model, hparams)
    if callbacks and (jobs > 1 or client is not None):
        raise ParameterError("callbacks are called in this process: run with jobs=1 and no cluster client")
    progress = _calling_back(progress, callbacks)
    if evaluate_on not in EVALUATED_FOLDS:
        raise ParameterError(f"--evaluate-on must be one of {', '.join(EVALUATED_FOLDS)}; got {evaluate_on!r}")
    out_dir = Path(out_dir)
    manifest = read_folds_manifest(out_dir, config.name, k or config.folds.k)
    check_trial(manifest, trial)
    keras.config.disable_interactive_logging()
    with load_dataset(out_dir / manifest["dataset_file"], **manifest["reference_layout"]) as dataset:
        # Checked once above, before any file is read; again with the features the model will see.
        config = _with_file_features(config, dataset)
        kind = model_kind(config, model, hparams)
        _check_dataset(dataset, manifest, kind, config.name)
        folder = Path(weights) if weights is not None else weights_dir(out_dir, manifest, kind.weights_suffix,
                                                                         evaluate_on=evaluate_on)
        if seeds is None:
            runs = {None: SeedRun.of(config, kind, manifest, folder)}
        else:
            runs = {seed: SeedRun.of(_seeded(config, seed), kind, manifest, folder / f"seed_{seed}") for seed in seeds}
        tasks = [TrialTask(run, entry) for run in runs.values() for entry in manifest["trials"]
                 if _needs_running(run, entry, trial=trial, evaluate_only=evaluate_only, evaluate_on=evaluate_on)]
        run_trials(tasks, kind=kind, dataset=dataset, manifest=manifest, out_dir=out_dir, evaluate_only=evaluate_only,
                   pictures=pictures, progress=progress, jobs=jobs, client=client, model=model, hparams=hparams,
                   evaluate_on=evaluate_on)
        reports = {seed: _report(run, kind, dataset, manifest, evaluate_only=evaluate_only, evaluate_on=evaluate_on)
                   for seed, run in runs.items()}
        if seeds is None:
            return reports[None][0]
        with exclusive_lock(folder / "report_seeds.json", wait=True):
            return write_seeds_report({seed: finished for seed, (_, finished) in reports.items()}, dataset=config.name,
                                      model=kind.name, k=manifest["k"], class_names=dataset.class_names,
                                      folder=folder)


def _calling_back(progress: Callable | None, callbacks: Sequence[keras.callbacks.Callback]) -> Callable | None:
    """``progress``, also calling each Keras callback's ``on_epoch_end`` (0-based epoch, the logs and the trial)."""
    if not callbacks:
        return progress

    def after_epoch(trial, epoch, epochs, logs):
        if progress is not None:
            progress(trial, epoch, epochs, logs)
        for callback in callbacks:
            callback.on_epoch_end(epoch - 1, {**logs, "trial": trial})

    return after_epoch


def _seeded(config: DatasetConfig, seed: int) -> DatasetConfig:
    return dataclasses.replace(config, training=dataclasses.replace(config.training, seed=seed))


def _with_file_features(config: DatasetConfig, dataset: Dataset) -> DatasetConfig:
    """``config`` with the feature settings Dataset.hdf5 was made with: they decide what a model sees.

    A difference from the entry's settings (a ``--set features...`` given to transform
    only, say) is logged, naming the settings. Files in the original layout record none.
    """
    if not dataset.feature_settings:
        return config
    recorded = FeatureSettings(**dataset.feature_settings)
    names = [field.name for field in dataclasses.fields(FeatureSettings)]
    differing = [f"{name}={getattr(recorded, name)!r} (the entry has {getattr(config.features, name)!r})"
                 for name in names if getattr(recorded, name) != getattr(config.features, name)]
    if differing:
        logger.warning("%s was made with other feature settings than %s's entry: %s; the file's are used",
                       dataset.path, config.name, ", ".join(differing))
    return dataclasses.replace(config, features=recorded)


def _needs_running(run: SeedRun, entry: dict, *, trial: int | None, evaluate_only: bool, evaluate_on: str) -> bool:
    """Whether a trial is to be trained (or evaluated) in this run; says why when it is skipped or trained anew."""
    if trial is not None and entry["trial"] != trial:
        return False
    paths = TrialPaths.of(run.folder, entry["trial"])
    if evaluate_only:
        if trial is None and not paths.model.is_file():
            logger.info("trial %d has no trained model; it is left out of the report", entry["trial"])
            return False
        return True
    finished = TrialReport.read(paths.report)
    if finished is not None and not saved_model_intact(paths.model):
        logger.warning("trial %d: %s is missing or damaged; training it anew", entry["trial"], paths.model)
        paths.state.unlink(missing_ok=True)
        return True
    if finished is not None and finished.settings_hash == run.run_hash:
        if finished.evaluated_on == evaluate_on:
            logger.info("trial %d is finished; skipping it", entry["trial"])
            return False
        logger.info("trial %d: scoring its %s fold", entry["trial"], evaluate_on)
        return True
    if finished is not None:
        logger.info("trial %d: training anew, as %s", entry["trial"], settings_changes(finished.settings, run.settings))
    return True


def _report(run: SeedRun, kind: ModelKind, dataset: Dataset, manifest: dict, *, evaluate_only: bool,
            evaluate_on: str):
    """Write one run's report over its finished trials; the report and those trials' reports."""
    reports = [TrialReport.read(TrialPaths.of(run.folder, entry["trial"]).report) for entry in manifest["trials"]]
    finished = [report for report in reports if report is not None and report.evaluated_on == evaluate_on and (
        report.model_hash == run.model_hash if evaluate_only else report.settings_hash == run.run_hash)]
    if not finished:
        raise DatasetError(f"{run.folder}: no finished trial to report on; run cv-train without --evaluate-only")
    if len({report.settings_hash for report in finished}) > 1:
        logger.warning("the report holds trials trained with different training settings")
    # Trials run as separate jobs may finish together: the report waits its turn.
    with exclusive_lock(run.folder / "report.json", wait=True):
        report = write_report(finished, dataset=run.config.name, k=manifest["k"], class_names=dataset.class_names,
                              folder=run.folder, model=kind.name, settings=finished[0].settings,
                              hparams=kind.hparams, evaluated_on=evaluate_on)
        write_settings(run.folder / "settings.yaml", run.config)
    return report, finished


def _check_dataset(dataset: Dataset, manifest: dict, kind: ModelKind, name: str) -> None:
    if not dataset_unchanged(manifest, dataset.path):
        raise DatasetError(f"{dataset.path} changed after the folds were made; rerun `mclnn folds {name} --k "
                           f"{manifest['k']} --out {dataset.path.parent}` first")
    longest = int(dataset.frame_counts.max())
    if kind.segment_frames > longest:
        raise ParameterError(f"a segment of {kind.segment_frames} frames {kind.segment_rule} is longer than every "
                             f"clip of {dataset.path} (at most {longest} frames); {kind.segment_remedy}")
