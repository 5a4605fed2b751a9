"""What a user with a partial install sees: one line naming the extra (or the command) that completes it."""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from mclnn.config import load_config
from mclnn.errors import ParameterError
from mclnn.preprocess.augmentation import check_programs


def _mclnn(*args, env, tmp_path):
    return subprocess.run([sys.executable, "-m", "mclnn", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "MCLNN_CACHE": str(tmp_path / "cache"), **env})


def test_the_soundfile_that_pysoundfile_leaves_is_named_with_its_fix(tmp_path):
    fake = tmp_path / "broken"
    fake.mkdir()
    (fake / "soundfile.py").write_text('raise OSError("sndfile library not found")\n')
    result = _mclnn("transform", "toy", "--out", tmp_path / "out", env={"PYTHONPATH": str(fake)}, tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: soundfile cannot load libsndfile (sndfile library not found): PySoundFile, which muda installs, "
        "replaced it with an old copy; fix it with: pip install --force-reinstall --no-deps 'soundfile>=0.12.1'")


def test_a_missing_keras_backend_names_the_extra(toy_folds, tmp_path):
    fake = tmp_path / "nojax"
    (fake / "jax").mkdir(parents=True)
    (fake / "jax" / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'jax\'", name="jax")\n')
    out = shutil.copytree(toy_folds, tmp_path / "toy", symlinks=True)
    result = _mclnn("cv-train", "toy", "--out", out, "--trial", 1, "--epochs", 1,
                    env={"PYTHONPATH": str(fake), "KERAS_BACKEND": "jax"}, tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: jax is not installed, and this command needs it: pip install 'mclnn[jax]' (or unset KERAS_BACKEND "
        "to use TensorFlow)")


def test_augmenting_without_muda_names_the_extra(monkeypatch):
    config = load_config("esc10-augmented")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "muda" else real(name, *args))
    with pytest.raises(ParameterError, match=r"^augmentation needs muda: pip install 'mclnn\[augment\]', or remove "):
        check_programs(config.augmentation)
    check_programs(load_config("esc10").augmentation)  # no deformers: muda is not needed
