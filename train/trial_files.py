"""One cross-validation trial's folder: its files, and the records written there.

The one home of the trial folder's contract: where each file lives (:class:`TrialPaths`),
how training stands (:class:`TrainingState`, ``state.json``), what the trial scored
(:class:`TrialReport`, ``report.json``), and what running its saved model needs
(:class:`ModelInfo`, ``model_info.json``, whose :class:`ScoringRecord` says how to score it).
Light to import: every stage and every worker reads these files.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mclnn.atomic import atomic_write_text
from mclnn.config import FeatureSettings, TrainingSettings
from mclnn.errors import DatasetError, MCLNNError
from mclnn.variants import MODEL_KINDS, MONITORS

__all__ = ["EVALUATED_FOLDS", "ModelInfo", "ScoringRecord", "TrainingState", "TrialPaths", "TrialReport", "read_json",
           "recorded_settings", "settings_changes", "weights_dir", "write_json"]


#: The folds a trial's model can be scored on: ``test`` (the report's default) or ``validation``.
EVALUATED_FOLDS = ("test", "validation")


def weights_dir(out_dir: str | Path, manifest: dict, suffix: str = "weights", *, evaluate_on: str = "test") -> Path:
    """``<out>/<TAG>_folds_<k>_<suffix>``, beside the folds (``suffix`` is the model kind's).

    Runs scored on their validation folds have a folder of their own, ``..._<suffix>_validation``,
    so a decision made on validation folds never mixes with a test run's files.
    """
    ending = "" if evaluate_on == "test" else f"_{evaluate_on}"
    return Path(out_dir) / f"{manifest['tag']}_folds_{manifest['k']}_{suffix}{ending}"


@dataclass(frozen=True)
class TrialPaths:
    """The files of one trial.

    Attributes
    ----------
    folder : Path
        ``<weights folder>/trial_NN``.
    model, checkpoint, state, history, report, info : Path
        In ``folder``: the kept model, the last epoch's checkpoint (for resuming), the
        training state, the per-epoch history, the trial's report and what
        ``mclnn predict`` needs to run the model (``model_info.json``, :class:`ModelInfo`).
    events : Path
        In ``folder``: TensorBoard event files of the per-epoch metrics (``events/``).
    pictures : str
        Prefix of the trial's pictures beside ``folder`` (``<weights folder>/trial_NN``),
        completed as ``<prefix>_curves.png`` and so on.
    """

    folder: Path
    model: Path
    checkpoint: Path
    state: Path
    history: Path
    report: Path
    info: Path
    events: Path
    pictures: str

    @classmethod
    def of(cls, weights_folder: str | Path, trial: int) -> "TrialPaths":
        """The paths of 1-based ``trial`` under ``weights_folder``."""
        return cls.of_folder(Path(weights_folder) / f"trial_{trial:02d}")

    @classmethod
    def of_folder(cls, folder: str | Path) -> "TrialPaths":
        """The paths of the trial whose files are in ``folder``."""
        folder = Path(folder)
        files = ("model.keras", "checkpoint.keras", "state.json", "history.json", "report.json", "model_info.json",
                 "events")
        return cls(folder, *(folder / name for name in files), pictures=str(folder))


@dataclass(frozen=True)
class ModelInfo:
    """What running a trial's saved model on new audio needs (``model_info.json``).

    Attributes
    ----------
    dataset : str
    model : str
        The model kind (``mclnn``, ``cnn``, ``mlp``).
    hparams : dict
        A baseline's hyperparameters (empty for MCLNN).
    segment_frames, step : int
        Frames per segment (example) and between segment starts.
    class_names : list of str
        In the order of the model's outputs.
    features : FeatureSettings
        How the training clips' features were computed.
    mean_vector, std_vector : np.ndarray [shape=(n_features,)]
        The trial's training statistics.
    settings_hash : str
    """

    dataset: str
    model: str
    hparams: dict
    segment_frames: int
    step: int
    class_names: list
    features: FeatureSettings
    mean_vector: np.ndarray
    std_vector: np.ndarray
    settings_hash: str

    @property
    def scoring(self) -> "ScoringRecord":
        """How the saved model is scored."""
        return ScoringRecord.of(self.model, segment_frames=self.segment_frames, step=self.step, hparams=self.hparams)

    def write(self, path: str | Path) -> None:
        """Write the JSON file atomically."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        write_json(path, {**fields, "class_names": list(self.class_names),
                          "features": dataclasses.asdict(self.features),
                          "mean_vector": self.mean_vector.tolist(), "std_vector": self.std_vector.tolist()})

    @classmethod
    def read(cls, path: str | Path) -> "ModelInfo":
        """Read a ``model_info.json``.

        Raises
        ------
        DatasetError
            The file is missing, unreadable or lacks a field.
        """
        content = read_json(path)
        try:
            return cls(**{**content, "features": FeatureSettings(**content["features"]),
                          "mean_vector": np.asarray(content["mean_vector"], np.float32),
                          "std_vector": np.asarray(content["std_vector"], np.float32)})
        except (TypeError, KeyError, ValueError, MCLNNError):
            # <out>/<weights folder>/trial_NN/model_info.json
            out = Path(path).resolve().parents[min(2, len(Path(path).resolve().parents) - 1)]
            raise DatasetError(f"{path}: missing, incomplete or unreadable; rerun `mclnn cv-train --evaluate-only` "
                               f"with --out {out} for this model to write it") from None


@dataclass(frozen=True)
class ScoringRecord:
    """What scoring a trained model takes: its kind, how its clips are cut, and no training settings.

    Attributes
    ----------
    model : str
        The kind's name (:data:`mclnn.variants.MODEL_KINDS`), which scores it.
    segment_frames, step : int
        Frames per segment (example) and between segment starts.
    hparams : dict
        A baseline's hyperparameters (empty for MCLNN).
    remedy : str
        What to change when clips are shorter than one segment, in the kind's own settings.
    """

    model: str
    segment_frames: int
    step: int
    hparams: dict = field(default_factory=dict)
    remedy: str = ""

    @classmethod
    def of(cls, model: str, *, segment_frames: int, step: int, hparams: dict) -> "ScoringRecord":
        """The record of a model of kind ``model``, with that kind's remedy."""
        return cls(model, segment_frames, step, dict(hparams), MODEL_KINDS.load(model).segment_remedy)


@dataclass
class TrainingState:
    """Where a trial's training stands; written after every epoch (``state.json``).

    Attributes
    ----------
    settings_hash : str
        The settings it is trained with; a checkpoint of other settings is not resumed.
    model_hash : str or None
        The settings that scoring the model depends on (its architecture, the segment
        step, the folds); None in states written before it was recorded.
    epoch : int
        Epochs done.
    best, best_epoch : float and int, or None
        The best monitored value so far and its 1-based epoch.
    wait : int
        Epochs since the best one.
    stopped : bool
        Training has ended (early stopping or the last epoch).
    seconds : float
        Training time so far.
    history : dict of list of float
        Per-epoch losses, accuracies (training and ``val_``) and the learning rate.
    rate_scale : float
        What a ``plateau`` schedule has multiplied the learning rate by so far.
    plateau_wait : int
        Epochs since the ``plateau`` schedule last improved or reduced.
    resumed_after : list of int
        The epochs after which training was resumed from a checkpoint.
    seed_states : list of list of int
        The model's random seed generators (dropout) after the last epoch: Keras does not
        save them with a model, and a resumed trial must draw what an uninterrupted one would.
    """

    settings_hash: str
    model_hash: str | None = None
    epoch: int = 0
    best: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    stopped: bool = False
    seconds: float = 0.0
    history: dict = field(default_factory=dict)
    rate_scale: float = 1.0
    plateau_wait: int = 0
    resumed_after: list = field(default_factory=list)
    seed_states: list = field(default_factory=list)

    @classmethod
    def read(cls, path: str | Path) -> "TrainingState | None":
        """The state written at ``path``, or None when there is none."""
        content = read_json(path)
        return None if content is None else cls(**content)

    def write(self, path: str | Path) -> None:
        """Write the state atomically."""
        write_json(path, dataclasses.asdict(self))

    def record(self, logs: dict, *, seconds: float, monitor: str) -> bool:
        """Add an epoch's logs; True when its ``monitor`` value (:data:`mclnn.variants.MONITORS`) is the best so far."""
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        value = logs[monitor]
        if MONITORS.load(monitor).improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, self.epoch + 1, 0
            improved = True
        else:
            self.wait += 1
            improved = False
        self.epoch += 1
        self.seconds += seconds
        return improved


@dataclass(frozen=True)
class TrialReport:
    """What one trial scored on its evaluated clips, and how its model was trained (``report.json``).

    Attributes
    ----------
    trial, test_fold, validation_fold : int
        The 1-based trial and the folds it tests and validates on.
    settings_hash, model_hash : str
        What the model was trained with, and what scoring it depends on.
    settings : dict
        The model and training settings (:func:`recorded_settings`).
    model : str
        The model kind.
    hparams : dict
    training_mode : str
    epochs_run : int
    resumed_after : list of int
    best_epoch : int or None
    kept : str
        ``best`` or ``last``.
    monitor : str
    best_monitored : float or None
    train_seconds : float
    scores : dict
        :func:`mclnn.train.evaluate.metrics.clip_scores` of the evaluated clips.
    clips : list of dict
        Per clip: dataset index, file name, label, segment votes and mean probabilities.
    evaluated : str
        When it was scored (ISO 8601, UTC).
    evaluate_seconds : float
        Seconds spent loading the kept model and scoring the evaluated clips (training not included).
    ran_on : str
        The machine and process that ran it.
    evaluated_on : {'test', 'validation'}
        Which of the trial's folds ``scores`` and ``clips`` are of.
    """

    trial: int
    test_fold: int
    validation_fold: int
    settings_hash: str
    model_hash: str
    settings: dict
    model: str
    hparams: dict
    training_mode: str
    epochs_run: int
    resumed_after: list
    best_epoch: int | None
    kept: str
    monitor: str
    best_monitored: float | None
    train_seconds: float
    scores: dict
    clips: list
    evaluated: str
    evaluate_seconds: float
    ran_on: str
    evaluated_on: str = "test"

    @classmethod
    def read(cls, path: str | Path) -> "TrialReport | None":
        """The report written at ``path``, or None when there is none (or it is of another layout)."""
        content = read_json(path)
        try:
            return None if content is None else cls(**content)
        except TypeError:
            return None

    def write(self, path: str | Path) -> None:
        """Write the report atomically."""
        write_json(path, dataclasses.asdict(self))

    def summary(self) -> dict:
        """Every field but the per-clip ``clips``, as the cross-validation report lists trials."""
        return {key: value for key, value in dataclasses.asdict(self).items() if key != "clips"}


def recorded_settings(model_settings: Any, training: TrainingSettings) -> dict:
    """The model's settings (a dataclass, or a baseline's hyperparameters) and the training settings, as JSON has them."""
    model = dataclasses.asdict(model_settings) if dataclasses.is_dataclass(model_settings) else dict(model_settings)
    return json.loads(json.dumps({"model": model, "training": dataclasses.asdict(training)}))


def settings_changes(before: dict | None, after: dict) -> str:
    """The settings that differ between two :func:`recorded_settings`, in words (at most 3 named)."""
    if not before:
        return "its settings were not recorded"
    changed = [f"{section}.{name} {before.get(section, {}).get(name)!r} -> {value!r}"
               for section in ("model", "training") for name, value in after[section].items()
               if before.get(section, {}).get(name) != value]
    if not changed:
        return "the folds or Dataset.hdf5 changed"
    return ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")


def read_json(path: str | Path):
    """The content of a JSON file, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: str | Path, content) -> None:
    """Write ``content`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(content, indent=1) + "\n")
