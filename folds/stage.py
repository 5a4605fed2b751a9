"""``mclnn folds``: the folds stage, from Dataset.hdf5 to the trials' index and statistics files.

The files and their names are described in :mod:`mclnn.folds.fold_files`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np

import mclnn
from mclnn.atomic import atomic_write_text, exclusive_lock
from mclnn.config import DatasetConfig, FoldSettings, settings_hash, write_settings
from mclnn.dataset_file import Dataset, load_dataset
from mclnn.errors import DatasetError
from mclnn.folds.fold_files import (
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    dataset_identity,
    dataset_tag,
    dataset_unchanged,
    fold_file_readable,
    folds_manifest_path,
    read_manifest,
    write_folds_table,
    write_trial_indices,
    write_trial_statistics,
)
from mclnn.folds.splits import Trial, assign_folds, check_trials, make_trials
from mclnn.folds.standardization import clip_moments, training_statistics

__all__ = ["FoldsResult", "format_fold_tables", "make_folds"]

logger = logging.getLogger(__name__)

_SUBSETS = ("Train", "Validation", "Test")


@dataclass(frozen=True)
class FoldsResult:
    """What ``make_folds`` produced (or found up to date).

    Attributes
    ----------
    manifest : dict
        The manifest's content: trials with their folds, files and counts.
    manifest_path : Path
    up_to_date : bool
    seconds : float
    """

    manifest: dict
    manifest_path: Path
    up_to_date: bool
    seconds: float


def make_folds(
    config: DatasetConfig,
    *,
    dataset_file: str | Path,
    out_dir: str | Path,
    k: int,
    seed: int | None = None,
    ignore_official_folds: bool = False,
    reference_layout: dict[str, Any] | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> FoldsResult:
    """Write the k trials' index triples and training standardization statistics.

    Parameters
    ----------
    config : DatasetConfig
    dataset_file : str or Path
        The Dataset.hdf5 to split.
    out_dir : str or Path
        Receives the index and standardization folders and the manifest.
    k : int
        Folds and trials.
    seed : int, optional
        Shuffle seed for datasets without official folds (None: storage order).
    ignore_official_folds : bool
        Assign folds as for a dataset without official ones.
    reference_layout : dict, optional
        ``load_dataset`` keyword arguments (``class_counts``, ``storage_ordering``,
        ``fold_pattern``) for a file in the original MCLNN layout; recorded in the manifest.
    force : bool
        Rewrite even when up to date.
    progress : callable, optional
        ``progress(done, total)`` over clips while computing statistics.

    Returns
    -------
    FoldsResult

    Raises
    ------
    ParameterError
        ``k`` contradicts the official folds.
    DatasetError
        Unsound trials (naming the clips), or an unreadable Dataset.hdf5.
    """
    started = time.perf_counter()
    out_dir, dataset_file = Path(out_dir), Path(dataset_file)
    reference_layout = dict(reference_layout or {})
    manifest_path = folds_manifest_path(out_dir, config.name, k)
    with exclusive_lock(manifest_path):
        # Which file stands there before it is read: any replacement from here on is caught below.
        stamp = _stamp(dataset_file) if dataset_file.is_file() else None
        with load_dataset(dataset_file, **reference_layout) as dataset:  # no file: its one-line error
            inputs = {"settings_hash": settings_hash(k, seed, ignore_official_folds, reference_layout,
                                                     MANIFEST_VERSION)}
            existing = read_manifest(manifest_path)
            if not force and existing is not None and _is_current(existing, inputs, dataset_file, out_dir):
                _settle(out_dir, existing)
                return FoldsResult(existing, manifest_path, up_to_date=True, seconds=time.perf_counter() - started)
            identity = dataset_identity(dataset_file)
            uses_official = not ignore_official_folds and bool(np.all(dataset.folds > 0))
            folds = assign_folds(dataset.labels, dataset.groups, k=k, seed=seed, class_names=dataset.class_names,
                                 official_folds=dataset.folds if uses_official else None)
            trials = make_trials(folds, dataset.variants, k=k)
            check_trials(trials, labels=dataset.labels, groups=dataset.groups, variants=dataset.variants,
                         filenames=dataset.filenames)
            moments = clip_moments(dataset, progress=progress)
            manifest = {
                "format": MANIFEST_FORMAT,
                "format_version": MANIFEST_VERSION,
                "dataset": config.name,
                "tag": dataset_tag(config.name),
                "dataset_file": os.path.relpath(dataset_file.resolve(), out_dir.resolve()),
                "reference_layout": reference_layout,
                "k": k,
                "seed": seed,
                "official_folds": uses_official,
                "class_names": dataset.class_names,
                **inputs,
                **identity,
                "fold_class_counts": _fold_class_counts(folds, dataset, k),
                "trials": [],
                "versions": {"mclnn": mclnn.__version__, "numpy": np.__version__, "h5py": h5py.__version__},
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            }
            _write_fold_set(trials, dataset, moments, folds, manifest, out_dir)
            write_settings(out_dir / manifest["settings_file"],
                           dataclasses.replace(config, folds=FoldSettings(k=k, seed=seed)))
        if _stamp(dataset_file) != stamp:
            raise DatasetError(f"{dataset_file} was replaced while the folds were made from it (by a transform?); "
                               f"run `mclnn folds {config.name} --k {k} --out {out_dir}` again once it is done")
        # The one switch: until this rename the previous manifest, and the set it names, stay in force.
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
        _settle(out_dir, manifest)
    return FoldsResult(manifest, manifest_path, up_to_date=False, seconds=time.perf_counter() - started)


def format_fold_tables(manifest: dict) -> str:
    """Two plain-text tables: clips per class and fold, and each trial's folds and sizes."""
    k, names = manifest["k"], manifest["class_names"]
    width = max(len(name) for name in names + ["class"])
    lines = [f"{'class':<{width}} " + " ".join(f"fold{fold:>3}" for fold in range(1, k + 1))]
    for name in names:
        counts = manifest["fold_class_counts"][name]
        lines.append(f"{name:<{width}} " + " ".join(f"{count:>7}" for count in counts))
    lines.append("")
    lines.append("trial  test fold  validation fold  train  validation  test")
    for trial in manifest["trials"]:
        sizes = trial["clips"]
        lines.append(f"{trial['trial']:>5}  {trial['test_fold']:>9}  {trial['validation_fold']:>15}  "
                     f"{sizes['train']:>5}  {sizes['validation']:>10}  {sizes['test']:>4}")
    return "\n".join(lines)


def _write_fold_set(trials: list[Trial], dataset: Dataset, moments, folds, manifest, out_dir):
    """Write a complete new fold set into a folder of its own, and record its files in ``manifest``.

    ``<TAG>_folds_<k>_sets/<set>/`` holds ``<TAG>_folds_<k>_index/`` and
    ``<TAG>_folds_<k>_standardization/`` in the original naming; no file of the set in force
    is touched.
    """
    tag, k = dataset_tag(manifest["dataset"]), manifest["k"]
    seed_tag = "NoSeed" if manifest["seed"] is None else str(manifest["seed"])
    (out_dir / _sets_folder(tag, k)).mkdir(parents=True, exist_ok=True)
    created = Path(tempfile.mkdtemp(prefix=f"{time.strftime('%Y%m%dT%H%M%S')}-", dir=out_dir / _sets_folder(tag, k)))
    created.chmod(0o755)
    fold_set = f"{_sets_folder(tag, k)}/{created.name}"
    index_folder = f"{fold_set}/{tag}_folds_{k}_index"
    statistics_folder = f"{fold_set}/{tag}_folds_{k}_standardization"
    (out_dir / index_folder).mkdir()
    (out_dir / statistics_folder).mkdir()
    manifest["folds_table"] = f"{fold_set}/{tag}_folds_{k}.csv"
    manifest["settings_file"] = f"{fold_set}/{tag}_folds_{k}_settings.yaml"
    write_folds_table(out_dir / manifest["folds_table"], trials, dataset, folds)
    for trial in trials:
        stem = f"Fold_{trial.number:02d}of{k:02d}_{tag}_seed{seed_tag}"
        files = {}
        for subset, indices in zip(_SUBSETS, (trial.train, trial.validation, trial.test)):
            files[subset.lower()] = f"{index_folder}/{stem}_{subset}.hdf5"
            write_trial_indices(out_dir / files[subset.lower()], indices, dataset.labels[indices])
        files["standardization"] = f"{statistics_folder}/{stem}_TrainParameters.hdf5"
        write_trial_statistics(out_dir / files["standardization"], *training_statistics(moments, trial.train))
        manifest["trials"].append({
            "trial": trial.number, "test_fold": trial.test_fold, "validation_fold": trial.validation_fold,
            "files": files,
            "clips": {"train": len(trial.train), "validation": len(trial.validation), "test": len(trial.test)},
            "augmented_train_clips": int(np.sum(dataset.variants[trial.train] > 0)),
        })


def _sets_folder(tag: str, k: int) -> str:
    return f"{tag}_folds_{k}_sets"


def _settle(out_dir: Path, manifest: dict) -> None:
    """After the manifest names its set: point the top-level folder names at it, remove every other set.

    ``<TAG>_folds_<k>_index`` and ``..._standardization`` become relative links into the set
    in force, for tools that read the original layout; sets of killed or earlier runs, and
    the staging folders of earlier mclnn versions, go. Runs under the manifest's lock.
    """
    tag, k = manifest["tag"], manifest["k"]
    in_force = Path(manifest["trials"][0]["files"]["test"]).parts[:2]  # (<TAG>_folds_<k>_sets, <set>)
    for name in (f"{tag}_folds_{k}_index", f"{tag}_folds_{k}_standardization", f"{tag}_folds_{k}.csv",
                 f"{tag}_folds_{k}_settings.yaml"):
        link, temporary = out_dir / name, out_dir / f".{name}.{os.getpid()}.link"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(Path(*in_force, name))
        if link.is_dir() and not link.is_symlink():  # a folder of the layout before fold sets
            shutil.rmtree(link)
        os.replace(temporary, link)
    for fold_set in (out_dir / in_force[0]).iterdir():
        if fold_set.name != in_force[1]:
            shutil.rmtree(fold_set, ignore_errors=True)
    for leftover in [*out_dir.glob(f".{tag}_folds_{k}_*.link"), *out_dir.glob(f".{tag}_folds_{k}.csv.*.link")]:
        leftover.unlink(missing_ok=True)
    for leftover in [*out_dir.glob(f".{tag}_folds_{k}.*.partial"), *out_dir.glob(f".{tag}_folds_{k}_*.retired")]:
        shutil.rmtree(leftover, ignore_errors=True)


def _stamp(path: Path) -> tuple[int, int, int]:
    """Which file stands at ``path`` now: its inode, size and modification time."""
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _fold_class_counts(folds, dataset, k):
    originals = dataset.variants == 0
    return {name: [int(np.sum(originals & (dataset.labels == label) & (folds == fold))) for fold in range(1, k + 1)]
            for label, name in enumerate(dataset.class_names)}


def _is_current(manifest, inputs, dataset_file, out_dir):
    """Whether the folds on disk are up to date; when not, say why."""
    if any(manifest.get(key) != value for key, value in inputs.items()):
        logger.warning("remaking the folds: the fold settings (k, seed or official folds) changed")
        return False
    if not dataset_unchanged(manifest, dataset_file):
        logger.warning("remaking the folds: %s changed since they were made", dataset_file)
        return False
    broken = [out_dir / name for trial in manifest["trials"] for name in trial["files"].values()
              if not fold_file_readable(out_dir / name)]
    if broken:
        logger.warning("remaking the folds: %s is missing or unreadable", broken[0])
    return not broken
