# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write an etcd snapshot stream to a file, verifying the sha256 trailer the server appends."""
from __future__ import annotations

import hashlib
import os

from ansible_collections.etcdops.dr.plugins.module_utils import _files
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot_file import BackupFileError

# The server sends the sha256 of the database as the stream's last 32 bytes.
TRAILER = hashlib.sha256().digest_size


def stream_to_file(messages, destination, mode=0o600, uid=-1, gid=-1):
    """Write the blobs of `messages` (SnapshotResponse) to `destination` through a temp file that is
    fsynced, given `mode` and owner, and renamed into place only if the trailer matches. Memory use
    does not grow with the database. Returns dict(size, sha256, db_sha256)."""
    handle, temp_path = _files.temp_file_in(os.path.dirname(destination), os.path.basename(destination), mode)
    file_hash, db_hash = hashlib.sha256(), hashlib.sha256()
    tail, size = b"", 0
    try:
        for message in messages:
            blob = message.blob
            handle.write(blob)
            file_hash.update(blob)
            size += len(blob)
            # Everything but the last TRAILER bytes seen so far is database.
            pending = tail + blob
            if len(pending) > TRAILER:
                db_hash.update(pending[:-TRAILER])
                tail = pending[-TRAILER:]
            else:
                tail = pending
        if size <= TRAILER:
            raise BackupFileError("the snapshot stream ended after %d bytes, before any database: the member closed "
                                  "it; nothing was written." % size)
        if db_hash.digest() != tail:
            raise BackupFileError("the snapshot's sha256 trailer does not match its %d bytes of database: the stream "
                                  "was corrupted or cut; nothing was written." % (size - TRAILER))
        if uid != -1 or gid != -1:
            os.fchown(handle.fileno(), uid, gid)
        _files.commit(handle, temp_path, destination)
    except BaseException:
        _files.discard(handle, temp_path)
        raise
    return dict(size=size, sha256=file_hash.hexdigest(), db_sha256=tail.hex())
