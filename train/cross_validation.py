"""``mclnn cv-train``: train and evaluate one MCLNN model per cross-validation trial.

Reads the folds manifest written by ``mclnn folds``, and writes under
``<out>/<TAG>_folds_<k>_weights/``::

    trial_01/model.keras        the best model (by the monitored validation metric)
    trial_01/history.json       per-epoch loss and accuracies
    trial_01/report.json        the trial's clip-level scores and per-clip votes
    trial_01/checkpoint.keras   while training: the last epoch, for resuming
    report.json, report.md      per-trial and pooled scores (see mclnn.train.report)
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from pathlib import Path
from typing import Callable

import h5py
import keras
import numpy as np

from mclnn import Dataset, load_dataset
from mclnn.atomic import atomic_path, exclusive_lock, file_fingerprint
from mclnn.config import DatasetConfig, settings_hash
from mclnn.errors import DatasetError, ParameterError
from mclnn.folds import read_folds_manifest
from mclnn.train.metrics import clip_scores, summarize_clip
from mclnn.train.model import build_model, clip_model, clip_segment_probabilities, segment_model
from mclnn.train.pictures import save_layer_pictures
from mclnn.train.report import write_report
from mclnn.train.segments import ClipBatches, SegmentBatches, StandardizedClips
from mclnn.train.trial_files import TrialPaths

__all__ = ["TrialPaths", "cv_train", "weights_dir"]

logger = logging.getLogger(__name__)

# Called as progress(trial, epoch, epochs, logs) after every epoch.
EpochProgress = Callable[[int, int, int, dict], None]


def weights_dir(out_dir: str | Path, manifest: dict) -> Path:
    """``<out>/<TAG>_folds_<k>_weights``, beside the folds it trains on."""
    return Path(out_dir) / f"{manifest['tag']}_folds_{manifest['k']}_weights"


def cv_train(
    config: DatasetConfig,
    *,
    out_dir: str | Path,
    k: int | None = None,
    trial: int | None = None,
    evaluate_only: bool = False,
    pictures: bool = False,
    progress: EpochProgress | None = None,
) -> dict:
    """Train (or resume, or only evaluate) the trials, then write the cross-validation report.

    Finished trials of earlier runs with the same settings are skipped, an interrupted
    trial resumes from its last checkpoint, and the report covers every finished trial.

    Parameters
    ----------
    config : DatasetConfig
        Its ``model`` and ``training`` settings are used.
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
        A trial number out of range.
    """
    out_dir = Path(out_dir)
    manifest = read_folds_manifest(out_dir, config.name, k or config.folds.k)
    numbers = [entry["trial"] for entry in manifest["trials"]]
    if trial is not None and trial not in numbers:
        raise ParameterError(f"--fold {trial} is out of range: the folds have trials {numbers[0]}..{numbers[-1]}")
    keras.config.disable_interactive_logging()
    with load_dataset(out_dir / manifest["dataset_file"], **manifest["reference_layout"]) as dataset:
        if file_fingerprint(dataset.path) != manifest["dataset_fingerprint"]:
            raise DatasetError(
                f"{dataset.path} changed after the folds were made; rerun `mclnn folds {config.name}` first")
        longest = int(dataset.frame_counts.max())
        if config.model.segment_frames > longest:
            raise ParameterError(
                f"a segment of {config.model.segment_frames} frames (2 * sum(order) + extra_frames + 1) is longer "
                f"than every clip of {dataset.path} (at most {longest} frames); lower model.extra_frames or model.order"
            )
        run_hash = settings_hash(config.model, config.training, manifest["dataset_fingerprint"],
                                 manifest["settings_hash"])
        folder = weights_dir(out_dir, manifest)
        for entry in manifest["trials"]:
            if trial is not None and entry["trial"] != trial:
                continue
            paths = TrialPaths.of(folder, entry["trial"])
            finished = _read_json(paths.report)
            if not evaluate_only and finished is not None and finished.get("settings_hash") == run_hash:
                logger.info("trial %d is finished; skipping it", entry["trial"])
                continue
            with exclusive_lock(paths.report):
                _run_trial(config, dataset, entry, paths, run_hash=run_hash, evaluate_only=evaluate_only,
                           pictures=pictures, out_dir=out_dir, progress=progress)
        finished = [report for entry in manifest["trials"]
                    if (report := _read_json(TrialPaths.of(folder, entry["trial"]).report)) is not None
                    and report.get("settings_hash") == run_hash]
        if not finished:
            raise DatasetError(f"{folder}: no finished trial to report on; run cv-train without --evaluate-only")
        # Trials run as separate jobs may finish together: the report waits its turn.
        with exclusive_lock(folder / "report.json", wait=True):
            return write_report(finished, dataset=config.name, k=manifest["k"], class_names=dataset.class_names,
                                folder=folder)


def _run_trial(config, dataset, entry, paths, *, run_hash, evaluate_only, pictures, out_dir, progress):
    started = time.perf_counter()
    model_settings, training = config.model, config.training
    mean_vector, std_vector = _read_statistics(out_dir / entry["files"]["standardization"], dataset.n_features)

    def clips(name):
        return StandardizedClips(dataset, _read_indices(out_dir / entry["files"][name], dataset),
                                 mean_vector=mean_vector, std_vector=std_vector,
                                 segment_frames=model_settings.segment_frames)

    test = ClipBatches(clips("test"), segment_frames=model_settings.segment_frames, step=training.step,
                       clips_per_batch=8)
    if evaluate_only:
        state = _read_json(paths.state)
        if not paths.model.is_file() or state is None:
            raise DatasetError(f"{paths.model}: no trained model for trial {entry['trial']}; run cv-train first")
        if state.get("settings_hash") != run_hash:
            raise ParameterError(
                f"trial {entry['trial']}'s model was trained with other model or training settings; give "
                "--evaluate-only the settings (and flags such as --epochs) it was trained with")
    else:
        state = _train(config, dataset, entry, paths, run_hash=run_hash, progress=progress,
                       train_clips=clips("train"), validation_clips=clips("validation"))
    model = keras.models.load_model(paths.model)
    summaries = [summarize_clip(probabilities) for probabilities in clip_segment_probabilities(model, test)]
    labels = test.clips.labels
    report = {
        "trial": entry["trial"],
        "test_fold": entry["test_fold"],
        "validation_fold": entry["validation_fold"],
        "settings_hash": run_hash,
        "training_mode": training.mode,
        "epochs_run": state.get("epoch"),
        "best_epoch": state.get("best_epoch"),
        "monitor": training.monitor,
        "best_monitored": state.get("best"),
        "train_seconds": state.get("seconds"),
        "scores": clip_scores(labels, summaries, n_classes=len(dataset.class_names)),
        "clips": [{"index": int(index), "filename": str(dataset.filenames[index]), "label": int(label), **summary}
                  for index, label, summary in zip(test.clips.indices, labels, summaries)],
        "evaluated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "evaluate_seconds": round(time.perf_counter() - started, 1),
    }
    if pictures:
        shown = np.linspace(0, len(test.clips) - 1, 4).astype(int)
        segments = np.stack([test.clips.clip(p)[:model_settings.segment_frames] for p in shown])
        save_layer_pictures(model, segments, units=8, prefix=f"{paths.pictures}_layer0")
    _write_json(paths.report, report)
    paths.checkpoint.unlink(missing_ok=True)
    logger.info("trial %d: clip accuracy %.3f (mean-probability vote)", entry["trial"],
                report["scores"]["mean_probability_accuracy"])


def _train(config, dataset, entry, paths, *, run_hash, progress, train_clips, validation_clips):
    """Train one trial's model, resuming from its checkpoint; return the final training state."""
    model_settings, training = config.model, config.training
    paths.folder.mkdir(parents=True, exist_ok=True)
    state = _read_json(paths.state)
    resumable = (state is not None and state.get("settings_hash") == run_hash and paths.checkpoint.is_file()
                 and paths.model.is_file())
    if resumable and state.get("stopped"):
        return state
    keras.utils.set_random_seed(training.seed + entry["trial"])
    by_clip = training.mode == "clip"
    if resumable:
        logger.info("trial %d: resuming after epoch %d", entry["trial"], state["epoch"])
        fitted = keras.models.load_model(paths.checkpoint)
        model = segment_model(fitted, segment_frames=model_settings.segment_frames) if by_clip else fitted
    else:
        state = {"settings_hash": run_hash, "epoch": 0, "best": None, "best_epoch": None, "wait": 0,
                 "stopped": False, "seconds": 0.0, "history": {}}
        model = build_model(model_settings, n_features=dataset.n_features, n_classes=len(dataset.class_names),
                            seed=training.seed + 1000 * entry["trial"])
        fitted = clip_model(model, step=training.step) if by_clip else model
        fitted.compile(optimizer=keras.optimizers.Adam(learning_rate=training.learning_rate, epsilon=1e-8),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    shuffle_seed = training.seed + entry["trial"]
    if by_clip:
        segments = np.median(ClipBatches(train_clips, segment_frames=model_settings.segment_frames,
                                         step=training.step, clips_per_batch=1).segments_per_clip)
        per_batch = max(1, round(training.batch_size / segments))
        train, validation = (ClipBatches(clips, segment_frames=model_settings.segment_frames, step=training.step,
                                         clips_per_batch=per_batch, shuffle_seed=seed)
                             for clips, seed in ((train_clips, shuffle_seed), (validation_clips, None)))
    else:
        train, validation = (SegmentBatches(clips, segment_frames=model_settings.segment_frames, step=training.step,
                                            batch_size=training.batch_size, shuffle_seed=seed)
                             for clips, seed in ((train_clips, shuffle_seed), (validation_clips, None)))
    checkpoint = _TrialCheckpoint(paths, state, best_model=model, training=training, trial=entry["trial"],
                                  progress=progress)
    fitted.fit(train, validation_data=validation, epochs=training.epochs, initial_epoch=state["epoch"],
               callbacks=[checkpoint], verbose=0)
    state["stopped"] = True
    _write_json(paths.state, state)
    _write_json(paths.history, {"trial": entry["trial"], **state["history"]})
    return state


class _TrialCheckpoint(keras.callbacks.Callback):
    """Early stopping that keeps the best model and checkpoints every epoch, so a killed run resumes."""

    def __init__(self, paths, state, *, best_model, training, trial, progress):
        super().__init__()
        self.paths, self.state, self.training, self.trial, self.progress = paths, state, training, trial, progress
        # The per-segment model is what is kept; in clip mode it shares the trained model's layers.
        self.best_model = best_model
        self._epoch_started = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: float(value) for key, value in (logs or {}).items()}
        state, monitor = self.state, self.training.monitor
        for key, value in logs.items():
            state["history"].setdefault(key, []).append(value)
        value = logs[monitor]
        improved = state["best"] is None or (value > state["best"] if monitor == "val_accuracy" else value < state["best"])
        if improved:
            state.update(best=value, best_epoch=epoch + 1, wait=0)
            _save_model(self.best_model, self.paths.model)
        else:
            state["wait"] += 1
        state["epoch"] = epoch + 1
        state["seconds"] += time.perf_counter() - self._epoch_started
        if state["wait"] >= self.training.patience:
            self.model.stop_training = True
        _save_model(self.model, self.paths.checkpoint)
        _write_json(self.paths.state, state)
        if self.progress is not None:
            self.progress(self.trial, epoch + 1, self.training.epochs, logs)


def _save_model(model, path):
    with atomic_path(path) as partial:
        model.save(partial)


def _read_indices(path, dataset: Dataset) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(f"{path}: fold index file missing; rerun `mclnn folds`")
    with h5py.File(path, "r") as handle:
        indices, labels = handle["index"][()], handle["label"][()]
    if len(indices) and (indices.max() >= len(dataset) or not np.array_equal(dataset.labels[indices], labels)):
        raise DatasetError(f"{path}: its indices and labels do not match {dataset.path}; rerun `mclnn folds`")
    return indices


def _read_statistics(path, n_features):
    if not path.is_file():
        raise DatasetError(f"{path}: standardization file missing; rerun `mclnn folds`")
    with h5py.File(path, "r") as handle:
        mean_vector, std_vector = handle["mean_vector"][()], handle["std_vector"][()]
    if mean_vector.shape != (n_features,) or std_vector.shape != (n_features,):
        raise DatasetError(f"{path}: statistics of {mean_vector.shape[0]} features, the dataset has {n_features}; "
                           "rerun `mclnn folds`")
    return mean_vector, std_vector


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _write_json(path, content):
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(content, indent=1) + "\n")
