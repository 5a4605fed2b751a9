"""``mclnn cv-train``: train and evaluate one model per cross-validation trial, then report.

Reads the folds manifest written by ``mclnn folds``, and writes under
``<out>/<TAG>_folds_<k>_weights/`` (MCLNN) or ``<out>/<TAG>_folds_<k>_<model>_weights/``
(a baseline) one folder per trial (:class:`mclnn.train.trial_files.TrialPaths`) and the
pooled ``report.json`` and ``report.md`` (:mod:`mclnn.train.report`).
"""

from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path

import keras

from mclnn.atomic import exclusive_lock, file_fingerprint
from mclnn.config import DatasetConfig, settings_hash
from mclnn.dataset_file import Dataset, load_dataset
from mclnn.errors import DatasetError, ParameterError
from mclnn.folds.fold_files import read_folds_manifest
from mclnn.train.evaluation import evaluate_model
from mclnn.train.model_kinds import ModelKind, model_kind
from mclnn.train.report import write_report
from mclnn.train.trainer import EpochProgress, TrainingState, train_trial
from mclnn.train.trial_clips import TrialClips
from mclnn.train.trial_files import ModelInfo, TrialPaths, read_json, weights_dir, write_json

__all__ = ["cv_train"]

logger = logging.getLogger(__name__)


def cv_train(
    config: DatasetConfig,
    *,
    out_dir: str | Path,
    k: int | None = None,
    trial: int | None = None,
    evaluate_only: bool = False,
    pictures: bool = False,
    progress: EpochProgress | None = None,
    model: str = "mclnn",
    hparams: str | None = None,
) -> dict:
    """Train (or resume, or only evaluate) the trials, then write the cross-validation report.

    Finished trials of earlier runs with the same settings are skipped, an interrupted
    trial resumes from its last checkpoint, and the report covers every finished trial.

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
    evaluate_only : bool
        Re-evaluate stored best models without training.
    pictures : bool
        Also draw each trial's first MCLNN layer weights and its outputs for a few test segments.
    progress : callable, optional
        ``progress(trial, epoch, epochs, logs)`` after every epoch.
    model : str
        A name of :data:`mclnn.train.model_kinds.MODEL_KINDS`: ``mclnn``, or a DCASE
        2018 baseline (``cnn``, ``mlp``).
    hparams : str, optional
        A baseline's hyperparameter overrides, ``name=value,...``.

    Returns
    -------
    dict
        The content of the written report.json (see :func:`mclnn.train.write_report`).

    Raises
    ------
    DatasetError
        Missing folds, standardization or model files, a Dataset.hdf5 that changed
        since the folds were made, or clips shorter than one segment.
    ParameterError
        A trial number out of range, an unknown model or hyperparameter.
    """
    kind = model_kind(config, model, hparams)
    out_dir = Path(out_dir)
    manifest = read_folds_manifest(out_dir, config.name, k or config.folds.k)
    numbers = [entry["trial"] for entry in manifest["trials"]]
    if trial is not None and trial not in numbers:
        raise ParameterError(f"--trial {trial} is out of range: the folds have trials {numbers[0]}..{numbers[-1]}")
    keras.config.disable_interactive_logging()
    with load_dataset(out_dir / manifest["dataset_file"], **manifest["reference_layout"]) as dataset:
        _check_dataset(dataset, manifest, kind, config.name)
        run_hash = settings_hash(kind.hashed_settings, config.training, manifest["dataset_fingerprint"],
                                 manifest["settings_hash"])
        folder = weights_dir(out_dir, manifest, kind.weights_suffix)
        for entry in manifest["trials"]:
            if trial is not None and entry["trial"] != trial:
                continue
            paths = TrialPaths.of(folder, entry["trial"])
            finished = read_json(paths.report)
            if not evaluate_only and finished is not None and finished.get("settings_hash") == run_hash:
                logger.info("trial %d is finished; skipping it", entry["trial"])
                continue
            with exclusive_lock(paths.report):
                _run_trial(config, kind, dataset, entry, paths, run_hash=run_hash, evaluate_only=evaluate_only,
                           pictures=pictures, out_dir=out_dir, progress=progress)
        finished = [report for entry in manifest["trials"]
                    if (report := read_json(TrialPaths.of(folder, entry["trial"]).report)) is not None
                    and report.get("settings_hash") == run_hash]
        if not finished:
            raise DatasetError(f"{folder}: no finished trial to report on; run cv-train without --evaluate-only")
        # Trials run as separate jobs may finish together: the report waits its turn.
        with exclusive_lock(folder / "report.json", wait=True):
            return write_report(finished, dataset=config.name, k=manifest["k"], class_names=dataset.class_names,
                                folder=folder, model=kind.name, hparams=kind.hparams)


def _check_dataset(dataset: Dataset, manifest: dict, kind: ModelKind, name: str) -> None:
    if file_fingerprint(dataset.path) != manifest["dataset_fingerprint"]:
        raise DatasetError(f"{dataset.path} changed after the folds were made; rerun `mclnn folds {name}` first")
    longest = int(dataset.frame_counts.max())
    if kind.segment_frames > longest:
        raise ParameterError(f"a segment of {kind.segment_frames} frames {kind.segment_rule} is longer than every "
                             f"clip of {dataset.path} (at most {longest} frames); {kind.segment_remedy}")


def _run_trial(config, kind, dataset, entry, paths, *, run_hash, evaluate_only, pictures, out_dir, progress):
    started = time.perf_counter()
    clips = TrialClips(dataset, entry, out_dir=out_dir, segment_frames=kind.segment_frames)
    test = clips.clips("test")
    if evaluate_only:
        state = _trained_state(paths, entry["trial"], run_hash)
    else:
        state = train_trial(kind, config.training, trial=entry["trial"], n_features=dataset.n_features,
                            n_classes=len(dataset.class_names), train_clips=clips.clips("train"),
                            validation_clips=clips.clips("validation"), paths=paths, run_hash=run_hash,
                            progress=progress)
    model = keras.models.load_model(paths.model)
    evaluation = evaluate_model(model, kind, test, filenames=dataset.filenames, n_classes=len(dataset.class_names))
    report = {
        "trial": entry["trial"],
        "test_fold": entry["test_fold"],
        "validation_fold": entry["validation_fold"],
        "settings_hash": run_hash,
        "model": kind.name,
        "hparams": kind.hparams,
        "training_mode": kind.mode,
        "epochs_run": state.epoch,
        "best_epoch": state.best_epoch,
        "monitor": config.training.monitor,
        "best_monitored": state.best,
        "train_seconds": state.seconds,
        **evaluation,
        "evaluated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "evaluate_seconds": round(time.perf_counter() - started, 1),
    }
    if pictures:
        kind.save_pictures(model, test, prefix=paths.pictures)
    ModelInfo(dataset=config.name, model=kind.name, hparams=kind.hparams, segment_frames=kind.segment_frames,
              step=kind.step, class_names=list(dataset.class_names), features=config.features,
              mean_vector=clips.mean_vector, std_vector=clips.std_vector, settings_hash=run_hash).write(paths.info)
    write_json(paths.report, report)
    paths.checkpoint.unlink(missing_ok=True)
    logger.info("trial %d: clip accuracy %.3f (mean-probability vote)", entry["trial"],
                report["scores"]["mean_probability_accuracy"])


def _trained_state(paths: TrialPaths, trial: int, run_hash: str) -> TrainingState:
    """The state of a trial trained earlier with the same settings, for --evaluate-only."""
    state = TrainingState.read(paths.state)
    if not paths.model.is_file() or state is None:
        raise DatasetError(f"{paths.model}: no trained model for trial {trial}; run cv-train first")
    if state.settings_hash != run_hash:
        raise ParameterError(
            f"trial {trial}'s model was trained with other model or training settings; give "
            "--evaluate-only the settings (and flags such as --epochs) it was trained with")
    return state
