"""Trained models run on new clips: loading them with their ``model_info.json``, and their class probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import keras
import numpy as np

from mclnn.config import FeatureSettings
from mclnn.errors import DatasetError, MCLNNError
from mclnn.preprocess.audio import load_audio
from mclnn.preprocess.features import clip_features
from mclnn.train.clips.segments import StandardizedClips
from mclnn.train.evaluate.scorer import Scorer
from mclnn.train.model.saved_models import load_saved_model
from mclnn.train.trial_files import ModelInfo, TrialPaths

__all__ = ["Predictions", "TrainedModel", "clip_feature_arrays", "feature_probabilities", "load_trained_models",
           "predict_clips"]


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
    remedy = "give a model file written by `mclnn cv-train`, or rerun it for this trial"
    models = [TrainedModel(file, load_saved_model(file, remedy=remedy),
                           ModelInfo.read(TrialPaths.of_folder(file.parent).info)) for file in files]
    for trained in models:
        classes = trained.model.output_shape[-1]
        if len(trained.info.class_names) != classes:
            raise DatasetError(f"{TrialPaths.of_folder(trained.path.parent).info}: {len(trained.info.class_names)} class "
                               f"names for a model of {classes} classes; rerun `mclnn cv-train` to rewrite it")
    first = models[0].info
    for other in models[1:]:
        if other.info.features != first.features or other.info.class_names != first.class_names:
            raise DatasetError(f"{other.path} was trained on other features or classes than {models[0].path}; "
                               "predict with one of them at a time")
    return models


def predict_clips(models: Sequence[TrainedModel], clips: Sequence[tuple[str, Path]],
                  progress: Callable[[int, int], None] | None = None) -> Predictions:
    """Every readable clip's class probabilities: segment probabilities averaged per clip, then over models.

    Features are extracted as the models were trained (their stored feature settings)
    and standardized with each model's own training statistics. A clip that cannot be
    read or is too short is listed in ``failures`` and the others are still predicted.
    """
    names, arrays, failures = clip_feature_arrays(
        clips, settings=models[0].info.features,
        segment_frames=max(trained.info.segment_frames for trained in models), progress=progress)
    return Predictions(names, feature_probabilities(models, arrays), models[0].info.class_names, failures)


def clip_feature_arrays(clips: Sequence[tuple[str, Path]], *, settings: FeatureSettings, segment_frames: int,
                        progress: Callable[[int, int], None] | None = None):
    """The features of the clips that can be read and hold a segment; ``(names, arrays, failures)``."""
    names, arrays, failures = [], [], []
    for done, (name, path) in enumerate(clips, start=1):
        try:
            if not path.is_file():
                raise DatasetError(f"no such file: {path}")
            features = clip_features(load_audio(path, sr=settings.sample_rate), settings=settings)
            if len(features) < segment_frames:
                raise DatasetError(f"{len(features)} frames, shorter than one segment of {segment_frames}")
        except (MCLNNError, RuntimeError, ValueError, OSError) as error:
            failures.append((name, str(error)))
        else:
            names.append(name)
            arrays.append(features)
        if progress is not None:
            progress(done, len(clips))
    return names, arrays, failures


def feature_probabilities(models: Sequence[TrainedModel], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Class probabilities of clips given as feature arrays: per model its segments' mean, then the models' mean.

    Returns
    -------
    np.ndarray [shape=(len(arrays), n_classes)]
    """
    probabilities = np.zeros((len(arrays), len(models[0].info.class_names)))
    if not arrays:
        return probabilities
    names = [f"clip {number}" for number in range(len(arrays))]
    scorers = {}  # one per kind: a weights folder's models are scored through one compiled copy
    for trained in models:
        info = trained.info
        _check_feature_count(trained, arrays[0].shape[1])
        scoring = info.scoring
        standardized = StandardizedClips.from_arrays(arrays, names=names, mean_vector=info.mean_vector,
                                                     std_vector=info.std_vector,
                                                     segment_frames=scoring.segment_frames, remedy=scoring.remedy)
        scorer = scorers.setdefault(info.model, Scorer(scoring))
        per_clip = scorer.segment_probabilities(trained.model, standardized)
        probabilities += np.array([segments.mean(axis=0) for segments in per_clip]) / len(models)
    return probabilities


def _check_feature_count(trained: TrainedModel, extracted: int) -> None:
    """Raise DatasetError unless the model's input and its statistics take ``extracted`` features per frame."""
    expected, statistics = trained.model.input_shape[-1], len(trained.info.mean_vector)
    if expected != extracted or statistics != extracted:
        raise DatasetError(f"{trained.path} takes {expected} features per frame and its statistics have {statistics}, "
                           f"but its model_info.json's feature settings give {extracted}; rerun `mclnn cv-train` to "
                           "rewrite model_info.json from the Dataset.hdf5 the model was trained on")
