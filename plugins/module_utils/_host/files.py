# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durable file operations: a file either has its final name and full content, or does not exist."""
from __future__ import annotations

import errno
import fcntl
import grp
import hashlib
import io
import os
import pwd
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

CHUNK = 1024 * 1024
# Temp files: .<final name>.<random>.partial, beside the final name.
PARTIAL_SUFFIX = ".partial"
# The UTC time in the names this collection gives files and dirs: backups, kept data dirs.
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def utc_stamp() -> str:
    return time.strftime(STAMP_FORMAT, time.gmtime())


def owner_ids(owner: str | None, group: str | None) -> tuple[int | None, int | None]:
    """(uid, gid) for user and group names or numbers; None for what is not given. EtcdOpsError names an
    unknown one."""
    try:
        uid = None if owner is None else (int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid)
        gid = None if group is None else (int(group) if group.isdigit() else grp.getgrnam(group).gr_gid)
    except KeyError as exc:
        raise EtcdOpsError("no such user or group on this host: %s: fix owner or group." % exc) from None
    return uid, gid


def chunks_of(handle: io.BufferedIOBase) -> Iterator[memoryview]:
    """The rest of the open binary file `handle`, as views of one reused CHUNK-sized buffer: a view is valid
    until the next one is taken. Reading into one buffer instead of a new bytes object per chunk halves the time
    of hashing a file held in the page cache."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while True:
        count = handle.readinto(buffer)
        if not count:
            return
        yield view[:count]


# A file changed this recently may change again within the same timestamp tick, unseen by its ctime.
SETTLED_SECONDS = 1.0


def file_identity(path: str) -> str | None:
    """Device, inode, size, mtime and ctime of `path`, as one string: equal while the file is not written to,
    replaced or touched (any write changes its ctime, which no user call can set back). None while the file's
    last change is younger than SETTLED_SECONDS."""
    info = os.stat(path)
    if time.time_ns() - info.st_ctime_ns < SETTLED_SECONDS * 1e9:
        return None
    return "%d:%d:%d:%d:%d" % (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def file_sha256(path: str) -> str:
    """The sha256 (hex) of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in chunks_of(handle):
            digest.update(chunk)
    return digest.hexdigest()


def first_free(candidate: Callable[[int], str], taken: Callable[[str], bool] = os.path.lexists) -> str:
    """candidate(1), else candidate(2), candidate(3)...: the first name `taken` says is free."""
    number = 1
    while taken(candidate(number)):
        number += 1
    return candidate(number)


def nearest_existing_dir(path: str) -> str:
    """`path` when it is a directory, else its nearest ancestor that is one."""
    path = os.path.abspath(path)
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_file_in(directory: str, name: str, mode: int = 0o600) -> tuple[BinaryIO, str]:
    """An open binary temp file beside `name` in `directory`, created with `mode`: (handle, path)."""
    fd, path = tempfile.mkstemp(prefix=".%s." % name, suffix=PARTIAL_SUFFIX, dir=directory)
    os.fchmod(fd, mode)
    return os.fdopen(fd, "wb"), path


def commit(handle: BinaryIO, temp_path: str, final_path: str,
           another_name: Callable[[], str] | None = None) -> str:
    """fsync and close `handle`, give `temp_path` the name `final_path`, fsync the directory; returns the name
    given. Without `another_name` an existing `final_path` is replaced; with it, never: the file is linked under
    its name (which fails if the name exists) and on a clash the name another_name() returns is tried next."""
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    if another_name is None:
        os.rename(temp_path, final_path)
    else:
        final_path = _link_new(temp_path, final_path, another_name)
    fsync_dir(os.path.dirname(final_path) or ".")
    return final_path


def _link_new(temp_path: str, final_path: str, another_name: Callable[[], str]) -> str:
    while True:
        try:
            os.link(temp_path, final_path)
        except FileExistsError:
            final_path = another_name()
            continue
        except OSError as exc:
            # A filesystem without hard links: a rename that checks first (the callers hold the dir's lock).
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
                raise
            while os.path.lexists(final_path):
                final_path = another_name()
            os.rename(temp_path, final_path)
            return final_path
        os.unlink(temp_path)
        return final_path


def discard(handle: BinaryIO, temp_path: str) -> None:
    """Close and remove a temp file after a failure; never raises."""
    try:
        handle.close()
    except OSError:
        pass
    try:
        os.unlink(temp_path)
    except OSError:
        pass


def write_atomic(final_path: str, data: bytes, mode: int = 0o600) -> None:
    """Write `data` (bytes) under `final_path` through a temp file and rename."""
    handle, temp_path = temp_file_in(os.path.dirname(final_path) or ".", os.path.basename(final_path), mode)
    try:
        handle.write(data)
        commit(handle, temp_path, final_path)
    except BaseException:
        discard(handle, temp_path)
        raise


def move(source: str, destination: str) -> None:
    """Move a file, durably, refusing to replace an existing destination. Works across filesystems."""
    if os.path.lexists(destination):
        raise OSError(errno.EEXIST, "destination exists", destination)
    try:
        os.rename(source, destination)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        handle, temp_path = temp_file_in(os.path.dirname(destination), os.path.basename(destination),
                                         os.stat(source).st_mode & 0o7777)
        try:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, handle)
            commit(handle, temp_path, destination)
        except BaseException:
            discard(handle, temp_path)
            raise
        os.unlink(source)
    fsync_dir(os.path.dirname(destination))
    fsync_dir(os.path.dirname(source))


# The lock file, only where a directory cannot be locked itself (see DirLock).
LOCK_NAME = ".etcdops.lock"


class LockTimeout(EtcdOpsError):
    """Another run held a directory's lock for longer than this run would wait."""


def lock_holders(path: str, locks: str = "/proc/locks") -> list[int]:
    """Pids holding a flock on `path` (its device and inode), as /proc/locks lists them."""
    info = os.stat(path)
    inode = "%02x:%02x:%d" % (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    pids = []
    try:
        with open(locks, encoding="ascii", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters are marked "->".
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
                    pids.append(int(fields[4]))
    except (OSError, ValueError):
        pass
    return sorted(set(pids))


class DirLock:
    """An exclusive lock on a directory for as long as the `with` block runs, so that two runs writing there (an AWX
    schedule overlapping a manual run) take turns: a flock on the directory itself, so no file is left in it (where
    a filesystem cannot lock a directory, on the file .etcdops.lock in it). The kernel drops the lock when the
    holder's process ends, killed or not: a temp file left in the dir while this lock is held is nobody's."""

    POLL_SECONDS = 0.2

    def __init__(self, directory: str, timeout: float) -> None:
        self.directory = directory
        self.path = directory
        self.timeout = timeout
        self.waited_seconds = 0.0
        self._fd: int | None = None

    def _open(self) -> int:
        """A descriptor to lock: the directory itself, or, where the filesystem cannot lock a directory (NFS
        emulates flock with POSIX locks, which need a file open for writing), the file LOCK_NAME in it."""
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return fd
        except BlockingIOError:
            return fd
        except OSError:
            os.close(fd)
        self.path = os.path.join(self.directory, LOCK_NAME)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> DirLock:
        fd = self._open()
        began = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - began >= self.timeout:
                    os.close(fd)
                    holders = [pid for pid in lock_holders(self.path) if pid != os.getpid()]
                    raise LockTimeout("another run is writing in %s and still holds its lock after %ss (%s): let it "
                                      "finish and run again, or give a longer lock_timeout" % (
                                          self.directory, self.timeout,
                                          ", ".join("pid %d" % pid for pid in holders) or "its pid is not visible"
                                      )) from None
                time.sleep(self.POLL_SECONDS)
        self.waited_seconds = round(time.monotonic() - began, 3)
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def remove_stale_partials(directory: str, prefix: str) -> list[str]:
    """Remove the temp files a killed run left for backups named <prefix>-... (.<prefix>-....partial); call only
    while holding the directory's DirLock, which every writer holds for as long as its temp file lives."""
    removed = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.startswith("." + prefix + "-") and name.endswith(PARTIAL_SUFFIX) and os.path.isfile(path):
            os.unlink(path)
            removed.append(path)
    if removed:
        fsync_dir(directory)
    return removed
