# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write an etcd snapshot stream to a file, verifying the sha256 trailer the server appends."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import BackupFileError

# The server sends the sha256 of the database as the stream's last 32 bytes.
TRAILER = hashlib.sha256().digest_size


class TrailerHash:
    """sha256 of a snapshot's bytes as they come, split into the database and its trailer: every byte
    but the last TRAILER seen so far is database. The file's hash is the database's continued with the
    trailer, so each byte is hashed once."""

    def __init__(self) -> None:
        self.db = hashlib.sha256()
        self.tail = b""
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        if len(chunk) >= TRAILER:
            # The common case (etcd sends 32 KiB messages): hash without copying the chunk.
            view = memoryview(chunk)
            self.db.update(self.tail)
            self.db.update(view[:-TRAILER])
            self.tail = bytes(view[-TRAILER:])
            return
        pending = self.tail + chunk
        if len(pending) > TRAILER:
            self.db.update(pending[:-TRAILER])
            pending = pending[-TRAILER:]
        self.tail = pending

    def file_sha256(self) -> str:
        whole = self.db.copy()
        whole.update(self.tail)
        return whole.hexdigest()

    def matches(self) -> bool:
        return self.size > TRAILER and self.db.digest() == self.tail


def stream_to_file(messages: Iterable[Any], destination: str, mode: int = 0o600, uid: int = -1, gid: int = -1,
                   check: Callable[[str], object] | None = None,
                   another_name: Callable[[], str] | None = None) -> dict[str, Any]:
    """Write the blobs of `messages` (SnapshotResponse) to `destination` through a temp file that is
    fsynced, given `mode` and owner, and named only if the trailer matches and `check(temp path)` (when given)
    returns without raising; with `another_name`, an existing file is never replaced (see files.commit). Memory use
    does not grow with the database. Returns dict(size, sha256, db_sha256, path: the name it took)."""
    handle, temp_path = _files.temp_file_in(os.path.dirname(destination), os.path.basename(destination), mode)
    hashed = TrailerHash()
    try:
        for message in messages:
            handle.write(message.blob)
            hashed.update(message.blob)
        if hashed.size <= TRAILER:
            raise BackupFileError("the snapshot stream ended after %d bytes, before any database: the member closed "
                                  "it; nothing was written." % hashed.size)
        if not hashed.matches():
            raise BackupFileError("the snapshot's sha256 trailer does not match its %d bytes of database: the stream "
                                  "was corrupted or cut; nothing was written." % (hashed.size - TRAILER))
        handle.flush()
        if check is not None:
            check(temp_path)
        if uid != -1 or gid != -1:
            os.fchown(handle.fileno(), uid, gid)
        path = _files.commit(handle, temp_path, destination, another_name)
    except BaseException:
        _files.discard(handle, temp_path)
        raise
    return dict(size=hashed.size, sha256=hashed.file_sha256(), db_sha256=hashed.tail.hex(), path=path)
