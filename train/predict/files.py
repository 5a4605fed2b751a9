"""The files of ``mclnn predict``: the clips it reads, and the predictions CSV (Kaggle DCASE 2018 style) it writes."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from mclnn.atomic import atomic_path
from mclnn.errors import ParameterError
from mclnn.preprocess.discovery import path_inside
from mclnn.train.predict.models import Predictions

__all__ = ["AUDIO_SUFFIXES", "list_clips", "write_class_map", "write_predictions"]

AUDIO_SUFFIXES = (".wav", ".ogg", ".flac", ".mp3", ".aif", ".aiff", ".au")


def list_clips(inputs: str | Path, *, audio_dir: str | Path | None = None,
               refused: list[tuple[str, str]] | None = None) -> list[tuple[str, Path]]:
    """The clips to predict, as ``(name written to the CSV, path)``.

    ``inputs`` is a folder (every audio file under it, sorted, named by its path relative
    to the folder) or a CSV file whose ``fname`` (or ``filename``) column names the clips,
    relative to ``audio_dir`` (default: the CSV's folder). When ``refused`` is given, a row
    naming a file outside that folder is appended to it as ``(name, reason)`` and left
    out, instead of raising.

    Raises
    ------
    ParameterError
        A CSV that is not UTF-8 text, has no rows or no ``fname`` column, or a folder
        without audio files.
    DatasetError
        A row naming a file outside ``audio_dir`` (``..``, an absolute path, a link out),
        unless ``refused`` collects them.
    """
    inputs = Path(inputs)
    if inputs.is_dir():
        paths = sorted(p for p in inputs.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        if not paths:
            raise ParameterError(f"{inputs}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
        return [(path.relative_to(inputs).as_posix(), path) for path in paths]
    if inputs.suffix.lower() != ".csv":
        raise ParameterError(f"{inputs}: give a folder of clips or a CSV file (.csv) of file names")
    try:
        with open(inputs, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except UnicodeDecodeError:
        raise ParameterError(f"{inputs}: not a text CSV file (not UTF-8); give a CSV with an fname column") from None
    if not rows:
        raise ParameterError(f"{inputs}: no rows; give a CSV with a header line and one file name per row")
    column = next((name for name in ("fname", "filename") if name in rows[0]), None)
    if column is None:
        raise ParameterError(f"{inputs}: no fname column (its columns: {', '.join(map(str, rows[0]))}); "
                             "name the column of file names fname")
    folder = Path(audio_dir) if audio_dir is not None else inputs.parent
    listed = [(row[column], path_inside(folder, row[column], listed_at=f"row {number} of {inputs}", refused=refused))
              for number, row in enumerate(rows, start=2)]
    return [(name, path) for name, path in listed if path is not None]


def write_predictions(predictions: Predictions, path: str | Path, *, probabilities: bool = False) -> None:
    """Write ``fname,label`` rows, ``label`` the 3 most probable classes separated by spaces.

    Spaces inside class names become underscores, as in the DCASE 2018 Task 2 labels.
    With ``probabilities`` every class's probability follows in a column of its own.
    """
    labels = [name.replace(" ", "_") for name in predictions.class_names]
    with _csv_writer(path) as writer:
        writer.writerow(["fname", "label", *(labels if probabilities else [])])
        for name, row in zip(predictions.names, predictions.probabilities):
            top3 = " ".join(labels[c] for c in np.argsort(-row, kind="stable")[:3])
            writer.writerow([name, top3, *([f"{p:.6f}" for p in row] if probabilities else [])])


def write_class_map(class_names: Sequence[str], path: str | Path) -> None:
    """Write the ``index,name`` CSV of the model's classes (indices are the model's outputs)."""
    with _csv_writer(path) as writer:
        writer.writerow(["index", "name"])
        writer.writerows(enumerate(class_names))


@contextlib.contextmanager
def _csv_writer(path):
    """A CSV writer whose file appears, complete, only when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial, open(partial, "w", newline="") as handle:
        yield csv.writer(handle)
