# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The body of an encrypted file: fixed-size chunks, each AES-256-GCM with its own tag, the nonce its index and a
last-chunk flag, so that a chunk that was changed, moved or cut off does not open. Sealer writes a stream in constant
memory; Opened reads it back, in order (decrypt, verify) or at any offset (pread, for the database reader)."""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import TAG, CryptoError, Header

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

# Decrypted chunks an Opened keeps for pread (each chunk_size bytes).
CACHED_CHUNKS = 4


def nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class Sealer:
    """Encrypts what is written to it into `out` (a binary file open for writing) for `recipients` (key id, raw
    public key); close() writes the last chunk. `sha256`/`size`: of the encrypted bytes written so far."""

    def __init__(self, out: BinaryIO, recipients: list[tuple[str, bytes]],
                 chunk_size: int = envelope.CHUNK_SIZE) -> None:
        dummy, dummy, dummy, AESGCM, dummy = envelope.library()
        self.file_key = os.urandom(envelope.RAW_KEY)
        self.header = envelope.seal_header(self.file_key, recipients, chunk_size)
        self.aead = AESGCM(envelope.derive(self.file_key, self.header.salt, envelope.PAYLOAD_INFO))
        self.out = out
        self.chunk_size = chunk_size
        self.pending = bytearray()
        self.index = 0
        self.digest = hashlib.sha256()
        self.size = 0
        self._emit(self.header.raw)

    def _emit(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)
        self.size += len(data)

    def write(self, data: bytes | memoryview) -> None:
        self.pending += data
        # A full chunk waits until a byte follows it: only close() knows which chunk is the last.
        while len(self.pending) > self.chunk_size:
            view = memoryview(self.pending)
            try:
                self._emit(self.aead.encrypt(nonce(self.index, False), view[:self.chunk_size], None))
            finally:
                view.release()
            self.index += 1
            del self.pending[:self.chunk_size]

    def close(self) -> None:
        self._emit(self.aead.encrypt(nonce(self.index, True), bytes(self.pending), None))
        self.index += 1
        self.pending = bytearray()

    def describe(self) -> dict:
        return self.header.describe()


def layout(size: int, header: Header, name: str) -> tuple[int, int]:
    """(chunks, plaintext bytes) of a file of `size` bytes with `header`; CryptoError(truncated) when no whole
    number of chunks fits."""
    body = size - header.length
    whole = header.chunk_size + TAG
    full, rest = divmod(body, whole)
    if body < TAG or 0 < rest < TAG:
        raise CryptoError("%s is truncated: %d bytes after its header is no whole number of %d-byte chunks and a "
                          "last chunk of at least its %d-byte tag" % (name, body, whole, TAG), "truncated")
    chunks = full + (1 if rest else 0)
    return chunks, body - chunks * TAG


class Opened:
    """An encrypted file opened with its file key (from envelope.unlock, or the Sealer that wrote it). Every chunk
    read is authenticated; CryptoError names the chunk that does not open and why."""

    def __init__(self, path: str, file_key: bytes, header: Header | None = None) -> None:
        dummy, dummy, dummy, AESGCM, dummy = envelope.library()
        self.path = path
        self.handle = open(path, "rb")
        try:
            self.header = header or envelope.read_header(self.handle, path)
            envelope.check_mac(self.header, path, file_key)
            self.chunks, self.size = layout(os.fstat(self.handle.fileno()).st_size, self.header, path)
        except BaseException:
            self.handle.close()
            raise
        self.aead = AESGCM(envelope.derive(file_key, self.header.salt, envelope.PAYLOAD_INFO))
        self.cache: OrderedDict[int, bytes] = OrderedDict()

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.handle.close()

    def chunk(self, index: int, digest: Any = None) -> bytes:
        """The plaintext of chunk `index`; `digest` (a hashlib object) is given its encrypted bytes."""
        whole = self.header.chunk_size + TAG
        offset = self.header.length + index * whole
        data = os.pread(self.handle.fileno(), whole, offset)
        if digest is not None:
            digest.update(data)
        last = index == self.chunks - 1
        try:
            return self.aead.decrypt(nonce(index, last), data, None)
        except Exception:
            pass
        if last:
            try:
                self.aead.decrypt(nonce(index, False), data, None)
            except Exception:
                pass
            else:
                raise CryptoError("%s is truncated: it ends after chunk %d of its data, which is not the last one "
                                  "written" % (self.path, index), "truncated") from None
        short = " (shorter than a whole chunk: the file may have been cut short)" if len(data) < whole else ""
        raise CryptoError("%s: chunk %d (bytes %d to %d%s) fails its authentication tag: the file was tampered with or "
                          "damaged, or its chunks were reordered" % (self.path, index, offset, offset + len(data), short),
                          "tampered") from None

    def plaintext(self, digest: Any = None) -> Iterator[bytes]:
        """Every chunk's plaintext, in order; `digest` (a hashlib object) is given the whole file's bytes as read."""
        if digest is not None:
            digest.update(self.header.raw)
        for index in range(self.chunks):
            yield self.chunk(index, digest)

    def pread(self, offset: int, size: int) -> bytes:
        """Up to `size` plaintext bytes at `offset`, as os.pread reads a file."""
        parts = []
        end = min(offset + size, self.size)
        while offset < end:
            index, start = divmod(offset, self.header.chunk_size)
            data = self.cache.get(index)
            if data is None:
                data = self.cache[index] = self.chunk(index)
                if len(self.cache) > CACHED_CHUNKS:
                    self.cache.popitem(last=False)
            else:
                self.cache.move_to_end(index)
            piece = data[start:start + end - offset]
            parts.append(piece)
            offset += len(piece)
        return b"".join(parts)


def open_file(path: str, key: tuple[str, X25519PrivateKey] | None) -> Opened:
    """`path` opened with the private `key` (key id, X25519PrivateKey) of one of its recipients."""
    with open(path, "rb") as handle:
        header = envelope.read_header(handle, path)
    return Opened(path, envelope.unlock(header, path, key), header)
