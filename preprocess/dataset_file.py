"""Dataset.hdf5: every clip's features in one file, with per-clip metadata.

Layout (format ``mclnn-dataset``, version 1)::

    /features            float32 [total_frames, n_features], one HDF5 chunk per clip
    /offsets             int64 [n_clips + 1]: clip i is features[offsets[i]:offsets[i + 1]]
    /clips/label         int32    class index into the ``class_names`` attribute
    /clips/category      str      category name
    /clips/filename      str      source file, relative to the source folder
    /clips/fold          int32    official fold, -1 when the dataset has none
    /clips/group         int32    index of the first clip of its group (an original
                                  and its augmented variants share one group)
    /clips/variant       int32    0 for an original, 1.. for its augmented variants
    /clips/deformation   str      the deformation applied ('' for originals)

Root attributes record the dataset name, class names, feature and augmentation
settings (JSON), the config hash, the source fingerprint, library versions and any
skipped files. Every augmented variant is stored right after its original.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from mclnn.errors import DatasetError

__all__ = ["Dataset", "DatasetWriter", "FORMAT", "FORMAT_VERSION", "load_dataset"]

FORMAT = "mclnn-dataset"
FORMAT_VERSION = 1
_WRITE_BLOCK_BYTES = 16 * 2**20
_CLIP_FIELDS = {
    "label": np.int32,
    "category": str,
    "filename": str,
    "fold": np.int32,
    "group": np.int32,
    "variant": np.int32,
    "deformation": str,
}


class DatasetWriter:
    """Appends clips to a new Dataset.hdf5, then writes metadata on :meth:`close`.

    Parameters
    ----------
    path : Path
        File to create (normally a temporary path from :func:`mclnn.atomic.atomic_path`).
    n_features : int
        Features per frame.
    chunk_frames : int
        Frames per HDF5 chunk; one clip's frames make reading a clip a single chunk read.
    """

    def __init__(self, path: str | Path, *, n_features: int, chunk_frames: int):
        self._file = h5py.File(path, "w")
        self._features = self._file.create_dataset(
            "features", shape=(0, n_features), maxshape=(None, n_features),
            dtype=np.float32, chunks=(max(1, chunk_frames), n_features),
        )
        self._offsets = [0]
        self._clips = {name: [] for name in _CLIP_FIELDS}
        self._pending = []
        self._pending_bytes = 0

    def append(self, features: np.ndarray, **clip: Any) -> None:
        """Store one clip's ``(frames, n_features)`` features and its metadata fields."""
        self._pending.append(features)
        self._pending_bytes += features.nbytes
        self._offsets.append(self._offsets[-1] + len(features))
        for name in _CLIP_FIELDS:
            self._clips[name].append(clip[name])
        if self._pending_bytes >= _WRITE_BLOCK_BYTES:
            self._flush()

    def _flush(self):
        # One resize and one write per block of clips: per-clip writes cost more than extraction saves.
        if self._pending:
            start = self._features.shape[0]
            self._features.resize(self._offsets[-1], axis=0)
            self._features[start:] = np.concatenate(self._pending)
            self._pending, self._pending_bytes = [], 0

    def abort(self) -> None:
        """Close the unfinished file; the caller discards it."""
        self._file.close()

    def close(self, attrs: Mapping[str, Any]) -> None:
        """Write offsets, clip metadata and root attributes, and close the file."""
        self._flush()
        self._file.create_dataset("offsets", data=np.asarray(self._offsets, dtype=np.int64))
        clips = self._file.create_group("clips")
        for name, dtype in _CLIP_FIELDS.items():
            if dtype is str:
                clips.create_dataset(name, data=self._clips[name], dtype=h5py.string_dtype())
            else:
                clips.create_dataset(name, data=np.asarray(self._clips[name], dtype=dtype))
        self._file.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, **attrs})
        self._file.close()


class Dataset:
    """Read access to a Dataset.hdf5; see :func:`load_dataset`.

    Attributes
    ----------
    path : Path
    labels, folds, groups, variants : np.ndarray [shape=(n_clips,), dtype=int32]
    categories, filenames, deformations : np.ndarray [shape=(n_clips,), dtype=object]
    class_names : list of str
        Category names by label.
    feature_settings : dict
        The feature settings the file was made with.
    attrs : dict
        Every recorded attribute (config hash, source fingerprint, versions, ...).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: no such dataset file; run `mclnn transform` first")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as error:
            raise DatasetError(f"{self.path}: not a readable HDF5 file ({error})") from None
        if self._file.attrs.get("format") != FORMAT:
            self._file.close()
            raise DatasetError(f"{self.path}: not a Dataset.hdf5 written by mclnn (no '{FORMAT}' format attribute)")
        self.attrs = {key: _decode(value) for key, value in self._file.attrs.items()}
        self._features = self._file["features"]
        self._offsets = self._file["offsets"][()]
        clips = self._file["clips"]
        self.labels = clips["label"][()]
        self.categories = clips["category"].asstr()[()].astype(object)
        self.filenames = clips["filename"].asstr()[()].astype(object)
        self.folds = clips["fold"][()]
        self.groups = clips["group"][()]
        self.variants = clips["variant"][()]
        self.deformations = clips["deformation"].asstr()[()].astype(object)
        self.class_names = list(self.attrs["class_names"])
        self.feature_settings = dict(self.attrs["feature_settings"])

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_features(self) -> int:
        """Features per frame."""
        return self._features.shape[1]

    @property
    def frame_counts(self) -> np.ndarray:
        """Frames of every clip, ``int64 [n_clips]``."""
        return np.diff(self._offsets)

    def features(self, index: int) -> np.ndarray:
        """One clip's features, ``float32 [frames, n_features]``."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"clip index {index} out of range for {len(self)} clips in {self.path}")
        index %= len(self)
        return self._features[self._offsets[index]:self._offsets[index + 1]]

    def close(self) -> None:
        """Close the underlying HDF5 file."""
        self._file.close()

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Dataset({str(self.path)!r}, clips={len(self)}, classes={len(self.class_names)}, "
                f"features={self.n_features})")


def load_dataset(path: str | Path) -> Dataset:
    """Open a Dataset.hdf5 written by ``mclnn transform``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Dataset
        ``len(dataset)`` clips; ``dataset.features(i)`` gives clip ``i``'s
        ``float32 [frames, n_features]`` array; ``labels``, ``categories``, ``filenames``,
        ``folds``, ``groups``, ``variants`` are per-clip arrays.

    Raises
    ------
    DatasetError
        Missing file, or not a Dataset.hdf5.
    """
    return Dataset(path)


def _decode(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value.item() if isinstance(value, np.generic) else value
