"""Clip features: the original MCLNN log-mel features and the DCASE 2018 baseline's log-mel."""

from __future__ import annotations

import functools

import librosa
import numpy as np
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

from mclnn.config import FeatureSettings
from mclnn.preprocess.feature_presets import DCASE2018
from mclnn.errors import DatasetError
from mclnn.preprocess.audio import check_signal, fit_length

__all__ = ["ABSOLUTE_FLOOR", "PCEN_SCALE", "clip_features", "dcase2018_log_mel", "first_order_delta", "frame_range",
           "log_mel_features"]

#: The smallest mel power ``db_reference='absolute'`` tells apart: -100 dB.
ABSOLUTE_FLOOR = 1e-10

#: ``features.pcen`` scales the mel power by this before ``librosa.pcen``, as librosa advises
#: for audio decoded to floats in [-1, 1] (PCEN's bias and gain expect 32-bit integer levels).
PCEN_SCALE = 2.0**31


def clip_features(y: np.ndarray, *, settings: FeatureSettings) -> np.ndarray:
    """The features of one clip as a dataset stores them, by ``settings.preset``.

    The clip is first brought to ``settings.clip_samples`` (:func:`fit_length`) and checked
    (:func:`check_signal`); with ``settings.band_centering`` each log-mel band's mean over the
    kept frames is then subtracted.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono audio at ``settings.sample_rate``.
    settings : FeatureSettings

    Returns
    -------
    np.ndarray [shape=(frames, settings.n_features), dtype=float32]

    Raises
    ------
    DatasetError
        A silent or corrupt clip, or one shorter than an analysis window.
    """
    check_signal(y, frame_length=settings.frame_length)
    fitted = fit_length(y, n_samples=settings.clip_samples, position=settings.clip_position,
                        trim_and_repeat=settings.trim_and_repeat, trim_top_db=settings.trim_top_db)
    if settings.clip_samples is not None:
        check_signal(fitted, frame_length=settings.frame_length,
                     part=f"the {settings.clip_seconds:g} s kept from the {settings.clip_position} of the clip")
    features = settings.feature_preset.extract(fitted, settings=settings)
    if settings.band_centering:
        bands = settings.n_features // settings.feature_blocks  # the log-mel is the first block
        features[:, :bands] -= features[:, :bands].mean(axis=0)
    return features


def dcase2018_log_mel(y: np.ndarray, *, settings: FeatureSettings) -> np.ndarray:
    """The DCASE 2018 Task 2 baseline's log-mel frames of one clip.

    Frames of ``settings.frame_length`` samples (25 ms) every ``settings.frame_hop``
    samples (10 ms), not centred (only whole frames), times a periodic Hann window;
    the magnitude of their FFT at the next power of two; 64 mel bands from 125 to 7500
    Hz (librosa's unnormalized HTK-scale filters); ``log(mel + 0.001)``. Then cut to
    :func:`frame_range`.

    Returns
    -------
    np.ndarray [shape=(frames, 64), dtype=float32]
    """
    window_length, hop = settings.frame_length, settings.frame_hop
    n_fft = 1 << (window_length - 1).bit_length()
    frames = librosa.util.frame(y, frame_length=window_length, hop_length=hop, axis=0)
    window = librosa.filters.get_window("hann", window_length, fftbins=True).astype(np.float32)
    magnitude = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1))
    basis = _mel_basis(settings.sample_rate, n_fft, DCASE2018["n_mels"], fmin=DCASE2018["mel_fmin"],
                       fmax=DCASE2018["mel_fmax"], htk=True, norm=None)
    log_mel = np.log(magnitude @ basis.T + DCASE2018["log_offset"])
    start, stop = frame_range(len(log_mel), settings=settings)
    return np.ascontiguousarray(log_mel[start:stop], dtype=np.float32)


def log_mel_features(y: np.ndarray, *, settings: FeatureSettings) -> np.ndarray:
    """Log-mel frames of one clip, optionally followed by their delta and their PCEN.

    The mel power spectrogram (bands from ``fmin`` to ``fmax``) is converted with
    ``power_to_db(ref=np.max)`` over the whole clip (or, with ``db_reference='absolute'``,
    ``power_to_db(ref=1, amin=1e-10)``); the delta and, with ``settings.pcen``, ``librosa.pcen``
    of the mel power (scaled by :data:`PCEN_SCALE`, with the ``pcen_*`` settings) are computed
    on the whole clip too, and all are then cut to the frames given by :func:`frame_range`.
    Equal to the plain librosa computation (``melspectrogram`` + ``power_to_db`` +
    ``feature.delta``), with the mel basis built once per setting and the delta from
    :func:`first_order_delta`.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono audio at ``settings.sample_rate``, at least ``n_fft`` samples long.
    settings : FeatureSettings

    Returns
    -------
    np.ndarray [shape=(n_frames, n_features), dtype=float32]
    """
    spectrum = librosa.stft(y, n_fft=settings.n_fft, hop_length=settings.hop_length)
    power = spectrum.real**2 + spectrum.imag**2
    mel = _mel_basis(settings.sample_rate, settings.n_fft, settings.n_mels, fmin=settings.fmin,
                     fmax=settings.fmax) @ power
    if settings.db_reference == "clip_max":
        log_mel = librosa.power_to_db(mel, ref=np.max, top_db=settings.top_db)
    else:
        log_mel = librosa.power_to_db(mel, ref=1.0, amin=ABSOLUTE_FLOOR, top_db=None)
    start, stop = frame_range(log_mel.shape[1], settings=settings)
    blocks = [log_mel[:, start:stop]]
    if settings.delta:
        blocks.append(first_order_delta(log_mel, width=settings.delta_width)[:, start:stop])
    if settings.pcen:
        blocks.append(_pcen(mel * PCEN_SCALE, settings=settings)[:, start:stop])
    return np.ascontiguousarray(np.concatenate(blocks).T, dtype=np.float32)


def _pcen(mel_power, *, settings):
    """``librosa.pcen`` of a (scaled) mel power with the ``pcen_*`` settings.

    Settled, each band's smoother starts at the band's mean power over the first time
    constant (at least one frame; not the first frame alone, which the centred STFT pads).
    """
    settled_start = None
    if settings.pcen_settled:
        frames = settings.pcen_time_constant * settings.sample_rate / settings.hop_length
        smoothing = (np.sqrt(1 + 4 * frames**2) - 1) / (2 * frames**2)  # librosa's own coefficient for this constant
        opening = mel_power[:, :max(1, round(frames))].mean(axis=1, keepdims=True)
        settled_start = scipy.signal.lfilter_zi([smoothing], [1, smoothing - 1]) * opening
    return librosa.pcen(mel_power, sr=settings.sample_rate, hop_length=settings.hop_length,
                        time_constant=settings.pcen_time_constant, gain=settings.pcen_gain, bias=settings.pcen_bias,
                        power=settings.pcen_power, zi=settled_start)


def first_order_delta(data: np.ndarray, *, width: int = 9) -> np.ndarray:
    """First-order delta along the last axis, equal to ``librosa.feature.delta(data, width=width)``.

    librosa fits a degree-1 Savitzky-Golay filter, whose derivative is the least-squares
    slope ``sum_k k * x[t + k] / sum_k k**2`` over ``k = -width//2 .. width//2``; in its
    ``interp`` edge mode the first and last ``width//2`` frames take the slope of the
    first and last full window. Computed here directly, since SciPy's edge fitting runs
    Python code per call that would hold the GIL in threaded extraction.

    Parameters
    ----------
    data : np.ndarray [shape=(..., t)], t >= width
    width : odd int >= 3

    Returns
    -------
    np.ndarray [shape=(..., t)]
    """
    if data.shape[-1] < width:
        raise DatasetError(f"clip has {data.shape[-1]} frames, fewer than the delta width {width}")
    half = width // 2
    offsets = np.arange(-half, half + 1)
    slopes = sliding_window_view(data, width, axis=-1) @ (offsets / np.sum(offsets**2))
    return np.pad(slopes, [(0, 0)] * (data.ndim - 1) + [(half, half)], mode="edge")


def frame_range(total_frames: int, *, settings: FeatureSettings) -> tuple[int, int]:
    """The ``[start, stop)`` frames kept from a clip of ``total_frames`` frames.

    From ``first_frame`` when the clip is long enough; otherwise the middle
    ``n_frames`` frames (the original work's rule); a shorter clip keeps all it has.
    """
    if settings.first_frame + settings.n_frames <= total_frames:
        return settings.first_frame, settings.first_frame + settings.n_frames
    if settings.n_frames <= total_frames:
        start = (total_frames - settings.n_frames) // 2
        return start, start + settings.n_frames
    return 0, total_frames


@functools.lru_cache(maxsize=8)
def _mel_basis(sr, n_fft, n_mels, **options):
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, **options)
    basis.flags.writeable = False
    return basis
