"""``mclnn predict``: run trained models on new clips; Kaggle DCASE 2018 style predictions."""

from __future__ import annotations

import contextlib
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import joblib
import keras
import numpy as np

from mclnn.atomic import atomic_path
from mclnn.cluster import task_backend
from mclnn.errors import DatasetError, MCLNNError, ParameterError
from mclnn.preprocess.audio import load_audio
from mclnn.preprocess.features import clip_features
from mclnn.train.model_kinds import saved_model_kind
from mclnn.train.scorer import Scorer
from mclnn.train.segments import StandardizedClips
from mclnn.train.trial_files import ModelInfo, TrialPaths
from mclnn.train.worker_tasks import predict_chunk

__all__ = ["AUDIO_SUFFIXES", "Predictions", "TrainedModel", "list_clips", "load_trained_models", "predict_clips",
           "predict_on_workers", "write_class_map", "write_predictions"]

CLIPS_PER_TASK = 64  # clips per task on a cluster: each task loads the models once

AUDIO_SUFFIXES = (".wav", ".ogg", ".flac", ".mp3", ".aif", ".aiff", ".au")


@dataclass(frozen=True)
class TrainedModel:
    """A trial's best model and what running it needs (its ``model_info.json``)."""

    path: Path
    model: keras.Model
    info: ModelInfo


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
    The models of a weights folder are averaged (an ensemble of the trials, and of the
    seeds of a ``--seeds`` run: its ``seed_<s>/trial_NN`` folders).

    Raises
    ------
    DatasetError
        No model there, a model without its ``model_info.json``, or models trained on
        different features or classes.
    """
    import mclnn.train.model  # noqa: F401  (registers the custom layers for loading)

    path = Path(path)
    if path.is_file():
        files = [path]
    elif (trial_model := TrialPaths.of_folder(path).model).is_file():
        files = [trial_model]
    else:
        folders = [*path.glob("trial_*"), *path.glob("seed_*/trial_*")]
        files = sorted(model for folder in folders if (model := TrialPaths.of_folder(folder).model).is_file())
    if not files:
        raise DatasetError(f"{path}: no model.keras here; give a model file, a trial folder or a weights folder "
                           "written by `mclnn cv-train`")
    models = [TrainedModel(file, keras.models.load_model(file), ModelInfo.read(TrialPaths.of_folder(file.parent).info))
              for file in files]
    first = models[0].info
    for other in models[1:]:
        if other.info.features != first.features or other.info.class_names != first.class_names:
            raise DatasetError(f"{other.path} was trained on other features or classes than {models[0].path}; "
                               "predict with one of them at a time")
    return models


def list_clips(inputs: str | Path, *, audio_dir: str | Path | None = None) -> list[tuple[str, Path]]:
    """The clips to predict, as ``(name written to the CSV, path)``.

    ``inputs`` is a folder (every audio file under it, sorted, named by its path relative
    to the folder) or a CSV file whose ``fname`` (or ``filename``) column names the clips,
    relative to ``audio_dir`` (default: the CSV's folder).

    Raises
    ------
    ParameterError
        A CSV that is not UTF-8 text, has no rows or no ``fname`` column, or a folder
        without audio files.
    """
    inputs = Path(inputs)
    if inputs.is_dir():
        paths = sorted(p for p in inputs.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        if not paths:
            raise ParameterError(f"{inputs}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
        return [(path.relative_to(inputs).as_posix(), path) for path in paths]
    if inputs.suffix.lower() != ".csv":
        raise ParameterError(f"{inputs}: give a folder of clips or a CSV file (.csv) of file names")
    try:
        with open(inputs, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except UnicodeDecodeError:
        raise ParameterError(f"{inputs}: not a text CSV file (not UTF-8); give a CSV with an fname column") from None
    if not rows:
        raise ParameterError(f"{inputs}: no rows; give a CSV with a header line and one file name per row")
    column = next((name for name in ("fname", "filename") if name in rows[0]), None)
    if column is None:
        raise ParameterError(f"{inputs}: no fname column (its columns: {', '.join(map(str, rows[0]))}); "
                             "name the column of file names fname")
    folder = Path(audio_dir) if audio_dir is not None else inputs.parent
    return [(row[column], folder / row[column]) for row in rows]


def predict_clips(models: Sequence[TrainedModel], clips: Sequence[tuple[str, Path]],
                  progress: Callable[[int, int], None] | None = None) -> Predictions:
    """Every readable clip's class probabilities: segment probabilities averaged per clip, then over models.

    Features are extracted as the models were trained (their stored feature settings)
    and standardized with each model's own training statistics. A clip that cannot be
    read or is too short is listed in ``failures`` and the others are still predicted.
    """
    settings = models[0].info.features
    longest_segment = max(trained.info.segment_frames for trained in models)
    names, arrays, failures = [], [], []
    for done, (name, path) in enumerate(clips, start=1):
        try:
            if not path.is_file():
                raise DatasetError(f"no such file: {path}")
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
    class_names = models[0].info.class_names
    probabilities = np.zeros((len(arrays), len(class_names)))
    if arrays:
        scorers = {}  # one per kind: a weights folder's models are scored through one compiled copy
        for trained in models:
            info = trained.info
            _check_feature_count(trained, arrays[0].shape[1])
            standardized = StandardizedClips.from_arrays(arrays, names=names, mean_vector=info.mean_vector,
                                                         std_vector=info.std_vector,
                                                         segment_frames=info.segment_frames)
            scorer = scorers.setdefault(info.model, Scorer(saved_model_kind(info)))
            per_clip = scorer.segment_probabilities(trained.model, standardized)
            probabilities += np.array([segments.mean(axis=0) for segments in per_clip]) / len(models)
    return Predictions(names, probabilities, class_names, failures)


def predict_on_workers(model_path: str | Path, clips: Sequence[tuple[str, Path]], *, client: Any,
                       progress: Callable[[int, int], None] | None = None) -> Predictions:
    """:func:`predict_clips` on a Dask cluster's workers, in tasks of up to 64 clips; results in input order.

    Each task loads the models at ``model_path`` itself (workers see the same paths), and
    names its worker in the reasons of the clips it could not predict.
    """
    chunks = [list(clips[start:start + CLIPS_PER_TASK]) for start in range(0, len(clips), CLIPS_PER_TASK)]
    parts = []
    with task_backend(client, "loky"):
        for part in joblib.Parallel(n_jobs=-1, return_as="generator")(
                joblib.delayed(predict_chunk)(model_path, chunk) for chunk in chunks):
            parts.append(part)
            if progress is not None:
                progress(min(len(parts) * CLIPS_PER_TASK, len(clips)), len(clips))
    return Predictions(names=[name for part in parts for name in part.names],
                       probabilities=np.concatenate([part.probabilities for part in parts]),
                       class_names=parts[0].class_names,
                       failures=[failure for part in parts for failure in part.failures])


def _check_feature_count(trained: TrainedModel, extracted: int) -> None:
    """Raise DatasetError unless the model's input and its statistics take ``extracted`` features per frame."""
    expected, statistics = trained.model.input_shape[-1], len(trained.info.mean_vector)
    if expected != extracted or statistics != extracted:
        raise DatasetError(f"{trained.path} takes {expected} features per frame and its statistics have {statistics}, "
                           f"but its model_info.json's feature settings give {extracted}; rerun `mclnn cv-train` to "
                           "rewrite model_info.json from the Dataset.hdf5 the model was trained on")


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

