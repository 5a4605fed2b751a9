"""Models saved as ``.keras`` files: loaded with mclnn's layers registered, or refused in one line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

import mclnn.train.model.kinds  # noqa: F401  (registers the custom layers and losses for loading)
from mclnn.errors import DatasetError

__all__ = ["load_saved_model", "saved_model_intact"]


def load_saved_model(path: str | Path, *, remedy: str) -> keras.Model:
    """The model saved at ``path``.

    Keras' safe mode stays on: a model with a Lambda layer (arbitrary code) is refused.

    Raises
    ------
    DatasetError
        The file is missing, empty, truncated, not a Keras model, or refused; one line
        naming it and ``remedy``.
    """
    path = Path(path)
    if not saved_model_intact(path):
        raise DatasetError(f"{path}: missing, empty or truncated (not a whole .keras file); {remedy}")
    try:
        return keras.models.load_model(path)
    except Exception as error:  # Keras raises many kinds; every one means this file cannot be used
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatasetError(f"{path}: not a model mclnn can load ({reason[:200]}); {remedy}") from None


def saved_model_intact(path: str | Path) -> bool:
    """Whether ``path`` is a whole ``.keras`` file: a zip archive whose members all pass their checksums."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None and "config.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
