"""Reading audio and bringing clips to the configured length."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import soxr

from mclnn.errors import DatasetError, MCLNNError

# The one import of soundfile, checked: muda's dependency PySoundFile replaces soundfile.py
# with a copy (0.9) that cannot find libsndfile. Other modules import it from here.
_SOUNDFILE_FIX = "pip install --force-reinstall --no-deps 'soundfile>=0.12.1'"
try:
    import soundfile
except OSError as error:
    raise MCLNNError(f"soundfile cannot load libsndfile ({error}): PySoundFile, which muda installs, replaced it "
                     f"with an old copy; fix it with: {_SOUNDFILE_FIX}") from None
if tuple(int(part) for part in soundfile.__version__.split(".")[:2]) < (0, 12):
    raise MCLNNError(f"soundfile {soundfile.__version__} is PySoundFile's old copy (muda installs it); mclnn needs "
                     f"0.12 or later: {_SOUNDFILE_FIX}")

__all__ = ["FEW_OWN_SAMPLES", "check_signal", "fit_length", "load_audio", "own_audio_fraction", "soundfile"]

# A clip whose peak is below this (-120 dBFS) carries no usable signal.
SILENCE_PEAK = 1e-6
# A clip whose own audio fills less than this fraction of its kept length is mostly padding or repeats.
FEW_OWN_SAMPLES = 0.1


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
        y = _own_audio(y, trim_and_repeat=True, trim_top_db=trim_top_db)
        if len(y) < n_samples:
            y = np.tile(y, -(-n_samples // len(y)))
    if len(y) > n_samples:
        start = (len(y) - n_samples) // 2 if position == "middle" else 0
        return y[start:start + n_samples]
    return np.pad(y, (0, n_samples - len(y)))


def own_audio_fraction(y: np.ndarray, *, n_samples: int | None, trim_and_repeat: bool = False,
                       trim_top_db: float = 60.0) -> float:
    """How much of the kept ``n_samples`` the clip's own audio fills (at most 1), as :func:`fit_length` keeps it.

    The rest is zero padding or, with ``trim_and_repeat``, repeats of the trimmed clip.
    """
    if n_samples is None:
        return 1.0
    return min(1.0, len(_own_audio(y, trim_and_repeat=trim_and_repeat, trim_top_db=trim_top_db)) / n_samples)


def _own_audio(y, *, trim_and_repeat, trim_top_db):
    return librosa.effects.trim(y, top_db=trim_top_db)[0] if trim_and_repeat else y


def check_signal(y: np.ndarray, *, frame_length: int, part: str = "clip") -> None:
    """Raise DatasetError for a silent clip or one shorter than one analysis frame.

    ``part`` names what ``y`` is in the message, e.g. the part of a clip the features keep.
    """
    if len(y) < frame_length:
        raise DatasetError(
            f"{part} has {len(y)} samples, shorter than one analysis frame of {frame_length} samples; "
            "remove it or use --skip-bad"
        )
    peak = float(np.max(np.abs(y)))
    if not np.isfinite(peak):
        raise DatasetError(f"{part} holds NaN or infinite samples; the file is corrupt")
    if peak < SILENCE_PEAK:
        raise DatasetError(f"{part} is silent (peak {peak:.1e}); remove it or use --skip-bad")
