"""``mclnn.Classifier``: a trained classifier for audio in memory or in files, in a few lines of Python."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soxr

from mclnn.config import FeatureSettings
from mclnn.errors import DatasetError, ParameterError
from mclnn.preprocess.features import clip_features
from mclnn.train.model.saved_models import load_saved_model
from mclnn.train.predict.models import (Predictions, clip_feature_arrays, feature_probabilities,
                                        load_trained_models)
from mclnn.train.trial_files import TrialPaths

__all__ = ["Classifier"]


class Classifier:
    """Class probabilities of clips, with the features computed exactly as ``transform`` computes them.

    Build one with :meth:`load`.

    Attributes
    ----------
    class_names : list of str
        In the order of the probabilities.
    features : FeatureSettings
        How a clip's features are computed.
    """

    def __init__(self, score: Callable[[Sequence[np.ndarray]], np.ndarray], *, class_names: Sequence[str],
                 features: FeatureSettings, segment_frames: int):
        self._score = score
        self.class_names = list(class_names)
        self.features = features
        self._segment_frames = segment_frames

    @classmethod
    def load(cls, path: str | Path) -> "Classifier":
        """A classifier from ``mclnn export``'s ``.keras`` file (with its ``.json``), or from what cv-train wrote:
        a weights folder (its trials and seeds averaged), a trial folder or a ``model.keras``.

        Raises
        ------
        DatasetError
            No model there, or one that cannot be loaded.
        """
        path = Path(path)
        described = path.with_suffix(".json")
        if path.suffix == ".keras" and described.is_file() and not TrialPaths.of_folder(path.parent).info.is_file():
            model = load_saved_model(path, remedy="export it again with `mclnn export`")
            info = json.loads(described.read_text())
            return cls(lambda arrays: np.concatenate([model.predict(array[None], verbose=0) for array in arrays]),
                       class_names=info["class_names"], features=FeatureSettings(**info["features"]),
                       segment_frames=info["segment_frames"])
        models = load_trained_models(path)
        return cls(lambda arrays: feature_probabilities(models, arrays), class_names=models[0].info.class_names,
                   features=models[0].info.features,
                   segment_frames=max(trained.info.segment_frames for trained in models))

    def predict(self, y: np.ndarray, sr: int) -> np.ndarray:
        """One clip's class probabilities.

        Parameters
        ----------
        y : np.ndarray [shape=(n,) or (channels, n)]
            The waveform, as ``librosa.load`` gives it; several channels are mixed.
        sr : int > 0
            Its sampling rate; it is resampled to the classifier's as ``transform`` does.

        Returns
        -------
        np.ndarray [shape=(n_classes,)]

        Raises
        ------
        ParameterError
            ``y`` is not one or two dimensional, or ``sr`` is not positive.
        DatasetError
            A silent clip, or one shorter than a segment.
        """
        y = np.asarray(y, dtype=np.float32)
        if y.ndim not in (1, 2) or sr <= 0:
            raise ParameterError(f"predict takes y of shape (n,) or (channels, n) and sr > 0; got {y.shape}, {sr}")
        y = y.mean(axis=0) if y.ndim == 2 else y
        if sr != self.features.sample_rate:
            y = soxr.resample(y, sr, self.features.sample_rate, quality="HQ").astype(np.float32)
        features = clip_features(np.ascontiguousarray(y), settings=self.features)
        if len(features) < self._segment_frames:
            raise DatasetError(f"the clip gives {len(features)} frames, shorter than one segment of "
                               f"{self._segment_frames}")
        return self._score([features])[0]

    def predict_files(self, paths: Sequence[str | Path]) -> Predictions:
        """The class probabilities of audio files; files that cannot be read are in ``failures``, the rest predicted."""
        clips = [(str(path), Path(path)) for path in paths]
        names, arrays, failures = clip_feature_arrays(clips, settings=self.features,
                                                      segment_frames=self._segment_frames)
        return Predictions(names, self._score(arrays) if arrays else np.zeros((0, len(self.class_names))),
                           self.class_names, failures)

