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
    /source_files        str      per source file: relative path, size and modification
                                  time, tab-separated (what changed, when a rerun rebuilds)
    /source_sha256       str      per source file (in the order of source_files): its content's
                                  SHA-256, so a touched but unchanged file is told from an edited one

Root attributes record the dataset name, class names, feature and augmentation
settings (JSON), the config hash, the source fingerprint, library versions, any
skipped files, and ``content_digest``: a SHA-256 over the stored features, offsets,
clip metadata and class names, the same for two files that hold the same data (later
stages decide "unchanged" by it, not by the file's bytes or times). Every augmented
variant is stored right after its original.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import h5py
import numpy as np

from mclnn.errors import DatasetError, ParameterError

__all__ = ["Dataset", "DatasetWriter", "FORMAT", "FORMAT_VERSION", "data_digest", "load_dataset"]

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


def data_digest(file: str | Path | h5py.File) -> str:
    """A SHA-256 of the data a Dataset.hdf5 holds: features, offsets, clip metadata, class names.

    Equal for two files of equal data, whatever their attributes, times or HDF5 layout;
    read in blocks, so a large file is never loaded whole.
    """
    with contextlib.ExitStack() as stack:
        handle = file if isinstance(file, h5py.File) else stack.enter_context(h5py.File(file, "r"))
        digest = hashlib.sha256()
        features = handle["features"]
        rows = max(1, _WRITE_BLOCK_BYTES // max(1, features.shape[1] * 4))
        for start in range(0, features.shape[0], rows):
            digest.update(np.ascontiguousarray(features[start:start + rows], dtype=np.float32).tobytes())
        digest.update(np.asarray(handle["offsets"][()], dtype=np.int64).tobytes())
        for name in _CLIP_FIELDS:
            digest.update(name.encode())
            values = handle["clips"][name][()].tolist()  # numbers as Python numbers, strings as bytes
            digest.update(json.dumps([value.decode() if isinstance(value, bytes) else value for value in values]).encode())
        digest.update(str(handle.attrs.get("class_names")).encode())
        return digest.hexdigest()


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

    def close(self, attrs: Mapping[str, Any], *, source_files: Sequence[str] = (),
              source_sha256: Sequence[str] = ()) -> None:
        """Write offsets, clip metadata, ``source_files``, ``source_sha256`` and root attributes, and close the file."""
        self._flush()
        self._file.create_dataset("offsets", data=np.asarray(self._offsets, dtype=np.int64))
        self._file.create_dataset("source_files", data=list(source_files), dtype=h5py.string_dtype())
        self._file.create_dataset("source_sha256", data=list(source_sha256), dtype=h5py.string_dtype())
        clips = self._file.create_group("clips")
        for name, dtype in _CLIP_FIELDS.items():
            if dtype is str:
                clips.create_dataset(name, data=self._clips[name], dtype=h5py.string_dtype())
            else:
                clips.create_dataset(name, data=np.asarray(self._clips[name], dtype=dtype))
        self._file.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, **attrs})
        self._file.flush()
        self._file.attrs["content_digest"] = data_digest(self._file)
        self._file.close()


class Dataset:
    """Read access to a Dataset.hdf5; see :func:`load_dataset`.

    Reads mclnn's layout, and the original MCLNN layout (one dataset per clip, named
    '0'..'N-1', in category order), whose labels come from ``storage_ordering`` (one
    ``category/file`` path per clip) or ``class_counts`` (clips per class, in order),
    and whose official folds come from ``fold_pattern`` applied to the file names.

    Attributes
    ----------
    path : Path
    n_features : int
    frame_counts : np.ndarray [shape=(n_clips,)]
    labels, folds, groups, variants : np.ndarray [shape=(n_clips,), dtype=int32]
    categories, filenames, deformations : np.ndarray [shape=(n_clips,), dtype=object]
    class_names : list of str
        Category names by label.
    feature_settings : dict
        The feature settings the file was made with.
    attrs : dict
        Every recorded attribute (config hash, source fingerprint, versions, ...).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        class_counts: Sequence[int] | None = None,
        storage_ordering: str | Path | None = None,
        fold_pattern: str | None = None,
    ):
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: no such dataset file; run `mclnn transform` with "
                               f"--out {self.path.parent} first")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as error:
            raise DatasetError(f"{self.path}: not a readable HDF5 file ({error})") from None
        try:
            if self._file.attrs.get("format") == FORMAT:
                self._read_mclnn_layout()
            elif "0" in self._file:
                self._read_reference_layout(class_counts, storage_ordering, fold_pattern)
            else:
                raise DatasetError(
                    f"{self.path}: not a Dataset.hdf5 written by mclnn (no '{FORMAT}' format attribute) "
                    "nor one in the original MCLNN layout (datasets '0'..'N-1')"
                )
        except BaseException:
            self._file.close()
            raise

    def _read_mclnn_layout(self):
        self.attrs = {key: _decode(value) for key, value in self._file.attrs.items()}
        features = self._file["features"]
        offsets = self._file["offsets"][()]
        self._read_clip = lambda index: features[offsets[index]:offsets[index + 1]]
        self.frame_counts = np.diff(offsets)
        self.n_features = features.shape[1]
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

    def _read_reference_layout(self, class_counts, storage_ordering, fold_pattern):
        n_clips = len(self._file)
        if sorted(self._file) != sorted(str(index) for index in range(n_clips)):
            raise DatasetError(f"{self.path}: original-layout datasets must be named '0'..'{n_clips - 1}'")
        if storage_ordering is not None:
            filenames = [line.strip().replace("\\", "/").lstrip("/")
                         for line in Path(storage_ordering).read_text().splitlines() if line.strip()]
            if len(filenames) != n_clips:
                raise DatasetError(
                    f"{storage_ordering}: lists {len(filenames)} files but {self.path} holds {n_clips} clips")
            categories = [name.split("/")[0] if "/" in name else "" for name in filenames]
        elif class_counts is not None:
            if sum(class_counts) != n_clips:
                raise DatasetError(
                    f"class counts {list(class_counts)} add up to {sum(class_counts)}, "
                    f"but {self.path} holds {n_clips} clips")
            categories = [f"class_{label:02d}" for label, count in enumerate(class_counts) for _ in range(count)]
            filenames = [str(index) for index in range(n_clips)]
        else:
            raise ParameterError(
                f"{self.path} is in the original MCLNN layout, which carries no labels: "
                "give its storage ordering file or the clip count of each class")
        # Categories appear in storage order, which is the label order of the original work.
        self.class_names = list(dict.fromkeys(categories))
        self.labels = np.asarray([self.class_names.index(name) for name in categories], dtype=np.int32)
        if np.any(np.diff(self.labels) < 0):
            raise DatasetError(f"{storage_ordering}: clips are not grouped by category")
        pattern = re.compile(fold_pattern) if fold_pattern else None
        folds = []
        for name in filenames:
            match = pattern.search(name.rsplit("/", 1)[-1]) if pattern else None
            folds.append(int(match.group(1)) if match else -1)
        self.folds = np.asarray(folds, dtype=np.int32)
        self.categories = np.asarray(categories, dtype=object)
        self.filenames = np.asarray(filenames, dtype=object)
        self.groups = np.arange(n_clips, dtype=np.int32)
        self.variants = np.zeros(n_clips, dtype=np.int32)
        self.deformations = np.full(n_clips, "", dtype=object)
        self._read_clip = lambda index: self._file[str(index)][()].astype(np.float32)
        shapes = [self._file[str(index)].shape for index in range(n_clips)]
        feature_counts = {shape[1] for shape in shapes}
        if len(feature_counts) != 1:
            raise DatasetError(f"{self.path}: clips have different feature counts {sorted(feature_counts)}")
        self.frame_counts = np.asarray([shape[0] for shape in shapes])
        self.n_features = feature_counts.pop()
        self.attrs = {"layout": "original MCLNN", "class_names": self.class_names}
        self.feature_settings = {}

    def __len__(self) -> int:
        return len(self.labels)

    def features(self, index: int) -> np.ndarray:
        """One clip's features, ``float32 [frames, n_features]``."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"clip index {index} out of range for {len(self)} clips in {self.path}")
        return self._read_clip(index % len(self))

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        """Clip ``index``: its features ``float32 [frames, n_features]`` and its label (an index into ``class_names``)."""
        features = self.features(index)
        return features, int(self.labels[index])

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        """Every clip's ``(features, label)``, in storage order, one clip read at a time."""
        return (self[index] for index in range(len(self)))

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


def load_dataset(
    path: str | Path,
    *,
    class_counts: Sequence[int] | None = None,
    storage_ordering: str | Path | None = None,
    fold_pattern: str | None = None,
) -> Dataset:
    """Open a Dataset.hdf5 written by ``mclnn transform``, or one in the original MCLNN layout.

    Parameters
    ----------
    path : str or Path
    class_counts : sequence of int, optional
        Original layout only: clips per class, in storage order.
    storage_ordering : str or Path, optional
        Original layout only: the ``<dataset>_storage_ordering.txt`` file, one
        ``category/file`` path per clip; gives category names and, with
        ``fold_pattern``, official folds.
    fold_pattern : str, optional
        Original layout only: regular expression whose first group, matched against a
        file name, is its fold.

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
    ParameterError
        An original-layout file without ``storage_ordering`` or ``class_counts``.
    """
    return Dataset(path, class_counts=class_counts, storage_ordering=storage_ordering, fold_pattern=fold_pattern)


def _decode(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value.item() if isinstance(value, np.generic) else value
