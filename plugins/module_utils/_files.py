# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durable file operations: a file either has its final name and full content, or does not exist."""
from __future__ import annotations

import errno
import os
import shutil
import tempfile


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_file_in(directory, name, mode=0o600):
    """An open binary temp file beside `name` in `directory`, created with `mode`: (handle, path)."""
    fd, path = tempfile.mkstemp(prefix=".%s." % name, suffix=".partial", dir=directory)
    os.fchmod(fd, mode)
    return os.fdopen(fd, "wb"), path


def commit(handle, temp_path, final_path):
    """fsync and close `handle`, then rename `temp_path` to `final_path` and fsync the directory."""
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.rename(temp_path, final_path)
    fsync_dir(os.path.dirname(final_path) or ".")


def discard(handle, temp_path):
    """Close and remove a temp file after a failure; never raises."""
    try:
        handle.close()
    except OSError:
        pass
    try:
        os.unlink(temp_path)
    except OSError:
        pass


def write_atomic(final_path, data, mode=0o600):
    """Write `data` (bytes) under `final_path` through a temp file and rename."""
    handle, temp_path = temp_file_in(os.path.dirname(final_path) or ".", os.path.basename(final_path), mode)
    try:
        handle.write(data)
        commit(handle, temp_path, final_path)
    except BaseException:
        discard(handle, temp_path)
        raise


def move(source, destination):
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
