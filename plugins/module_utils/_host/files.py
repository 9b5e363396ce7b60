# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durable file operations: a file either has its final name and full content, or does not exist."""
from __future__ import annotations

import errno
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
    fd, path = tempfile.mkstemp(prefix=".%s." % name, suffix=".partial", dir=directory)
    os.fchmod(fd, mode)
    return os.fdopen(fd, "wb"), path


def commit(handle: BinaryIO, temp_path: str, final_path: str) -> None:
    """fsync and close `handle`, then rename `temp_path` to `final_path` and fsync the directory."""
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.rename(temp_path, final_path)
    fsync_dir(os.path.dirname(final_path) or ".")


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
