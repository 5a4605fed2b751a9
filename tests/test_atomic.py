import os
import shutil
import threading
import time

import pytest

from mclnn.atomic import atomic_path, exclusive_lock, file_fingerprint, replace_directory
from mclnn.errors import DatasetError


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out" / "result.json"
    with atomic_path(target) as partial:
        assert partial.suffix == ".json" and partial.parent == target.parent
        partial.write_text("first")
    assert target.read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as partial:
            partial.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "first"
    assert [path.name for path in target.parent.iterdir()] == ["result.json"]


def test_lock_fails_fast_or_waits(tmp_path):
    target = tmp_path / "report.json"
    held = threading.Event()

    def hold():
        with exclusive_lock(target):
            held.set()
            time.sleep(0.5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    with pytest.raises(DatasetError, match="another mclnn run is writing this output"):
        with exclusive_lock(target):
            pass
    waiting_since = time.monotonic()
    with exclusive_lock(target, wait=True):
        assert time.monotonic() - waiting_since > 0.2  # it waited for the holder
    holder.join()


def test_replace_directory_and_fingerprint(tmp_path):
    final, staged = tmp_path / "folds", tmp_path / "staged"
    final.mkdir()
    (final / "old.txt").write_text("old")
    staged.mkdir()
    (staged / "new.txt").write_text("new")
    replace_directory(staged, final)
    assert [path.name for path in final.iterdir()] == ["new.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["folds"]
    before = file_fingerprint(final / "new.txt")
    # A copy that keeps the modification time (cp -p) is the same file; a rewrite is not.
    shutil.copy2(final / "new.txt", tmp_path / "copy.txt")
    assert file_fingerprint(tmp_path / "copy.txt") == before
    os.utime(final / "new.txt", ns=(1, 1))
    assert file_fingerprint(final / "new.txt") != before
