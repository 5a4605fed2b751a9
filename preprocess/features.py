"""Log-mel features of the original MCLNN experiments."""

from __future__ import annotations

import functools

import librosa
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mclnn.errors import DatasetError

from mclnn.config import FeatureSettings

__all__ = ["first_order_delta", "frame_range", "log_mel_features"]


def log_mel_features(y: np.ndarray, *, settings: FeatureSettings) -> np.ndarray:
    """Log-mel frames of one clip, optionally followed by their delta.

    The mel power spectrogram is converted with ``power_to_db(ref=np.max)`` over the
    whole clip; the delta is computed on the whole clip too, and both are then cut to
    the frames given by :func:`frame_range`. Equal to the plain librosa computation
    (``melspectrogram`` + ``power_to_db`` + ``feature.delta``), with the mel basis
    built once per setting and the delta from :func:`first_order_delta`.

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
    mel = _mel_basis(settings.sample_rate, settings.n_fft, settings.n_mels) @ power
    log_mel = librosa.power_to_db(mel, ref=np.max, top_db=settings.top_db)
    start, stop = frame_range(log_mel.shape[1], settings=settings)
    blocks = [log_mel[:, start:stop]]
    if settings.delta:
        blocks.append(first_order_delta(log_mel, width=settings.delta_width)[:, start:stop])
    return np.ascontiguousarray(np.concatenate(blocks).T, dtype=np.float32)


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
def _mel_basis(sr, n_fft, n_mels):
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    basis.flags.writeable = False
    return basis
