"""Shared fixtures: tiny synthetic audio, small configs, and the shared ESC-10 folder."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from mclnn.config import load_config
from mclnn.preprocess.toy import write_toy_dataset

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ESC10_DIR = SHARED_DATA / "esc10"
SR = 22050

# 0.5 s toy clips give 22 frames at hop 512; keep 16 of them from frame 2.
TINY_FEATURES = ("features.clip_seconds=0.5", "features.n_frames=16", "features.first_frame=2")

requires_esc10 = pytest.mark.skipif(not ESC10_DIR.is_dir(), reason=f"{ESC10_DIR} is absent")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MCLNN_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def toy_source(tmp_path):
    """Folder-per-class audio: 5 classes x 3 clips of 0.5 s."""
    return write_toy_dataset(tmp_path / "toy-audio", clips_per_class=3, seconds=0.5, seed=7)


@pytest.fixture
def tiny_config():
    """The toy dataset's settings, shrunk to 0.5 s clips."""
    return load_config("toy", overrides=TINY_FEATURES)


def write_tone(path, *, sr=SR, seconds=0.5, channels=1, frequency=440.0, subtype=None):
    """Write a sine tone (plus faint noise) and return its path."""
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * np.random.default_rng(0).standard_normal(len(t))
    data = np.stack([y * (1 - 0.3 * c) for c in range(channels)], axis=1) if channels > 1 else y
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, data, sr, subtype=subtype)
    return path
