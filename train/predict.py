"""``mclnn predict``: run trained models on new clips; Kaggle DCASE 2018 style predictions."""

from __future__ import annotations

import contextlib
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import keras
import numpy as np

from mclnn.atomic import atomic_path
from mclnn.config import FeatureSettings
from mclnn.errors import DatasetError, MCLNNError, ParameterError
from mclnn.preprocess.audio import load_audio
from mclnn.preprocess.features import clip_features
from mclnn.train.model_choice import clip_probabilities
from mclnn.train.segments import StandardizedClips

__all__ = ["AUDIO_SUFFIXES", "Predictions", "TrainedModel", "list_clips", "load_trained_models", "predict_clips",
           "write_class_map", "write_predictions"]

AUDIO_SUFFIXES = (".wav", ".ogg", ".flac", ".mp3", ".aif", ".aiff", ".au")
INFO_FILE = "model_info.json"


@dataclass(frozen=True)
class TrainedModel:
    """A trial's best model and what running it needs (its ``model_info.json``)."""

    path: Path
    model: keras.Model
    info: dict

    @property
    def features(self) -> FeatureSettings:
        return FeatureSettings(**self.info["features"])


@dataclass(frozen=True)
class Predictions:
    """Class probabilities of the clips that could be read, and why the others could not."""

    names: list[str]
    probabilities: np.ndarray
    class_names: list[str]
    failures: list[tuple[str, str]]


def load_trained_models(path: str | Path) -> list[TrainedModel]:
    """The models at ``path``: a ``model.keras`` file, a trial folder, or a weights folder (all its trials).

    Each model needs the ``model_info.json`` that ``mclnn cv-train`` writes beside it.
    The models of a weights folder are averaged (an ensemble of the trials).

    Raises
    ------
    DatasetError
        No model there, a model without its ``model_info.json``, or models trained on
        different features or classes.
    """
    import mclnn.train  # noqa: F401  (registers the custom layers for loading)

    path = Path(path)
    if path.is_file():
        files = [path]
    elif (path / "model.keras").is_file():
        files = [path / "model.keras"]
    else:
        files = sorted(path.glob("trial_*/model.keras"))
    if not files:
        raise DatasetError(f"{path}: no model.keras here; give a model file, a trial folder or a weights folder "
                           "written by `mclnn cv-train`")
    models = []
    for file in files:
        info_path = file.parent / INFO_FILE
        try:
            info = json.loads(info_path.read_text())
        except (OSError, ValueError):
            raise DatasetError(f"{info_path}: missing or unreadable; rerun `mclnn cv-train --evaluate-only` "
                               "for this model to write it") from None
        models.append(TrainedModel(file, keras.models.load_model(file), info))
    first = models[0].info
    for other in models[1:]:
        if other.info["features"] != first["features"] or other.info["class_names"] != first["class_names"]:
            raise DatasetError(f"{other.path} was trained on other features or classes than {models[0].path}; "
                               "predict with one of them at a time")
    return models


def list_clips(inputs: str | Path, *, audio_dir: str | Path | None = None) -> list[tuple[str, Path]]:
    """The clips to predict, as ``(name written to the CSV, path)``.

    ``inputs`` is a folder (every audio file under it, sorted, named by its path relative
    to the folder) or a CSV file whose ``fname`` column (else ``filename``, else the first
    column) names the clips, relative to ``audio_dir`` (default: the CSV's folder).

    Raises
    ------
    ParameterError
        A CSV without rows, or a folder without audio files.
    """
    inputs = Path(inputs)
    if inputs.is_dir():
        paths = sorted(p for p in inputs.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        if not paths:
            raise ParameterError(f"{inputs}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
        return [(path.relative_to(inputs).as_posix(), path) for path in paths]
    if inputs.suffix.lower() != ".csv":
        raise ParameterError(f"{inputs}: give a folder of clips or a CSV file (.csv) of file names")
    with open(inputs, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ParameterError(f"{inputs}: no rows; give a CSV with a header line and one file name per row")
    column = next((name for name in ("fname", "filename") if name in rows[0]), next(iter(rows[0])))
    folder = Path(audio_dir) if audio_dir is not None else inputs.parent
    return [(row[column], folder / row[column]) for row in rows]


def predict_clips(models: Sequence[TrainedModel], clips: Sequence[tuple[str, Path]],
                  progress: Callable[[int, int], None] | None = None) -> Predictions:
    """Every readable clip's class probabilities: segment probabilities averaged per clip, then over models.

    Features are extracted as the models were trained (their stored feature settings)
    and standardized with each model's own training statistics. A clip that cannot be
    read or is too short is listed in ``failures`` and the others are still predicted.
    """
    settings = models[0].features
    longest_segment = max(trained.info["segment_frames"] for trained in models)
    names, arrays, failures = [], [], []
    for done, (name, path) in enumerate(clips, start=1):
        try:
            features = clip_features(load_audio(path, sr=settings.sample_rate), settings=settings)
            if len(features) < longest_segment:
                raise DatasetError(f"{len(features)} frames, shorter than one segment of {longest_segment}")
        except (MCLNNError, RuntimeError, ValueError, OSError) as error:
            failures.append((name, str(error)))
        else:
            names.append(name)
            arrays.append(features)
        if progress is not None:
            progress(done, len(clips))
    class_names = models[0].info["class_names"]
    probabilities = np.zeros((len(arrays), len(class_names)))
    if arrays:
        extracted = _ExtractedClips(arrays)
        for trained in models:
            info = trained.info
            standardized = StandardizedClips(extracted, np.arange(len(arrays)),
                                             mean_vector=np.asarray(info["mean_vector"], np.float32),
                                             std_vector=np.asarray(info["std_vector"], np.float32),
                                             segment_frames=info["segment_frames"])
            per_clip = clip_probabilities(trained.model, standardized, name=info["model"],
                                          segment_frames=info["segment_frames"], step=info["step"])
            probabilities += np.array([segments.mean(axis=0) for segments in per_clip]) / len(models)
    return Predictions(names, probabilities, class_names, failures)


def write_predictions(predictions: Predictions, path: str | Path, *, probabilities: bool = False) -> None:
    """Write ``fname,label`` rows, ``label`` the 3 most probable classes separated by spaces.

    Spaces inside class names become underscores, as in the DCASE 2018 Task 2 labels.
    With ``probabilities`` every class's probability follows in a column of its own.
    """
    labels = [name.replace(" ", "_") for name in predictions.class_names]
    with _csv_writer(path) as writer:
        writer.writerow(["fname", "label", *(labels if probabilities else [])])
        for name, row in zip(predictions.names, predictions.probabilities):
            top3 = " ".join(labels[c] for c in np.argsort(-row, kind="stable")[:3])
            writer.writerow([name, top3, *([f"{p:.6f}" for p in row] if probabilities else [])])


def write_class_map(class_names: Sequence[str], path: str | Path) -> None:
    """Write the ``index,name`` CSV of the model's classes (indices are the model's outputs)."""
    with _csv_writer(path) as writer:
        writer.writerow(["index", "name"])
        writer.writerows(enumerate(class_names))


@contextlib.contextmanager
def _csv_writer(path):
    """A CSV writer whose file appears, complete, only when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial, open(partial, "w", newline="") as handle:
        yield csv.writer(handle)


class _ExtractedClips:
    """Just the parts of a :class:`mclnn.Dataset` that :class:`StandardizedClips` reads, for new clips."""

    def __init__(self, arrays):
        self._arrays = arrays
        self.frame_counts = np.array([len(array) for array in arrays])
        self.labels = np.zeros(len(arrays), dtype=np.int64)
        self.filenames = np.arange(len(arrays)).astype(str)
        self.n_features = arrays[0].shape[1]

    def features(self, index):
        return self._arrays[index]
