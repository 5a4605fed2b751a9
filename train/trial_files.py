"""One cross-validation trial's folder: where its files live, and what a saved model needs to predict."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mclnn.atomic import atomic_write_text
from mclnn.config import FeatureSettings
from mclnn.errors import DatasetError

__all__ = ["ModelInfo", "TrialPaths", "read_json", "weights_dir", "write_json"]


def weights_dir(out_dir: str | Path, manifest: dict, suffix: str = "weights") -> Path:
    """``<out>/<TAG>_folds_<k>_<suffix>``, beside the folds (``suffix`` is the model kind's)."""
    return Path(out_dir) / f"{manifest['tag']}_folds_{manifest['k']}_{suffix}"


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
        except (TypeError, KeyError):
            raise DatasetError(f"{path}: missing or unreadable; rerun `mclnn cv-train --evaluate-only` with "
                               f"--out {Path(path).parents[2]} for this model to write it") from None


def read_json(path: str | Path):
    """The content of a JSON file, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: str | Path, content) -> None:
    """Write ``content`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(content, indent=1) + "\n")
