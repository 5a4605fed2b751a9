import os
import shutil
import threading

import pytest

from mclnn.atomic import atomic_path, atomic_write_text, exclusive_lock, file_fingerprint
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
    held, release, order = threading.Event(), threading.Event(), []

    def hold():
        with exclusive_lock(target):
            held.set()
            release.wait(10)
            order.append("holder released")

    def wait_for_it():
        with exclusive_lock(target, wait=True):
            order.append("waiter acquired")

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    with pytest.raises(DatasetError, match="another mclnn run is writing this output"):
        with exclusive_lock(target):
            pass
    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    waiter.join(timeout=0.5)
    assert waiter.is_alive()  # blocked behind the holder, however slow the machine
    release.set()
    holder.join(10)
    waiter.join(10)
    assert order == ["holder released", "waiter acquired"]


def test_fingerprint_follows_content_and_time(tmp_path):
    final = tmp_path / "folds"
    final.mkdir()
    (final / "new.txt").write_text("new")
    before = file_fingerprint(final / "new.txt")
    # A copy that keeps the modification time (cp -p) is the same file; a rewrite is not.
    shutil.copy2(final / "new.txt", tmp_path / "copy.txt")
    assert file_fingerprint(tmp_path / "copy.txt") == before
    os.utime(final / "new.txt", ns=(1, 1))
    assert file_fingerprint(final / "new.txt") != before


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    (target.parent / ".report.json.lock").symlink_to(victim)
    with pytest.raises(DatasetError, match=r"\.report\.json\.lock: is a symbolic link, which mclnn will not write"):
        with exclusive_lock(target):
            pass
    assert victim.read_text() == "precious"


def test_an_existing_lock_file_is_not_truncated(tmp_path):
    target = tmp_path / "report.json"
    lock = tmp_path / ".report.json.lock"
    lock.write_text("left by an earlier run")
    with exclusive_lock(target):
        pass
    assert lock.read_text() == "left by an earlier run"


def test_a_link_planted_at_the_temporary_name_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "result.json"
    (tmp_path / f".result.{os.getpid()}.partial.json").symlink_to(victim)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and not target.is_symlink()
    assert victim.read_text() == "precious"
