# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write an etcd snapshot stream to a file, verifying the sha256 trailer the server appends."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._crypto import stream as _stream
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
                   check: Callable[[str, Any], object] | None = None,
                   another_name: Callable[[], str] | None = None,
                   recipients: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
    """Write the blobs of `messages` (SnapshotResponse) to `destination` through a temp file that is
    fsynced, given `mode` and owner, and named only if the trailer matches and `check(temp path, source)` (when
    given) returns without raising; with `another_name`, an existing file is never replaced (see files.commit). With
    `recipients` (key id, raw X25519 public key) the file is encrypted as it is written (no plaintext reaches the disk)
    and `source` reads its plaintext back (an _crypto.stream.Opened); else `source` is None. Memory use does not grow
    with the database. Returns dict(size, sha256: of the file as written, db_sha256, path: the name it took,
    plaintext_size, plaintext_sha256, encryption: the header's description or None, file_key: the key the file was
    encrypted with, or None; keep it out of any result)."""
    handle, temp_path = _files.temp_file_in(os.path.dirname(destination), os.path.basename(destination), mode)
    hashed = TrailerHash()
    sealer = None
    try:
        sealer = _stream.Sealer(handle, recipients) if recipients else None
        sink = sealer or handle
        for message in messages:
            sink.write(message.blob)
            hashed.update(message.blob)
        if hashed.size <= TRAILER:
            raise BackupFileError("the snapshot stream ended after %d bytes, before any database: the member closed "
                                  "it; nothing was written." % hashed.size)
        if not hashed.matches():
            raise BackupFileError("the snapshot's sha256 trailer does not match its %d bytes of database: the stream "
                                  "was corrupted or cut; nothing was written." % (hashed.size - TRAILER))
        if sealer:
            sealer.close()
        handle.flush()
        if check is not None:
            if sealer:
                with _stream.Opened(temp_path, sealer.file_key, sealer.header) as source:
                    check(temp_path, source)
            else:
                check(temp_path, None)
        if uid != -1 or gid != -1:
            os.fchown(handle.fileno(), uid, gid)
        path = _files.commit(handle, temp_path, destination, another_name)
    except BaseException:
        _files.discard(handle, temp_path)
        raise
    return dict(size=sealer.size if sealer else hashed.size,
                sha256=sealer.digest.hexdigest() if sealer else hashed.file_sha256(),
                db_sha256=hashed.tail.hex(), path=path, plaintext_size=hashed.size,
                plaintext_sha256=hashed.file_sha256(), encryption=sealer.describe() if sealer else None,
                file_key=sealer.file_key if sealer else None)


def decrypt_into(opened: Any, write: Callable[[bytes], object] | None = None) -> str:
    """Every chunk of the encrypted snapshot `opened` (an _crypto.stream.Opened) decrypted and checked, in order, and
    given to `write` when one is given; returns the plaintext's sha256. BackupFileError when its sha256 trailer does
    not match, CryptoError when a chunk does not open."""
    hashed = TrailerHash()
    for chunk in opened.plaintext():
        hashed.update(chunk)
        if write is not None:
            write(chunk)
    if not hashed.matches():
        raise BackupFileError("%s decrypts to %d bytes whose sha256 trailer does not match the database before it"
                              % (opened.path, hashed.size))
    return hashed.file_sha256()


def decrypt_to_file(opened: Any, destination: str) -> str:
    """decrypt_into a new file `destination`, mode 0600; returns the plaintext's sha256. On any failure the file is
    removed."""
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            return decrypt_into(opened, handle.write)
    except BaseException:
        os.unlink(destination)
        raise
