"""``mclnn transform``: a dataset's audio (and augmented variants) -> one ordered Dataset.hdf5."""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import h5py
import joblib
import librosa
import numpy as np
from threadpoolctl import threadpool_limits

import mclnn
from mclnn.atomic import atomic_path, content_fingerprint, exclusive_lock, remove_leftovers
from mclnn.cluster import on_worker, task_backend
from mclnn.config import DatasetConfig, settings_hash, write_settings
from mclnn.errors import DatasetError, MCLNNError, ParameterError
from mclnn.preprocess.audio import FEW_OWN_SAMPLES, check_signal, load_audio, own_audio_fraction, soundfile
from mclnn.preprocess.augmentation import check_programs, deform, warm_numba_caches
from mclnn.dataset_file import FORMAT_VERSION, DatasetWriter, load_dataset
from mclnn.preprocess.discovery import (ClipSource, changed_sources, discover_clips, source_fingerprint,
                                       source_stats)
from mclnn.preprocess.features import clip_features
from mclnn.preprocess.toy import ensure_toy_audio

__all__ = ["TransformResult", "dataset_path", "resolve_source", "storage_ordering_path", "transform_dataset"]

logger = logging.getLogger(__name__)

DATASET_FILE = "Dataset.hdf5"


@dataclass(frozen=True)
class TransformResult:
    """What a transform run did.

    Attributes
    ----------
    path : Path
        The Dataset.hdf5.
    n_clips : int
        Clips stored (originals and variants).
    n_originals : int
        Original clips stored.
    skipped : tuple of (str, str)
        ``(file, reason)`` of every clip left out with ``skip_bad``.
    stretched : tuple of (str, float)
        ``(file, fraction)`` of every clip whose own audio fills less than
        :data:`~mclnn.preprocess.audio.FEW_OWN_SAMPLES` of its kept length (the rest is
        padding or repeats).
    up_to_date : bool
        True when nothing had to be done.
    seconds : float
        Wall time.
    """

    path: Path
    n_clips: int
    n_originals: int
    skipped: tuple[tuple[str, str], ...]
    stretched: tuple[tuple[str, float], ...]
    up_to_date: bool
    seconds: float


def dataset_path(out_dir: str | Path) -> Path:
    """Where a stage finds the Dataset.hdf5 under an output folder."""
    return Path(out_dir) / DATASET_FILE


def storage_ordering_path(out_dir: str | Path, dataset: str) -> Path:
    """The ``<dataset>_storage_ordering.txt`` file: one source path per stored clip."""
    return Path(out_dir) / f"{dataset}_storage_ordering.txt"


def resolve_source(config: DatasetConfig, source: str | Path | None = None) -> Path:
    """The audio folder: ``source`` if given, else datasets.yaml's ``source.path``,
    else the synthesized audio of a generated dataset.

    Raises
    ------
    ParameterError
        No source anywhere.
    """
    if source is not None:
        return Path(source).expanduser()
    if config.source.path:
        return Path(config.source.path).expanduser()
    if config.source.generator == "toy":
        return ensure_toy_audio()
    raise ParameterError(
        f"no audio folder for dataset {config.name!r}: pass --source DIR or set source.path in datasets.yaml"
    )


def transform_dataset(
    config: DatasetConfig,
    *,
    source_dir: str | Path,
    out_dir: str | Path,
    jobs: int | None = None,
    force: bool = False,
    skip_bad: bool = False,
    progress: Callable[[int, int], None] | None = None,
    client: Any = None,
) -> TransformResult:
    """Extract features of every clip (and its augmented variants) into Dataset.hdf5.

    A rerun whose settings and source files are unchanged does nothing. The output and
    the storage ordering file are written under temporary names and renamed when
    complete, under a lock that keeps concurrent runs on the same output apart.

    Parameters
    ----------
    config : DatasetConfig
    source_dir : str or Path
        The dataset's audio folder.
    out_dir : str or Path
        Output folder; receives Dataset.hdf5 and ``<dataset>_storage_ordering.txt``.
    jobs : int, optional
        Parallel workers (default: all cores). Threads for feature extraction, which
        releases the GIL; processes when augmenting, which is Python- and
        subprocess-heavy.
    force : bool
        Rebuild even when up to date.
    skip_bad : bool
        Record unreadable, silent or too-short clips, and CSV rows naming files outside
        the source folder (never read), in the output's metadata and go on, instead of
        failing on the first.
    progress : callable, optional
        Called as ``progress(done, total)`` with counts of original clips.
    client : distributed.Client, optional
        Run each clip's decoding, deformations and features as a task on this Dask
        cluster's workers (:func:`mclnn.cluster.connect`); this process writes the
        results in storage order as they arrive. The file is the same as a local run's.

    Returns
    -------
    TransformResult

    Raises
    ------
    DatasetError
        Missing or bad source files (naming the file), or a concurrent run.
    ParameterError
        Bad settings, or a program augmentation needs is missing.
    """
    started = time.perf_counter()
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    output = dataset_path(out_dir)
    remove_leftovers(output)  # of killed runs, even when nothing is rebuilt
    refused = [] if skip_bad else None
    clips = discover_clips(config.source, root=source_dir, refused=refused)
    extra_files = (source_dir / config.source.csv,) if config.source.layout == "csv" else ()
    sources = source_stats(clips, extra_files=extra_files)
    source_paths = [clip.path for clip in clips] + list(extra_files)
    recorded = {
        "config_hash": _config_hash(config),
        "source_fingerprint": source_fingerprint(clips, extra_files=extra_files),
    }
    if not force and output.exists():
        reason = _rebuild_reason(output, config, recorded, sources)
        if reason is not None and reason.startswith("source files changed") and _only_touched(output, sources,
                                                                                               source_paths):
            logger.info("%s: %s, but they hold the same bytes; its features are kept", output, reason)
            _record_sources(output, recorded, sources)
            reason = None
        if reason is None:
            write_settings(out_dir / "settings.yaml", config)  # a killed run may have left the previous entry
            return _result(output, up_to_date=True, started=started)
        logger.info("rebuilding %s: %s", output, reason)
    check_programs(config.augmentation)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_free_space(out_dir, n_clips=len(clips) * (1 + config.augmentation.n_variants), features=config.features)
    ordering = storage_ordering_path(out_dir, config.name)
    with exclusive_lock(output), exclusive_lock(ordering), atomic_path(output) as partial_output, \
            atomic_path(ordering) as partial_ordering:
        class_names = sorted({clip.category for clip in clips})
        skipped = _write_dataset(
            config, clips, class_names, partial_output, partial_ordering,
            jobs=jobs or os.cpu_count() or 1, skip_bad=skip_bad, refused=refused or [], progress=progress,
            recorded=recorded,
            sources=sources, source_hashes=[content_fingerprint(path) for path in source_paths],
            previous=output if output.exists() and not force else None, client=client,
        )
        if len(skipped) == len(clips) + len(refused or []):
            raise DatasetError(f"{source_dir}: every clip was skipped as bad; the first: {skipped[0][0]}: {skipped[0][1]}")
    write_settings(out_dir / "settings.yaml", config)
    return _result(output, up_to_date=False, started=started)


def _check_free_space(out_dir: Path, *, n_clips: int, features) -> None:
    """Raise DatasetError when ``out_dir``'s disk cannot hold the features of ``n_clips`` clips.

    A full disk under h5py has ended a transform with a segmentation fault: it is refused
    before anything is written. The estimate is an upper bound (every clip keeps
    ``n_frames`` float32 frames), plus 5% for HDF5's own structures.
    """
    needed = int(n_clips * features.n_frames * features.n_features * 4 * 1.05) + (1 << 20)
    free = shutil.disk_usage(out_dir).free
    if free < needed:
        raise DatasetError(f"{out_dir}: {free / 2**20:.0f} MiB free, but a Dataset.hdf5 of {n_clips} clips needs up to "
                           f"{needed / 2**20:.0f} MiB; free some space or give another --out")


def _write_dataset(config, clips, class_names, path, ordering_path, *, jobs, skip_bad, refused, progress, recorded,
                   sources, source_hashes, previous, client):
    features = config.features
    chunk_frames = features.n_frames
    writer = DatasetWriter(path, n_features=features.n_features, chunk_frames=chunk_frames)
    augmenting = bool(config.augmentation.deformers)
    # Feature extraction releases the GIL (libsndfile, soxr, FFT, BLAS), so threads share
    # the work without re-importing librosa per worker; each thread keeps BLAS to one core.
    backend = "loky" if augmenting else "threading"
    if augmenting:
        warm_numba_caches()
    label_of = {name: label for label, name in enumerate(class_names)}
    group_index, skipped, stretched, ordering = {}, list(refused), [], []
    kept = _KeptClips(previous, recorded["config_hash"], sources, source_hashes)
    try:
        tasks = (joblib.delayed(_extract_clip)(clip, config, clip_index=index, skip_bad=skip_bad)
                 for index, clip in enumerate(clips) if clip.relative_path not in kept)
        # On a cluster, results come back in storage order, at most a few per worker ahead of the writer.
        with threadpool_limits(1), task_backend(client, backend):
            results = joblib.Parallel(n_jobs=-1 if client is not None else jobs, return_as="generator")(tasks)
            for done, clip in enumerate(clips, start=1):
                result = kept.result(clip.relative_path) if clip.relative_path in kept else next(results)
                if isinstance(result, str):
                    logger.warning("skipped %s: %s", clip.relative_path, result)
                    skipped.append((clip.relative_path, result))
                else:
                    result, fraction = result
                    if fraction < FEW_OWN_SAMPLES:
                        logger.warning("%s has %.2f s of its own audio for the %g s kept; the rest is padding or "
                                       "repeats", clip.relative_path, fraction * features.clip_seconds,
                                       features.clip_seconds)
                        stretched.append((clip.relative_path, round(fraction, 4)))
                    group = group_index.setdefault(clip.group_key, len(ordering))
                    for variant, (clip_features, deformation) in enumerate(result):
                        writer.append(
                            clip_features, label=label_of[clip.category], category=clip.category,
                            filename=clip.relative_path, fold=clip.fold, group=group, variant=variant,
                            deformation=deformation,
                        )
                        ordering.append(clip.relative_path)
                if progress is not None:
                    progress(done, len(clips))
    except BaseException:
        writer.abort()
        raise
    finally:
        kept.close()
    writer.close({
        **recorded,
        "dataset": config.name,
        "class_names": json.dumps(class_names),
        "feature_settings": json.dumps(dataclasses.asdict(features)),
        "augmentation": json.dumps(dataclasses.asdict(config.augmentation)),
        "n_originals": len(clips) + len(refused) - len(skipped),
        "skipped": json.dumps([{"file": name, "reason": reason} for name, reason in skipped]),
        "stretched": json.dumps([{"file": name, "fraction": fraction} for name, fraction in stretched]),
        "versions": json.dumps(_versions(augmenting)),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }, source_files=sources, source_sha256=source_hashes)
    ordering_path.write_text("".join(f"{name}\n" for name in ordering))
    return skipped


class _KeptClips:
    """The clips of the previous Dataset.hdf5 that a rebuild can copy instead of extracting again.

    A clip is kept when the previous file was made with the same settings from the same
    list of source files (so every clip has the same index, and its variants the same
    seeds) and the clip's file holds the same bytes. ``in`` tells whether a clip is kept;
    :meth:`result` gives what extracting it would.
    """

    def __init__(self, previous, config_hash, sources, source_hashes):
        self._dataset, self._positions, self._fractions = None, {}, {}
        if previous is None:
            return
        recorded = _recorded_sources(previous)
        if recorded is None or recorded[0] != config_hash:
            return
        _, before, hashes = recorded
        names = [line.rsplit("\t", 2)[0] for line in sources]
        if [line.rsplit("\t", 2)[0] for line in before] != names:
            return
        unchanged = {name for name, old, new in zip(names, hashes, source_hashes) if old == new}
        self._dataset = load_dataset(previous)
        for position, name in enumerate(self._dataset.filenames):
            if name in unchanged:
                self._positions.setdefault(name, []).append(position)
        self._fractions = {item["file"]: item["fraction"] for item in self._dataset.attrs.get("stretched", [])}
        if self._positions:
            logger.info("%d of %d clips are unchanged and copied from %s", len(self._positions), len(names), previous)

    def close(self):
        """Close the previous file."""
        if self._dataset is not None:
            self._dataset.close()

    def __contains__(self, name):
        return name in self._positions

    def result(self, name):
        """The clip's variants' features and deformations, and its own-audio fraction (1 when it was not noted)."""
        variants = [(self._dataset.features(position), self._dataset.deformations[position])
                    for position in self._positions[name]]
        return variants, self._fractions.get(name, 1.0)


def _extract_clip(clip: ClipSource, config: DatasetConfig, *, clip_index: int, skip_bad: bool):
    """Features of one original clip and its variants and the fraction of the kept length its own audio fills,
    or the reason it was skipped."""
    features = config.features
    try:
        y = load_audio(clip.path, sr=features.sample_rate)
        check_signal(y, frame_length=features.frame_length)
        variants = [(y, "")]
        if config.augmentation.deformers:
            variants += list(deform(y, sr=features.sample_rate, settings=config.augmentation,
                                    seed=_clip_seed(config.augmentation.seed, clip_index)))
        fraction = own_audio_fraction(y, n_samples=features.clip_samples, trim_and_repeat=features.trim_and_repeat,
                                      trim_top_db=features.trim_top_db)
        return [(clip_features(audio, settings=features), deformation) for audio, deformation in variants], fraction
    except ParameterError:
        raise
    except (MCLNNError, RuntimeError, ValueError, OSError) as error:
        if skip_bad:
            return str(error)
        raise DatasetError(f"{clip.path}: {error}{on_worker()}") from None


def _clip_seed(augmentation_seed, clip_index):
    return int(np.random.SeedSequence([augmentation_seed, clip_index]).generate_state(1)[0])


def _config_hash(config):
    source = dataclasses.replace(config.source, path=None)
    return settings_hash(config.features, config.augmentation, source, FORMAT_VERSION, librosa.__version__)


def _recorded_sources(path):
    """``(config_hash, source_files lines, source_sha256)`` recorded in a Dataset.hdf5; None in files without hashes."""
    with h5py.File(path, "r") as existing:
        if "source_sha256" not in existing:
            return None
        return (existing.attrs.get("config_hash"), [line.decode() for line in existing["source_files"][()]],
                [value.decode() for value in existing["source_sha256"][()]])


def _only_touched(path, sources, source_paths):
    """Whether every source file whose size or time changed holds the bytes recorded in ``path``.

    ``sources`` are the files' :func:`~mclnn.preprocess.discovery.source_stats` lines now,
    ``source_paths`` the files themselves, in the same order.
    """
    recorded = _recorded_sources(path)
    if recorded is None:
        return False
    _, before, hashes = recorded
    if [line.rsplit("\t", 2)[0] for line in before] != [line.rsplit("\t", 2)[0] for line in sources]:
        return False  # files were added, removed or reordered
    return all(content_fingerprint(file) == recorded_hash for old, new, file, recorded_hash
               in zip(before, sources, source_paths, hashes) if old != new)


def _record_sources(path, recorded, sources):
    """Rewrite ``path`` (atomically) with the sources' new sizes and times; its data and content digest stay."""
    with exclusive_lock(path), atomic_path(path) as partial:
        shutil.copyfile(path, partial)
        with h5py.File(partial, "r+") as copy:
            del copy["source_files"]
            copy.create_dataset("source_files", data=sources, dtype=h5py.string_dtype())
            copy.attrs["source_fingerprint"] = recorded["source_fingerprint"]


def _rebuild_reason(path, config, recorded, sources):
    """Why the Dataset.hdf5 at ``path`` must be rebuilt, in words; None when it is up to date."""
    try:
        with h5py.File(path, "r") as existing:
            attrs = {key: existing.attrs.get(key) for key in ("config_hash", "source_fingerprint", "feature_settings",
                                                              "augmentation")}
            before = [line.decode() for line in existing["source_files"][()]] if "source_files" in existing else None
    except OSError:
        return "it cannot be read"
    if attrs["config_hash"] != recorded["config_hash"]:
        features = json.loads(attrs["feature_settings"] or "{}")
        changed = [f"features.{name} {features.get(name)!r} -> {value!r}"
                   for name, value in dataclasses.asdict(config.features).items() if features.get(name) != value]
        if changed:
            return "its settings changed: " + ", ".join(changed)
        if json.loads(attrs["augmentation"] or "{}") != json.loads(json.dumps(dataclasses.asdict(config.augmentation))):
            return "the augmentation settings changed"
        return "the source settings, the file format or librosa's version changed"
    if attrs["source_fingerprint"] != recorded["source_fingerprint"]:
        changed = changed_sources(before, sources) if before is not None else None
        return f"source files changed: {changed}" if changed else "source files changed"
    return None


def _result(path, *, up_to_date, started):
    with load_dataset(path) as dataset:
        skipped = tuple((item["file"], item["reason"]) for item in dataset.attrs["skipped"])
        stretched = tuple((item["file"], item["fraction"]) for item in dataset.attrs.get("stretched", []))
        if up_to_date and skipped:
            logger.warning("%s leaves out %d bad clip(s), e.g. %s", path, len(skipped), skipped[0][0])
        return TransformResult(
            path=path, n_clips=len(dataset), n_originals=int(dataset.attrs["n_originals"]), skipped=skipped,
            stretched=stretched,
            up_to_date=up_to_date, seconds=time.perf_counter() - started,
        )


def _versions(augmenting):
    versions = {"mclnn": mclnn.__version__, "librosa": librosa.__version__, "numpy": np.__version__,
                "h5py": h5py.__version__, "soundfile": soundfile.__version__}
    if augmenting:
        import muda

        versions["muda"] = muda.__version__
    return versions
