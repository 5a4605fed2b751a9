"""The feature presets: how a clip's frames are laid out and which function computes them.

Light to import (no librosa): the settings read a preset's frame sizes and feature
counts, and :func:`mclnn.preprocess.features.clip_features` calls its ``extract``.
:data:`mclnn.variants.FEATURE_PRESETS` maps ``features.preset`` to these objects.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from mclnn.config import FeatureSettings

__all__ = ["DCASE2018", "DCASE2018_LOG_MEL", "FeaturePreset", "MCLNN_LOG_MEL"]

# The `logmel-dcase2018` preset (the DCASE 2018 Task 2 baseline): STFT magnitude with a
# periodic Hann window, FFT length the next power of two, mel bands between mel_fmin and
# mel_fmax, log(mel + log_offset); examples of example_seconds every example_hop_seconds.
DCASE2018 = {"window_seconds": 0.025, "hop_seconds": 0.010, "n_mels": 64, "mel_fmin": 125.0, "mel_fmax": 7500.0,
             "log_offset": 0.001, "example_seconds": 0.25, "example_hop_seconds": 0.125}


class FeaturePreset:
    """One way of computing a clip's features: its frame geometry and its extractor.

    Attributes
    ----------
    extractor : str
        The function of :mod:`mclnn.preprocess.features` that computes the frames.
    takes_delta : bool
        Whether ``features.delta`` may append the delta.
    """

    extractor = ""
    takes_delta = False

    def n_features(self, settings: FeatureSettings) -> int:
        """Features per frame."""
        raise NotImplementedError

    def frame_length(self, settings: FeatureSettings) -> int:
        """Samples in one analysis window (the shortest clip that gives a frame)."""
        raise NotImplementedError

    def frame_hop(self, settings: FeatureSettings) -> int:
        """Samples between consecutive frames."""
        raise NotImplementedError

    def frames_in(self, samples: int, settings: FeatureSettings) -> int:
        """Frames of a clip of ``samples`` samples."""
        raise NotImplementedError

    def extract(self, y: np.ndarray, *, settings: FeatureSettings) -> np.ndarray:
        """The frames of one length-fixed clip, ``[frames, n_features]`` float32."""
        features = importlib.import_module("mclnn.preprocess.features")
        return getattr(features, self.extractor)(y, settings=settings)


class _MCLNNLogMel(FeaturePreset):
    """The original MCLNN features: the mel power spectrogram in dB, optionally with its delta and PCEN."""

    extractor = "log_mel_features"
    takes_delta = True

    def n_features(self, settings):
        return settings.n_mels * settings.feature_blocks

    def frame_length(self, settings):
        return settings.n_fft

    def frame_hop(self, settings):
        return settings.hop_length

    def frames_in(self, samples, settings):
        return 1 + samples // settings.hop_length  # librosa's frames are centred


class _DCASE2018LogMel(FeaturePreset):
    """The DCASE 2018 Task 2 baseline's log-mel, with its own fixed analysis (:data:`DCASE2018`)."""

    extractor = "dcase2018_log_mel"

    def n_features(self, settings):
        return DCASE2018["n_mels"]

    def frame_length(self, settings):
        return int(round(DCASE2018["window_seconds"] * settings.sample_rate))

    def frame_hop(self, settings):
        return int(round(DCASE2018["hop_seconds"] * settings.sample_rate))

    def frames_in(self, samples, settings):
        return 1 + (samples - self.frame_length(settings)) // self.frame_hop(settings)  # whole windows only


MCLNN_LOG_MEL = _MCLNNLogMel()
DCASE2018_LOG_MEL = _DCASE2018LogMel()
