"""The folds stage's files: index triples and standardization files in the original MCLNN naming.

For each trial ``i`` of ``k``, under the output folder::

    <TAG>_folds_<k>_sets/<set>/<TAG>_folds_<k>_index/Fold_<ii>of<kk>_<TAG>_seed<seed|NoSeed>_{Train,Validation,Test}.hdf5
        int32 datasets ``index`` (positions in Dataset.hdf5) and ``label``
    <TAG>_folds_<k>_sets/<set>/<TAG>_folds_<k>_standardization/Fold_<ii>of<kk>_<TAG>_seed<...>_TrainParameters.hdf5
        float32 ``mean_vector`` and ``std_vector`` of the trial's training frames
    <TAG>_folds_<k>_manifest.json
        what produced them, the input fingerprint, and each trial's folds and files: the
        manifest names the one set in force, and replacing it switches sets at once
    <TAG>_folds_<k>_sets/<set>/<TAG>_folds_<k>.csv
        one row per clip: index, file, category, fold, group, variant, and its role in each
        trial (train, validation or test; empty where a trial does not use it)
    <TAG>_folds_<k>_index, <TAG>_folds_<k>_standardization, <TAG>_folds_<k>.csv
        links to the set in force's folders and table, for tools that read the original layout

``<TAG>`` is the dataset name in capitals (``ESC10``). The statistics file is named as
the original trainer derives it from the training index file (``Train`` ->
``TrainParameters``). The folds stage (:mod:`mclnn.folds.stage`) writes them; cv-train
reads them through this module.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from mclnn.atomic import content_fingerprint, file_fingerprint
from mclnn.dataset_file import Dataset, data_digest
from mclnn.errors import DatasetError, ParameterError

__all__ = ["MANIFEST_FORMAT", "MANIFEST_VERSION", "dataset_tag", "fold_file_readable", "folds_manifest_path",
           "read_folds_manifest", "read_manifest", "read_trial_indices", "read_trial_statistics", "write_folds_table",
           "write_trial_indices", "write_trial_statistics"]

MANIFEST_FORMAT = "mclnn-folds"
MANIFEST_VERSION = 3  # 3: each fold set in a folder of its own, switched by the manifest


def dataset_tag(name: str) -> str:
    """The dataset's name as the original file names spell it (``esc10`` -> ``ESC10``)."""
    return name.upper().replace("-", "_")


def folds_manifest_path(out_dir: str | Path, dataset: str, k: int) -> Path:
    """Where ``mclnn folds`` writes its manifest for ``k`` folds."""
    return Path(out_dir) / f"{dataset_tag(dataset)}_folds_{k}_manifest.json"


def read_folds_manifest(out_dir: str | Path, dataset: str, k: int) -> dict:
    """The manifest ``mclnn folds`` wrote for ``dataset`` and ``k`` under ``out_dir``.

    Raises
    ------
    DatasetError
        No manifest, or one written by another version of the folds format.
    """
    path = folds_manifest_path(out_dir, dataset, k)
    manifest = read_manifest(path)
    if manifest is None:
        raise DatasetError(f"{path}: no folds for {dataset} with k={k}; run `mclnn folds {dataset} --k {k} "
                           f"--out {out_dir}` first")
    if manifest.get("format_version") != MANIFEST_VERSION:
        raise DatasetError(f"{path}: written by another mclnn version; rerun `mclnn folds {dataset} --k {k} "
                           f"--out {out_dir}`")
    return manifest


def dataset_identity(path: str | Path) -> dict:
    """What a folds manifest records of its Dataset.hdf5: a size-and-time fingerprint and the digest of the
    data it holds (:func:`mclnn.dataset_file.data_digest`); for a file in the original layout, which has none,
    the SHA-256 of its bytes."""
    digest = _data_digest(path)  # the file's bytes are hashed only where there is no data digest to read
    return {"dataset_fingerprint": file_fingerprint(path),
            "dataset_sha256": content_fingerprint(path) if digest is None else None, "dataset_digest": digest}


def dataset_unchanged(manifest: dict, path: str | Path) -> bool:
    """Whether ``path`` holds the data the folds were made from: the same file, a copy, or a rebuild of equal data.

    The size and modification time settle the common case at once; then the data's digest
    (a transform rerun that wrote the same features, or a touched source file, keeps it);
    then the file's bytes (a copy made without its times, of a file that has no digest).
    """
    if file_fingerprint(path) == manifest.get("dataset_fingerprint"):
        return True
    if manifest.get("dataset_digest") is not None:
        return _data_digest(path) == manifest["dataset_digest"]
    return manifest.get("dataset_sha256") is not None and content_fingerprint(path) == manifest["dataset_sha256"]


def _data_digest(path: str | Path) -> str | None:
    """The digest of the data in a Dataset.hdf5 of mclnn's layout; None for other files (the original layout)."""
    try:
        return data_digest(path)
    except (OSError, KeyError):
        return None


def check_trial(manifest: dict, trial: int | None) -> None:
    """Raise :class:`ParameterError` when ``trial`` is given and is not one of the manifest's trials."""
    numbers = [entry["trial"] for entry in manifest["trials"]]
    if trial is not None and trial not in numbers:
        raise ParameterError(f"--trial {trial} is out of range: the folds have trials {numbers[0]}..{numbers[-1]}")


def read_manifest(path: str | Path) -> dict | None:
    """The folds manifest at ``path``, or None when it is missing, unreadable or not one."""
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("format") == MANIFEST_FORMAT else None


def write_trial_indices(path: str | Path, indices: np.ndarray, labels: np.ndarray) -> None:
    """Write one index file: int32 ``index`` (clip positions) and ``label``."""
    with h5py.File(path, "w") as handle:
        handle.create_dataset("index", data=indices.astype(np.int32))
        handle.create_dataset("label", data=labels.astype(np.int32))


def write_trial_statistics(path: str | Path, mean_vector: np.ndarray, std_vector: np.ndarray) -> None:
    """Write one standardization file: ``mean_vector`` and ``std_vector``."""
    with h5py.File(path, "w") as handle:
        handle.create_dataset("mean_vector", data=mean_vector)
        handle.create_dataset("std_vector", data=std_vector)


def write_folds_table(path: str | Path, trials: Sequence, dataset: Dataset, folds: np.ndarray) -> None:
    """Write the per-clip table of a fold set: each clip's fold, group, and role in every trial.

    Parameters
    ----------
    path : str or Path
    trials : sequence of Trial
    dataset : Dataset
    folds : np.ndarray [shape=(n_clips,)]
        The fold each clip was assigned (1..k).
    """
    roles = np.full((len(dataset), len(trials)), "", dtype=object)
    for column, trial in enumerate(trials):
        for role in ("train", "validation", "test"):
            roles[getattr(trial, role), column] = role
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "file", "category", "fold", "group", "variant",
                         *(f"trial_{trial.number}" for trial in trials)])
        for index in range(len(dataset)):
            writer.writerow([index, dataset.filenames[index], dataset.categories[index], int(folds[index]),
                             int(dataset.groups[index]), int(dataset.variants[index]), *roles[index]])


def read_trial_indices(path: str | Path, dataset: Dataset) -> np.ndarray:
    """The clip positions of one index file, checked against the dataset's labels.

    Raises
    ------
    DatasetError
        A missing file, or indices and labels that do not match ``dataset``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: fold index file missing; rerun `mclnn folds` with --out {path.parent.parent}")
    indices, labels = _read_arrays(path, ("index", "label"))
    if len(indices) and (indices.max() >= len(dataset) or not np.array_equal(dataset.labels[indices], labels)):
        raise DatasetError(f"{path}: its indices and labels do not match {dataset.path}; rerun `mclnn folds` "
                           f"with --out {path.parent.parent}")
    return indices


def read_trial_statistics(path: str | Path, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(mean_vector, std_vector)`` of one standardization file.

    Raises
    ------
    DatasetError
        A missing file, or statistics of another feature count than ``n_features``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: standardization file missing; rerun `mclnn folds` with "
                           f"--out {path.parent.parent}")
    mean_vector, std_vector = _read_arrays(path, ("mean_vector", "std_vector"))
    if mean_vector.shape != (n_features,) or std_vector.shape != (n_features,):
        raise DatasetError(f"{path}: statistics of {mean_vector.shape[0]} features, the dataset has {n_features}; "
                           f"rerun `mclnn folds` with --out {path.parent.parent}")
    if not (np.all(np.isfinite(mean_vector)) and np.all(np.isfinite(std_vector)) and np.all(std_vector > 0)):
        raise DatasetError(f"{path}: its statistics hold non-finite values or standard deviations that are not "
                           f"positive; rerun `mclnn folds --force` with --out {path.parent.parent}")
    return mean_vector, std_vector


def fold_file_readable(path: str | Path) -> bool:
    """Whether an index or statistics file opens and holds its two arrays (a truncated copy does not)."""
    names = ("mean_vector", "std_vector") if str(path).endswith("Parameters.hdf5") else ("index", "label")
    try:
        _read_arrays(Path(path), names)
    except DatasetError:
        return False
    return True


def _read_arrays(path: Path, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of a fold file; DatasetError, naming the file, when it does not open or lacks them."""
    try:
        with h5py.File(path, "r") as handle:
            return handle[names[0]][()], handle[names[1]][()]
    except (OSError, KeyError) as error:
        raise DatasetError(f"{path}: unreadable ({str(error).splitlines()[0]}); rerun `mclnn folds --force` with "
                           f"--out {path.parent.parent}") from None
