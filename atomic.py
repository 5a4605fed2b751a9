"""Stage output files: atomic writes, exclusive locks and fingerprints, shared by every stage.

An output is written under a temporary name in its own folder and renamed over the
final name only once complete, so a run killed at any moment leaves the previous
output intact; a lock file keeps two runs from writing the same output at once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Iterator

from mclnn.errors import DatasetError

__all__ = ["atomic_path", "atomic_write_text", "content_fingerprint", "exclusive_lock", "file_fingerprint",
           "remove_leftovers"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    Parameters
    ----------
    path : str or Path
        The final output file. Its folder is created if needed.

    Yields
    ------
    Path
        Where to write, with the same suffix as ``path`` (writers such as Keras check
        it). On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    # Whatever stands at the temporary name (a link planted there, say) is removed, not
    # followed, and the file is created anew as this process's own.
    temporary.unlink(missing_ok=True)
    os.close(_open_new(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def remove_leftovers(path: str | Path) -> None:
    """Remove the temporary files of :func:`atomic_path` beside ``path`` whose process is no longer running."""
    path = Path(path)
    for leftover in path.parent.glob(f".{path.stem}.*.partial{path.suffix}"):
        pid = leftover.name[len(path.stem) + 2:].partition(".")[0]
        if pid.isdigit() and not _running(int(pid)):
            leftover.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_path`: the file is complete or not there."""
    with atomic_path(path) as partial:
        partial.write_text(text)


@contextlib.contextmanager
def exclusive_lock(path: str | Path, *, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` + ``.lock`` for the duration of the block.

    The lock is released by the operating system if the process dies, so it never
    goes stale. Once it is held, temporary files that a killed run left beside
    ``path`` are removed: no other process can be writing them.

    Parameters
    ----------
    path : str or Path
        The output the lock guards.
    wait : bool
        Wait for another holder to finish instead of failing.

    Raises
    ------
    DatasetError
        Another process holds the lock and ``wait`` is False.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(f".{path.name}.lock")
    # Never truncated, never followed: a lock file that is a link to another file is refused.
    with os.fdopen(_open_new(lock_path, os.O_RDWR | os.O_CREAT), "r+b") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise DatasetError(
                f"{path}: another mclnn run is writing this output right now; "
                "wait for it to finish or give a different --out"
            ) from None
        for leftover in path.parent.glob(f".{path.stem}.*.partial{path.suffix}"):
            leftover.unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _open_new(path: Path, flags: int) -> int:
    """``os.open`` that refuses to follow a symbolic link at ``path``; DatasetError naming it then."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise DatasetError(f"{path}: is a symbolic link, which mclnn will not write through; remove it") from None
        raise


def file_fingerprint(path: str | Path) -> str:
    """A SHA-256 of a file's size and modification time: changes whenever the file is rewritten.

    Outputs are replaced by rename, so every rewrite gives a new modification time
    without the cost of hashing the content.
    """
    status = Path(path).stat()
    return hashlib.sha256(f"{status.st_size}\0{status.st_mtime_ns}".encode()).hexdigest()


def content_fingerprint(path: str | Path) -> str:
    """A SHA-256 of a file's bytes: equal for a copy, wherever and whenever it was made."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
