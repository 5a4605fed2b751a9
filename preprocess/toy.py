"""The embedded ``toy`` dataset: deterministic synthetic sounds in five classes.

Dataset audio cannot ship with the package, so the default dataset is synthesized on
first use into the cache folder, in the folder-per-category layout, and from there goes
through the same pipeline as any real dataset.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import soundfile

__all__ = ["TOY_CLASSES", "cache_dir", "ensure_toy_audio", "synthesize_clip", "write_toy_dataset"]

TOY_CLASSES = ("am_noise", "chirp", "click_train", "noise_burst", "tone")
_TOY_VERSION = "1"
_COMPLETE_MARKER = ".mclnn-toy-complete"


def cache_dir() -> Path:
    """mclnn's cache folder: ``$MCLNN_CACHE``, else ``$XDG_CACHE_HOME/mclnn``, else ``~/.cache/mclnn``."""
    if os.environ.get("MCLNN_CACHE"):
        return Path(os.environ["MCLNN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mclnn"


def synthesize_clip(category: str, *, rng: np.random.Generator, sr: int = 22050, seconds: float = 2.0) -> np.ndarray:
    """One synthetic clip of a toy class, with a faint noise floor and peak 0.5.

    Parameters
    ----------
    category : str
        One of :data:`TOY_CLASSES`.
    rng : np.random.Generator
        Draws the clip's random parameters.
    sr : int
    seconds : float

    Returns
    -------
    np.ndarray [shape=(round(sr * seconds),), dtype=float32]
    """
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    if category == "tone":
        frequency = rng.uniform(300, 2500)
        y = sum(np.sin(2 * np.pi * k * frequency * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
    elif category == "chirp":
        low, high = sorted(rng.uniform(200, 6000, size=2))
        start, stop = (low, high) if rng.random() < 0.5 else (high, low)
        phase = 2 * np.pi * (start * t + (stop - start) * t**2 / (2 * seconds))
        y = np.sin(phase)
    elif category == "noise_burst":
        y = np.zeros(n)
        for _ in range(rng.integers(3, 7)):
            length = int(sr * rng.uniform(0.05, 0.2))
            begin = rng.integers(0, n - length)
            y[begin:begin + length] += rng.standard_normal(length) * np.hanning(length)
    elif category == "click_train":
        y = np.zeros(n)
        period = int(sr / rng.uniform(5, 30))
        click = np.exp(-np.arange(int(0.004 * sr)) / (0.0008 * sr)) * np.sin(2 * np.pi * 3000 * np.arange(int(0.004 * sr)) / sr)
        for begin in range(rng.integers(0, period), n - len(click), period):
            y[begin:begin + len(click)] += click
    elif category == "am_noise":
        modulation = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(2, 8) * t + rng.uniform(0, 2 * np.pi)))
        y = rng.standard_normal(n) * modulation
    else:
        raise ValueError(f"unknown toy class {category!r}; choose from {', '.join(TOY_CLASSES)}")
    y = 0.5 * y / np.max(np.abs(y)) + 0.003 * rng.standard_normal(n)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def write_toy_dataset(
    directory: str | Path, *, clips_per_class: int = 8, sr: int = 22050, seconds: float = 2.0, seed: int = 0
) -> Path:
    """Write the toy dataset as ``<directory>/<class>/<class>_NN.wav`` (16-bit PCM).

    Returns
    -------
    Path
        ``directory``.
    """
    directory = Path(directory)
    rng = np.random.default_rng(seed)
    for category in TOY_CLASSES:
        (directory / category).mkdir(parents=True, exist_ok=True)
        for number in range(clips_per_class):
            y = synthesize_clip(category, rng=rng, sr=sr, seconds=seconds)
            soundfile.write(directory / category / f"{category}_{number:02d}.wav", y, sr, subtype="PCM_16")
    return directory


def ensure_toy_audio(directory: str | Path | None = None) -> Path:
    """The toy dataset's folder, written first if absent (atomically: a folder rename).

    Parameters
    ----------
    directory : str or Path, optional
        Defaults to ``cache_dir() / "toy"``.
    """
    directory = Path(directory) if directory is not None else cache_dir() / "toy"
    marker = directory / _COMPLETE_MARKER
    if marker.is_file() and marker.read_text() == _TOY_VERSION:
        return directory
    partial = directory.with_name(f".{directory.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    write_toy_dataset(partial)
    (partial / _COMPLETE_MARKER).write_text(_TOY_VERSION)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(partial, directory)
    return directory
