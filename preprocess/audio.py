"""Reading audio and bringing clips to the configured length."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import soundfile
import soxr

from mclnn.errors import DatasetError

__all__ = ["check_signal", "fit_length", "load_audio"]

# A clip whose peak is below this (-120 dBFS) carries no usable signal.
SILENCE_PEAK = 1e-6


def load_audio(path: str | Path, *, sr: int) -> np.ndarray:
    """Decode any file libsndfile reads, mix it to mono and resample it.

    Equivalent to ``librosa.load(path, sr=sr, mono=True)``: the same soxr "HQ"
    resampler that librosa's default ``soxr_hq`` calls, without its wrapper.

    Parameters
    ----------
    path : str or Path
        Audio file (wav, flac, ogg, mp3, aiff, ...), any rate and channel count.
    sr : int > 0
        Target sampling rate.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]

    Raises
    ------
    DatasetError
        The file cannot be decoded, or holds no samples.
    """
    try:
        samples, native_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise DatasetError(f"cannot decode audio ({error}); the file is corrupt or not audio") from None
    if samples.shape[0] == 0:
        raise DatasetError("the file holds no audio samples")
    y = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    if native_sr != sr:
        y = soxr.resample(y, native_sr, sr, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32)


def fit_length(
    y: np.ndarray,
    *,
    n_samples: int | None,
    position: str = "start",
    trim_and_repeat: bool = False,
    trim_top_db: float = 60.0,
) -> np.ndarray:
    """Bring a clip to ``n_samples``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    n_samples : int or None
        Target length; None returns ``y`` unchanged.
    position : {'start', 'middle'}
        Which part of a longer clip is kept.
    trim_and_repeat : bool
        Trim leading and trailing silence (``librosa.effects.trim(top_db=trim_top_db)``)
        and repeat the clip end to end until it fills ``n_samples``; otherwise a shorter
        clip is zero-padded at the end.

    Returns
    -------
    np.ndarray [shape=(n_samples,)]
    """
    if n_samples is None:
        return y
    if trim_and_repeat:
        y, _ = librosa.effects.trim(y, top_db=trim_top_db)
        if len(y) < n_samples:
            y = np.tile(y, -(-n_samples // len(y)))
    if len(y) > n_samples:
        start = (len(y) - n_samples) // 2 if position == "middle" else 0
        return y[start:start + n_samples]
    return np.pad(y, (0, n_samples - len(y)))


def check_signal(y: np.ndarray, *, frame_length: int) -> None:
    """Raise DatasetError for a silent clip or one shorter than one analysis frame."""
    if len(y) < frame_length:
        raise DatasetError(
            f"clip has {len(y)} samples, shorter than one analysis frame of {frame_length} samples; "
            "remove it or use --skip-bad"
        )
    peak = float(np.max(np.abs(y)))
    if not np.isfinite(peak):
        raise DatasetError("clip holds NaN or infinite samples; the file is corrupt")
    if peak < SILENCE_PEAK:
        raise DatasetError(f"clip is silent (peak {peak:.1e}); remove it or use --skip-bad")
