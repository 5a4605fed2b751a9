"""Finding a dataset's clips: folder-per-category or CSV-driven layouts.

Clips are always ordered by category name, then file name: the order the original
MCLNN fold files index into.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from mclnn.config import SourceSettings
from mclnn.errors import DatasetError

__all__ = ["ClipSource", "changed_sources", "discover_clips", "path_inside", "source_fingerprint", "source_stats"]


@dataclass(frozen=True)
class ClipSource:
    """One original audio clip of a dataset.

    Attributes
    ----------
    path : Path
        The audio file.
    relative_path : str
        ``path`` relative to the source folder, as written to the storage ordering file.
    category : str
        Category (class) name.
    fold : int
        Official fold, or -1 when the dataset has none.
    group_key : str
        Clips sharing a group key must stay in one fold (the file itself by default).
    """

    path: Path
    relative_path: str
    category: str
    fold: int
    group_key: str


def discover_clips(source: SourceSettings, *, root: str | Path,
                   refused: list[tuple[str, str]] | None = None) -> list[ClipSource]:
    """List a dataset's clips in storage order (category name, then file name).

    Parameters
    ----------
    source : SourceSettings
        The dataset's layout settings.
    root : str or Path
        The source folder.
    refused : list, optional
        When given, a CSV row naming a file outside ``root`` is appended to it as
        ``(path as listed, reason)`` and left out, instead of raising (``--skip-bad``).

    Returns
    -------
    list of ClipSource

    Raises
    ------
    DatasetError
        The folder is missing, a category is empty, a listed file is missing, a CSV
        column is missing, a CSV row names a file outside ``root`` (unless ``refused``
        collects them), or a file name does not carry a fold.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"source folder {root} does not exist; pass --source DIR pointing at the dataset's audio")
    clips = _from_csv(source, root, refused) if source.layout == "csv" else _from_folders(source, root)
    if not clips:
        raise DatasetError(f"{root}: no audio clips found (looked for {', '.join(source.extensions)})")
    return sorted(clips, key=lambda clip: (clip.category, Path(clip.relative_path).name, clip.relative_path))


def source_fingerprint(clips: list[ClipSource], *, extra_files: tuple[Path, ...] = ()) -> str:
    """A SHA-256 over every clip's path, size and modification time (and ``extra_files``).

    Changes whenever a source file is added, removed, replaced or touched, without
    reading any audio.
    """
    return hashlib.sha256("".join(f"{line}\n" for line in source_stats(clips, extra_files=extra_files)).encode()
                          ).hexdigest()


def source_stats(clips: list[ClipSource], *, extra_files: tuple[Path, ...] = ()) -> list[str]:
    """One ``name<TAB>size<TAB>modification time`` line per source file: what :func:`source_fingerprint` hashes."""
    lines = []
    for path, name in [(clip.path, clip.relative_path) for clip in clips] + [(p, str(p)) for p in extra_files]:
        status = path.stat()
        lines.append(f"{name}\t{status.st_size}\t{status.st_mtime_ns}")
    return lines


def changed_sources(before: list[str], after: list[str]) -> str | None:
    """Which source files differ between two :func:`source_stats` listings, in words; None when none do."""
    old, new = ({name: (size, time) for name, size, time in (line.rsplit("\t", 2) for line in lines)}
                for lines in (before, after))
    parts = []
    for what, names in (("added", [name for name in new if name not in old]),
                        ("removed", [name for name in old if name not in new]),
                        ("replaced or touched", [name for name in new if name in old and old[name] != new[name]])):
        if names:
            parts.append(f"{len(names)} {what} (e.g. {names[0]})")
    return ", ".join(parts) or None


def _from_folders(source, root):
    fold_pattern = re.compile(source.fold_pattern) if source.fold_pattern else None
    extensions = tuple(extension.lower() for extension in source.extensions)
    category_folders = sorted(entry for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not category_folders:
        raise DatasetError(f"{root}: no category folders; the folders layout needs one sub-folder per category")
    clips = []
    for folder in category_folders:
        files = sorted(
            entry for entry in folder.iterdir()
            if entry.is_file() and not entry.name.startswith(".") and entry.suffix.lower() in extensions
        )
        if not files:
            raise DatasetError(
                f"{folder}: category folder holds no audio files ({', '.join(extensions)}); "
                "add clips or remove the folder"
            )
        for path in files:
            relative_path = f"{folder.name}/{path.name}"
            clips.append(ClipSource(
                path=path,
                relative_path=relative_path,
                category=folder.name,
                fold=_fold_from_name(path.name, fold_pattern, relative_path),
                group_key=relative_path,
            ))
    return clips


def _fold_from_name(name, pattern, relative_path):
    if pattern is None:
        return -1
    match = pattern.search(name)
    if match is None:
        raise DatasetError(
            f"{relative_path}: file name does not match source.fold_pattern {pattern.pattern!r}; "
            "rename the file or change the pattern"
        )
    return int(match.group(1))


def path_inside(root: str | Path, relative: str, *, listed_at: str,
                refused: list[tuple[str, str]] | None = None) -> Path | None:
    """``root / relative``, which must stay inside ``root`` once links and ``..`` are resolved.

    A path that leaves ``root`` (``../``, an absolute path, a link pointing out) raises
    DatasetError naming where it was listed (``listed_at``); when ``refused`` is given it
    is appended there as ``(relative, reason)`` instead, and None is returned.
    """
    root = Path(root)
    path = root / relative
    if path.resolve().is_relative_to(root.resolve()):
        return path
    reason = f"{listed_at} names {relative!r}, which is outside {root}"
    if refused is None:
        raise DatasetError(f"{reason}; list only clips inside that folder")
    refused.append((relative, f"{reason}; not read"))
    return None


def _from_csv(source, root, refused):
    csv_path = root / source.csv
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: metadata CSV not found; check source.csv or --source")
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [source.filename_column, source.category_column, source.fold_column, source.group_column]
        missing = [column for column in columns if column and column not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(
                f"{csv_path}: missing column(s) {', '.join(missing)}; it has {', '.join(reader.fieldnames or [])}"
            )
        clips = []
        for line_number, row in enumerate(reader, start=2):
            try:
                relative_path = source.path_template.format(**row)
            except KeyError as error:
                raise DatasetError(f"{csv_path}: source.path_template names unknown column {error}") from None
            path = path_inside(root, relative_path, listed_at=f"line {line_number} of {csv_path}", refused=refused)
            if path is None:
                continue
            if not path.is_file():
                raise DatasetError(f"{path}: listed on line {line_number} of {csv_path} but not found")
            fold = -1
            if source.fold_column:
                try:
                    fold = int(row[source.fold_column])
                except ValueError:
                    raise DatasetError(
                        f"{csv_path} line {line_number}: fold {row[source.fold_column]!r} is not an integer"
                    ) from None
            group = row[source.group_column] if source.group_column else relative_path
            clips.append(ClipSource(
                path=path,
                relative_path=relative_path,
                category=row[source.category_column],
                fold=fold,
                group_key=group,
            ))
    return clips
