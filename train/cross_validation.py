"""``mclnn cv-train``: train and evaluate one model per cross-validation trial.

Reads the folds manifest written by ``mclnn folds``, and writes under
``<out>/<TAG>_folds_<k>_weights/`` (MCLNN) or ``<out>/<TAG>_folds_<k>_<model>_weights/``
(a baseline)::

    trial_01/model.keras        the best model (by the monitored validation metric)
    trial_01/model_info.json    what `mclnn predict` needs: features, classes, standardization
    trial_01/history.json       per-epoch loss and accuracies
    trial_01/report.json        the trial's clip-level scores and per-clip votes
    trial_01/checkpoint.keras   while training: the last epoch, for resuming
    report.json, report.md      per-trial and pooled scores (see mclnn.train.report)
"""

from __future__ import annotations

import dataclasses
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
from mclnn.train.model import clip_model, segment_model
from mclnn.train.model_choice import INFERENCE_CLIPS, ModelChoice, clip_probabilities
from mclnn.train.pictures import save_layer_pictures
from mclnn.train.report import write_report
from mclnn.train.segments import ClipBatches, SegmentBatches, StandardizedClips
from mclnn.train.trial_files import TrialPaths

__all__ = ["TrialPaths", "cv_train", "weights_dir"]

logger = logging.getLogger(__name__)

# Called as progress(trial, epoch, epochs, logs) after every epoch.
EpochProgress = Callable[[int, int, int, dict], None]


def weights_dir(out_dir: str | Path, manifest: dict, model: str = "mclnn") -> Path:
    """``<out>/<TAG>_folds_<k>_weights`` (``..._<model>_weights`` for a baseline), beside the folds."""
    suffix = "_weights" if model == "mclnn" else f"_{model}_weights"
    return Path(out_dir) / f"{manifest['tag']}_folds_{manifest['k']}{suffix}"


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
    model : {'mclnn', 'cnn', 'mlp'}
        MCLNN, or a DCASE 2018 baseline (:mod:`mclnn.train.baselines`).
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
    choice = ModelChoice.of(config, model, hparams)
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
        if choice.segment_frames > longest:
            what, remedy = (("(2 * sum(order) + extra_frames + 1)", "lower model.extra_frames or model.order")
                            if choice.name == "mclnn" else ("(example_frames)", "lower --hparams example_frames"))
            raise ParameterError(
                f"a segment of {choice.segment_frames} frames {what} is longer than every clip of {dataset.path} "
                f"(at most {longest} frames); {remedy}"
            )
        model_settings = config.model if choice.name == "mclnn" else {"model": choice.name, **choice.hparams}
        run_hash = settings_hash(model_settings, config.training, manifest["dataset_fingerprint"],
                                 manifest["settings_hash"])
        folder = weights_dir(out_dir, manifest, choice.name)
        for entry in manifest["trials"]:
            if trial is not None and entry["trial"] != trial:
                continue
            paths = TrialPaths.of(folder, entry["trial"])
            finished = _read_json(paths.report)
            if not evaluate_only and finished is not None and finished.get("settings_hash") == run_hash:
                logger.info("trial %d is finished; skipping it", entry["trial"])
                continue
            with exclusive_lock(paths.report):
                _run_trial(config, choice, dataset, entry, paths, run_hash=run_hash, evaluate_only=evaluate_only,
                           pictures=pictures, out_dir=out_dir, progress=progress)
        finished = [report for entry in manifest["trials"]
                    if (report := _read_json(TrialPaths.of(folder, entry["trial"]).report)) is not None
                    and report.get("settings_hash") == run_hash]
        if not finished:
            raise DatasetError(f"{folder}: no finished trial to report on; run cv-train without --evaluate-only")
        # Trials run as separate jobs may finish together: the report waits its turn.
        with exclusive_lock(folder / "report.json", wait=True):
            return write_report(finished, dataset=config.name, k=manifest["k"], class_names=dataset.class_names,
                                folder=folder, model=choice.name, hparams=choice.hparams)


def _run_trial(config, choice, dataset, entry, paths, *, run_hash, evaluate_only, pictures, out_dir, progress):
    started = time.perf_counter()
    training = config.training
    mean_vector, std_vector = _read_statistics(out_dir / entry["files"]["standardization"], dataset.n_features)

    def clips(name):
        return StandardizedClips(dataset, _read_indices(out_dir / entry["files"][name], dataset),
                                 mean_vector=mean_vector, std_vector=std_vector, segment_frames=choice.segment_frames)

    test = clips("test")
    if evaluate_only:
        state = _read_json(paths.state)
        if not paths.model.is_file() or state is None:
            raise DatasetError(f"{paths.model}: no trained model for trial {entry['trial']}; run cv-train first")
        if state.get("settings_hash") != run_hash:
            raise ParameterError(
                f"trial {entry['trial']}'s model was trained with other model or training settings; give "
                "--evaluate-only the settings (and flags such as --epochs) it was trained with")
    else:
        state = _train(config, choice, dataset, entry, paths, run_hash=run_hash, progress=progress,
                       train_clips=clips("train"), validation_clips=clips("validation"))
    model = keras.models.load_model(paths.model)
    summaries = [summarize_clip(probabilities) for probabilities in clip_probabilities(
        model, test, name=choice.name, segment_frames=choice.segment_frames, step=choice.step)]
    labels = test.labels
    report = {
        "trial": entry["trial"],
        "test_fold": entry["test_fold"],
        "validation_fold": entry["validation_fold"],
        "settings_hash": run_hash,
        "model": choice.name,
        "hparams": choice.hparams,
        "training_mode": choice.mode,
        "epochs_run": state.get("epoch"),
        "best_epoch": state.get("best_epoch"),
        "monitor": training.monitor,
        "best_monitored": state.get("best"),
        "train_seconds": state.get("seconds"),
        "scores": clip_scores(labels, summaries, n_classes=len(dataset.class_names)),
        "clips": [{"index": int(index), "filename": str(dataset.filenames[index]), "label": int(label), **summary}
                  for index, label, summary in zip(test.indices, labels, summaries)],
        "evaluated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "evaluate_seconds": round(time.perf_counter() - started, 1),
    }
    if pictures and choice.name == "mclnn":
        shown = np.linspace(0, len(test) - 1, 4).astype(int)
        segments = np.stack([test.clip(p)[:choice.segment_frames] for p in shown])
        save_layer_pictures(model, segments, units=8, prefix=f"{paths.pictures}_layer0")
    _write_json(paths.info, {
        "dataset": config.name, "model": choice.name, "hparams": choice.hparams,
        "segment_frames": choice.segment_frames, "step": choice.step, "class_names": list(dataset.class_names),
        "features": dataclasses.asdict(config.features), "mean_vector": mean_vector.tolist(),
        "std_vector": std_vector.tolist(), "settings_hash": run_hash})
    _write_json(paths.report, report)
    paths.checkpoint.unlink(missing_ok=True)
    logger.info("trial %d: clip accuracy %.3f (mean-probability vote)", entry["trial"],
                report["scores"]["mean_probability_accuracy"])


def _train(config, choice, dataset, entry, paths, *, run_hash, progress, train_clips, validation_clips):
    """Train one trial's model, resuming from its checkpoint; return the final training state."""
    training = config.training
    paths.folder.mkdir(parents=True, exist_ok=True)
    state = _read_json(paths.state)
    resumable = (state is not None and state.get("settings_hash") == run_hash and paths.checkpoint.is_file()
                 and paths.model.is_file())
    if resumable and state.get("stopped"):
        return state
    keras.utils.set_random_seed(training.seed + entry["trial"])
    by_clip = choice.mode == "clip"
    if resumable:
        logger.info("trial %d: resuming after epoch %d", entry["trial"], state["epoch"])
        fitted = keras.models.load_model(paths.checkpoint)
        model = segment_model(fitted, segment_frames=choice.segment_frames) if by_clip else fitted
    else:
        state = {"settings_hash": run_hash, "epoch": 0, "best": None, "best_epoch": None, "wait": 0,
                 "stopped": False, "seconds": 0.0, "history": {}}
        model = choice.build(config, n_features=dataset.n_features, n_classes=len(dataset.class_names),
                             seed=training.seed + 1000 * entry["trial"])
        fitted = clip_model(model, step=choice.step) if by_clip else model
        choice.compile(fitted)
    shuffle_seed = training.seed + entry["trial"]
    segment = {"segment_frames": choice.segment_frames, "step": choice.step}
    if by_clip:
        segments = np.median(ClipBatches(train_clips, **segment, clips_per_batch=1).segments_per_clip)
        per_batch = max(1, round(choice.batch_size / segments))
        train = ClipBatches(train_clips, **segment, clips_per_batch=per_batch, shuffle_seed=shuffle_seed)
        validation = ClipBatches(validation_clips, **segment, clips_per_batch=INFERENCE_CLIPS)
        # Validation scores through XLA, like the test clips; the clip model shares the trained weights.
        validator = clip_model(model, step=choice.step)
        choice.compile(validator, jit_compile=True)
    else:
        train, validation = (SegmentBatches(clips, **segment, batch_size=choice.batch_size, shuffle_seed=seed)
                             for clips, seed in ((train_clips, shuffle_seed), (validation_clips, None)))
        validator = fitted
    # The per-segment model is what is kept; in clip mode it shares the trained model's layers.
    for epoch in range(state["epoch"], training.epochs):
        started = time.perf_counter()
        logs = _run_epoch(fitted.train_on_batch, train)
        logs.update({f"val_{key}": value for key, value in _run_epoch(validator.test_on_batch, validation).items()})
        stop = _end_epoch(state, logs, seconds=time.perf_counter() - started, training=training, paths=paths,
                          best_model=model, trained_model=fitted)
        if progress is not None:
            progress(entry["trial"], epoch + 1, training.epochs, logs)
        if stop:
            break
    state["stopped"] = True
    _write_json(paths.state, state)
    _write_json(paths.history, {"trial": entry["trial"], **state["history"]})
    return state


def _run_epoch(step, batches) -> dict:
    """One pass of ``step`` (a model's ``train_on_batch`` or ``test_on_batch``) over the batches.

    Returns the loss and metrics averaged over the pass's samples (segments). A plain loop:
    on the 2-core machine ``Model.fit`` fed from Python batches spent more than half of a
    clip-mode ESC-10 epoch waiting on its input pipeline's threads (15 s an epoch
    against 4 s for the steps alone).
    """
    totals, samples = {}, 0
    for number in range(len(batches)):
        frames, labels = batches[number]
        for key, value in step(frames, labels, return_dict=True).items():
            totals[key] = totals.get(key, 0.0) + float(value) * labels.size
        samples += labels.size
    batches.on_epoch_end()
    return {key: total / samples for key, total in totals.items()}


def _end_epoch(state, logs, *, seconds, training, paths, best_model, trained_model) -> bool:
    """Record an epoch, keep the best model, checkpoint (so a killed run resumes); True to stop early."""
    for key, value in logs.items():
        state["history"].setdefault(key, []).append(value)
    value = logs[training.monitor]
    best = state["best"]
    if best is None or (value > best if training.monitor == "val_accuracy" else value < best):
        state.update(best=value, best_epoch=state["epoch"] + 1, wait=0)
        _save_model(best_model, paths.model)
    else:
        state["wait"] += 1
    state["epoch"] += 1
    state["seconds"] += seconds
    _save_model(trained_model, paths.checkpoint)
    _write_json(paths.state, state)
    return state["wait"] >= training.patience


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
