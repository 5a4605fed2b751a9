"""Shared fixtures: tiny synthetic audio, small configs, and the shared ESC-10 folder."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mclnn.config import load_config
from mclnn.folds import make_folds
from mclnn.preprocess.toy import write_toy_dataset
from mclnn.preprocess.transform import dataset_path, transform_dataset
from mclnn.train.evaluate.metrics import clip_scores
from mclnn.train.trial_files import TrialReport

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ESC10_DIR = SHARED_DATA / "esc10"
SR = 22050

# 0.5 s toy clips give 22 frames at hop 512; keep 16 of them from frame 2.
TINY_FEATURES = ("features.clip_seconds=0.5", "features.n_frames=16", "features.first_frame=2")

requires_esc10 = pytest.mark.skipif(not ESC10_DIR.is_dir(), reason=f"{ESC10_DIR} is absent")

# The Keras backend the suite runs under (`make test-jax` runs the suite under JAX, without TensorFlow).
KERAS_BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
requires_tensorflow = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                         reason="needs TensorFlow itself, which is not installed")


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


@pytest.fixture(scope="session")
def toy_folds(tmp_path_factory):
    """The toy dataset (40 clips, 5 classes), transformed and split into 4 folds; shared read-only, tests train in copies."""
    root = tmp_path_factory.mktemp("toy")
    config = load_config("toy")
    transform_dataset(config, source_dir=write_toy_dataset(root / "audio"), out_dir=root / "out")
    make_folds(config, dataset_file=dataset_path(root / "out"), out_dir=root / "out", k=4, seed=0)
    return root / "out"


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


def hand_made_trial(number, clips, *, n_classes=2, best_epoch=1):
    """A TrialReport of clips given as ``(index, label, mean probabilities)``, one segment each."""
    summaries = [{"index": index, "filename": f"clip{index}.wav", "label": label,
                  "segment_votes": np.bincount([int(np.argmax(probabilities))], minlength=n_classes).tolist(),
                  "mean_probabilities": list(probabilities)} for index, label, probabilities in clips]
    return TrialReport(
        trial=number, test_fold=number, validation_fold=number + 1, settings_hash="s", model_hash="m",
        settings={"model": {}, "training": {"seed": 0}}, model="mclnn", hparams={}, training_mode="clip",
        epochs_run=best_epoch, resumed_after=[], best_epoch=best_epoch, kept="best", monitor="val_accuracy",
        best_monitored=None, train_seconds=0.0, evaluated="", evaluate_seconds=0.0, ran_on="",
        scores=clip_scores([label for _, label, _ in clips], summaries, n_classes=n_classes), clips=summaries)
