"""Backups never collide: a directory lock that another process's run waits for (and names when it gives up),
names that are never replaced, and the temp files of killed runs removed under the lock."""
import errno
import multiprocessing
import os
import stat
import time

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files


def hold_lock(directory, seconds, ready):
    with _files.DirLock(directory, timeout=5):
        ready.set()
        time.sleep(seconds)


def test_a_second_run_waits_for_the_lock_and_then_gets_it(tmp_path):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_lock, args=(str(tmp_path), 0.6, ready))
    holder.start()
    assert ready.wait(10)
    began = time.monotonic()
    with _files.DirLock(str(tmp_path), timeout=10) as lock:
        waited = time.monotonic() - began
    holder.join(10)
    assert 0.3 < waited < 5 and lock.waited_seconds > 0.3
    assert os.listdir(tmp_path) == [], "the lock leaves no file in the dir"


def test_a_run_that_waits_too_long_is_refused_with_the_holders_pid(tmp_path):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_lock, args=(str(tmp_path), 3, ready))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(_files.LockTimeout, match=r"still holds its lock after 0.4s \(pid %d\)" % holder.pid):
            with _files.DirLock(str(tmp_path), timeout=0.4):
                pass
    finally:
        holder.terminate()
        holder.join(10)
    # The kernel dropped the killed holder's lock.
    with _files.DirLock(str(tmp_path), timeout=1) as lock:
        assert lock.waited_seconds < 1


def test_an_exclusive_commit_never_replaces_a_name(tmp_path):
    final = tmp_path / "b.db"
    final.write_bytes(b"first")
    handle, temp = _files.temp_file_in(str(tmp_path), "b.db")
    handle.write(b"second")
    names = iter([str(tmp_path / "b-2.db")])
    placed = _files.commit(handle, temp, str(final), another_name=lambda: next(names))
    assert placed == str(tmp_path / "b-2.db")
    assert final.read_bytes() == b"first" and (tmp_path / "b-2.db").read_bytes() == b"second"
    assert sorted(os.listdir(tmp_path)) == ["b-2.db", "b.db"], "no temp file is left"
    handle, temp = _files.temp_file_in(str(tmp_path), "b.db")
    handle.write(b"third")
    assert _files.commit(handle, temp, str(final)) == str(final) and final.read_bytes() == b"third", \
        "without another_name a commit replaces, as atomic rewrites need"


def test_stale_temp_files_of_this_prefix_are_removed_and_nothing_else(tmp_path):
    stale = [tmp_path / ".etcd-snapshot-20261126T080000Z.db.abc123.partial",
             tmp_path / ".etcd-snapshot-20261126T080000Z.db.json.def456.partial"]
    kept = [tmp_path / ".etcd-cold-20261126T080000Z.db.x.partial", tmp_path / "etcd-snapshot-20261126T080000Z.db",
            tmp_path / ".etcd-snapshotter.partial"]
    for path in stale + kept:
        path.write_bytes(b"x")
    with _files.DirLock(str(tmp_path), timeout=1):
        removed = _files.remove_stale_partials(str(tmp_path), "etcd-snapshot")
    assert removed == sorted(str(p) for p in stale)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)


def test_where_a_directory_cannot_be_locked_a_lock_file_in_it_is(tmp_path, monkeypatch):
    flock = _files.fcntl.flock

    def no_directory_locks(fd, operation):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EBADF, "Bad file descriptor")
        return flock(fd, operation)

    monkeypatch.setattr(_files.fcntl, "flock", no_directory_locks)
    with _files.DirLock(str(tmp_path), timeout=1) as lock:
        assert lock.path == str(tmp_path / ".etcdops.lock")
        with pytest.raises(_files.LockTimeout, match=r"still holds its lock after 0.3s"):
            # Another open file description of the same lock file: flock sees two holders.
            with _files.DirLock(str(tmp_path), timeout=0.3):
                pass
    assert os.listdir(tmp_path) == [".etcdops.lock"]
