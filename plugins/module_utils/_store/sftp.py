# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An SFTP backup store (paramiko): key authentication (a key file or the agent), the server's host key checked
against a known_hosts file, large windows and pipelined writes and reads."""
from __future__ import annotations

import base64
import builtins
import collections
import hashlib
import os
import posixpath
import socket
import stat
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._store.base import StoreError, StoredFile
from ansible_collections.etcdops.dr.plugins.module_utils._store.url import StoreUrl

_FAILED: tuple[type[BaseException], ...]
try:
    import paramiko
    from paramiko.sftp import CMD_EXTENDED, CMD_READ, CMD_STATUS, CMD_WRITE, SFTPError, int64
    HAS_PARAMIKO = True
    # What a failed SFTP operation raises: socket errors and timeouts (OSError), a connection that dropped while a
    # reply was awaited (paramiko's SSHException, EOFError), a reply that makes no sense (SFTPError).
    _FAILED = (OSError, EOFError, paramiko.SSHException, SFTPError)
except ImportError:
    HAS_PARAMIKO = False
    _FAILED = (OSError, EOFError)

# Large windows keep the link busy while the server acknowledges; without them paramiko waits on every 2 MiB.
WINDOW = 64 * 1024 * 1024
# AES-GCM first: one pass for cipher and MAC, the cheapest for paramiko's Python packet loop.
CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")
# Bytes of read requests in flight while reading back: enough to keep the link busy, little to hold.
READ_AHEAD_BYTES = 2 * 1024 * 1024
# paramiko sends at most 32 KiB of file data per SFTP request, and a channel packet carries at most 32 KiB - 64
# (OpenSSH's session channels): a full request and its header took two packets, the second nearly empty. Requests
# this size fit in one, in both directions.
REQUEST_SIZE = 32 * 1024 - 128
# Larger reads and writes where the server says it takes them (OpenSSH's limits@openssh.com: 255 KiB): a third less
# CPU here for the same bytes (fewer SFTP requests and replies to build and parse).
LARGEST_REQUEST = 255 * 1024
# Write requests sent before the oldest one's status is read (the server's channel window, 2 MiB for OpenSSH, bounds
# the bytes on the way).
WRITES_IN_FLIGHT = 64
# What SFTPClient keeps of its requests (the same names from paramiko 1.x to 5.1, tested here), which _send_write
# takes part in.
_REQUEST_STATE = ("_lock", "request_number", "_expecting")
# Temporary names: .<name>.partial-<random>; never a backup's name, so a listing never takes one for a backup.
PARTIAL = ".partial-"


# RSA keys are recorded as ssh-rsa and offered under these signature names too.
_RSA = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


class _Replies:
    """Where paramiko hands the replies to read requests made through it (SFTPClient._async_request)."""

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, Any]] = {}

    def _async_response(self, kind: int, msg: Any, number: int) -> None:
        self.got[number] = (kind, msg)


def fingerprint(key: Any) -> str:
    """SHA256:... as ssh-keygen -l and OpenSSH's messages show it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


class SftpStore:
    """One connection to an SFTP store; use as a context manager. Every failure is a StoreError whose msg names the
    store, the problem and the fix."""

    verified_by = "read back from the store and hashed"
    # The upload's file is read and hashed by a thread of its own while this one sends (ops._read_ahead).
    read_ahead = True

    def __init__(self, url: StoreUrl, options: dict[str, Any]) -> None:
        self.url = url
        self.options = options
        self.port = url.port or 22
        self.transport: Any = None
        self.sftp: Any = None
        self.host_key_added: str | None = None
        # Seconds spent sending and reading back, for the upload's result (and bench/store.py).
        self.seconds = dict(send=0.0, read_back=0.0)
        self.write_size = self.read_size = REQUEST_SIZE

    # -- connection ------------------------------------------------------------------------------------------------
    def __enter__(self) -> SftpStore:
        if not HAS_PARAMIKO:
            raise StoreError("%s: paramiko is not installed on this host: install it (requirements.txt; see "
                             "docs/hosts.md) where the store is written from" % self.url)
        timeout = self.options.get("timeout") or 30
        try:
            sock = socket.create_connection((self.url.host, self.port), timeout=timeout)
        except OSError as exc:
            raise StoreError("%s: cannot connect to %s port %d (%s): check the host, the port and that its SSH "
                             "server runs and lets this host in" % (self.url, self.url.host, self.port, exc)) from None
        try:
            self.transport = paramiko.Transport(sock, default_window_size=WINDOW,
                                                default_max_packet_size=paramiko.common.DEFAULT_MAX_PACKET_SIZE)
            offered = self.transport.get_security_options()
            offered.ciphers = [c for c in CIPHERS if c in offered.ciphers] + [
                c for c in offered.ciphers if c not in CIPHERS]
            known_path, known = self._known_hosts()
            # As OpenSSH does: ask for a host key of a type known_hosts holds for this server, so that a server with
            # several keys is not taken for an unknown one.
            recorded = set(known.lookup(self._known_hosts_name()) or {})

            def is_recorded(kind: str) -> bool:
                return kind in recorded or (kind in _RSA and "ssh-rsa" in recorded)
            offered.key_types = sorted(offered.key_types, key=lambda kind: not is_recorded(kind))
            self.transport.start_client(timeout=timeout)
            self._check_host_key(self.transport.get_remote_server_key(), known_path, known)
            self._authenticate()
            self.sftp = paramiko.SFTPClient.from_transport(self.transport, window_size=WINDOW)
            self.sftp.get_channel().settimeout(timeout)
            self.read_size, self.write_size = self._request_sizes()
        except StoreError:
            self.close()
            raise
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise StoreError("%s: the SSH session failed (%s): check that %s:%d is an SSH server with SFTP" % (
                self.url, exc or type(exc).__name__, self.url.host, self.port)) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.sftp is not None:
            self.sftp.close()
        if self.transport is not None:
            self.transport.close()

    def _request_sizes(self) -> tuple[int, int]:
        """(read, write) sizes to use: what the server's limits@openssh.com allows, up to LARGEST_REQUEST;
        REQUEST_SIZE (what every SFTP server takes) when it does not say."""
        try:
            dummy, msg = self.sftp._request(CMD_EXTENDED, "limits@openssh.com")
            dummy_packet, most_read, most_write = msg.get_int64(), msg.get_int64(), msg.get_int64()
        except (OSError, paramiko.SSHException, EOFError):
            return REQUEST_SIZE, REQUEST_SIZE

        def size(most: int) -> int:
            return min(max(most, REQUEST_SIZE), LARGEST_REQUEST) if most else REQUEST_SIZE
        return size(most_read), size(most_write)

    def _known_hosts_name(self) -> str:
        return self.url.host if self.port == 22 else "[%s]:%d" % (self.url.host, self.port)

    def _known_hosts(self) -> tuple[str, Any]:
        path = os.path.expanduser(self.options.get("known_hosts") or "~/.ssh/known_hosts")
        known = paramiko.HostKeys()
        if os.path.exists(path):
            try:
                known.load(path)
            except (OSError, paramiko.SSHException) as exc:
                raise StoreError("%s: known_hosts file %s cannot be read (%s): fix it or give another "
                                 "(known_hosts)" % (self.url, path, exc)) from None
        return path, known

    def _check_host_key(self, key: Any, path: str, known: Any) -> None:
        name = self._known_hosts_name()
        entries = known.lookup(name) or {}
        if key.get_name() in entries:
            if entries[key.get_name()] == key:
                return
            raise StoreError("%s: the server's %s host key has CHANGED: it is now %s, and %s records another. "
                             "Someone may be in the middle, or the server was rebuilt: find out which, then replace "
                             "its line for %s in %s. Nothing was written." % (
                                 self.url, key.get_name(), fingerprint(key), path, name, path))
        if not self.options.get("accept_new_host_key"):
            raise StoreError("%s: the server's host key is not known: %s %s is not in %s. Check that fingerprint "
                             "with the server's owner, then add its line (ssh-keyscan -p %d %s >> %s), or set "
                             "accept_new_host_key to trust it on first use. Nothing was written." % (
                                 self.url, key.get_name(), fingerprint(key), path, self.port, self.url.host, path))
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        with open(path, "a") as handle:
            handle.write("%s %s %s\n" % (name, key.get_name(), key.get_base64()))
        self.host_key_added = "%s %s" % (key.get_name(), fingerprint(key))

    def _keys(self) -> Iterator[Any]:
        key_file = self.options.get("key_file")
        if key_file:
            try:
                # Positional: paramiko 5 renamed the argument (passphrase -> password); both hand it to cryptography's
                # loaders, which take bytes only ("password must be bytes" for a str).
                passphrase = self.options.get("key_passphrase")
                yield paramiko.PKey.from_path(os.path.expanduser(key_file),
                                              passphrase.encode("utf-8") if passphrase else None)
            except (OSError, paramiko.SSHException, ValueError) as exc:
                raise StoreError("%s: key file %s cannot be used (%s): give a readable private key (key_file), and "
                                 "its passphrase (key_passphrase) if it has one" % (self.url, key_file, exc)) from None
            return
        yield from paramiko.Agent().get_keys()

    def _authenticate(self) -> None:
        tried = []
        for key in self._keys():
            tried.append("%s %s" % (key.get_name(), fingerprint(key)))
            try:
                self.transport.auth_publickey(self.url.user, key)
                return
            except paramiko.AuthenticationException:
                continue
        if not tried:
            raise StoreError("%s: no key to log in with: give key_file, or run an SSH agent that holds the key "
                             "(SSH_AUTH_SOCK)" % self.url)
        raise StoreError("%s: the server refused user %s with %s: put that public key in the user's "
                         "authorized_keys on the server, or give the right key (key_file). Nothing was written." % (
                             self.url, self.url.user, ", ".join(tried)))

    # -- files -----------------------------------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return posixpath.join(self.url.path, name)

    def _fail(self, what: str, exc: BaseException) -> StoreError:
        return StoreError("%s: %s failed: %s" % (self.url, what, exc or type(exc).__name__))

    def check_dir(self) -> None:
        """Fail unless the store's dir exists and is a dir."""
        try:
            mode = self.sftp.stat(self.url.path).st_mode
        except _FAILED as exc:
            raise StoreError("%s: dir %s on %s cannot be used (%s): create it on the server (writable by %s), or "
                             "fix the URL" % (self.url, self.url.path, self.url.host, exc, self.url.user)) from None
        if not stat.S_ISDIR(mode or 0):
            raise StoreError("%s: %s on %s is not a dir: fix the URL" % (self.url, self.url.path, self.url.host))

    def free_bytes(self) -> int | None:
        """Free space in the store's dir (statvfs@openssh.com), or None when the server does not say."""
        try:
            dummy, msg = self.sftp._request(CMD_EXTENDED, "statvfs@openssh.com", self.url.path)
        except (OSError, paramiko.SSHException, EOFError):
            return None
        values = [msg.get_int64() for dummy in range(11)]
        frsize, bavail = values[1], values[4]
        return frsize * bavail

    def list(self) -> list[StoredFile]:
        try:
            return [StoredFile(entry.filename, entry.st_size or 0, entry.st_mtime or 0)
                    for entry in self.sftp.listdir_attr(self.url.path) if stat.S_ISREG(entry.st_mode or 0)]
        except _FAILED as exc:
            raise self._fail("listing %s" % self.url.path, exc) from None

    def read_small(self, name: str, limit: int = 1024 * 1024) -> bytes:
        try:
            with self.sftp.open(self._path(name), "rb") as handle:
                return handle.read(limit)
        except _FAILED as exc:
            raise self._fail("reading %s" % name, exc) from None

    def read_chunks(self, name: str, size: int) -> Iterator[bytes]:
        """The file's first `size` bytes (fewer if it is shorter), with READ_AHEAD_BYTES of read requests in flight.
        paramiko's own prefetch scans every block it holds on each read: with a consumer that lags it slowed down
        and grew to hundreds of MB; this keeps a fixed number of requests and takes the replies in order."""
        try:
            with self.sftp.open(self._path(name), "rb") as handle:
                replies = _Replies()
                pending: collections.deque[tuple[int, int]] = collections.deque()
                asked = 0
                in_flight = max(2, READ_AHEAD_BYTES // self.read_size)
                while pending or asked < size:
                    while asked < size and len(pending) < in_flight:
                        length = min(self.read_size, size - asked)
                        pending.append((self.sftp._async_request(replies, CMD_READ, handle.handle, int64(asked),
                                                                 length), length))
                        asked += length
                    number, length = pending.popleft()
                    kind, msg = self._reply(number, replies)
                    if kind == CMD_STATUS:
                        try:
                            self.sftp._convert_status(msg)
                        except EOFError:
                            return
                    data = msg.get_string()
                    yield data
                    if len(data) < length:
                        # A short read: the file ended early (it changed); the hash tells.
                        return
        except _FAILED as exc:
            raise self._fail("reading %s" % name, exc) from None

    def stage(self, name: str, chunks: Iterator[bytes], size: int, sha256: Callable[[], str]) -> str:
        """Store `chunks` under a temporary name for `name`, read it back and hash it; returns the temporary name once
        the bytes read back have the sha256 that `sha256()` gives after every chunk was sent (commit() gives it its
        name). On any failure the temporary file is removed."""
        temp = ".%s%s%s" % (name, PARTIAL, os.urandom(4).hex())
        try:
            began = time.monotonic()
            self._write(temp, chunks)
            expected = sha256()
            self.seconds["send"] += time.monotonic() - began
            began = time.monotonic()
            stored = hashlib.sha256()
            for chunk in self.read_chunks(temp, size):
                stored.update(chunk)
            self.seconds["read_back"] += time.monotonic() - began
            if stored.hexdigest() != expected:
                raise StoreError("%s: %s reads back from the store with sha256 %s, not %s as sent: the store or the "
                                 "link corrupts data; nothing was stored under its name" % (
                                     self.url, name, stored.hexdigest(), expected))
        except BaseException:
            self.discard(temp)
            raise
        return temp

    def discard(self, temp: str) -> None:
        """Remove a temporary file after a failure; never raises."""
        try:
            self.remove(temp)
        except StoreError:
            pass

    def _write(self, name: str, chunks: Iterator[bytes]) -> None:
        """Write `chunks` to `name` (a temporary name), 0600, pipelined: up to WRITES_IN_FLIGHT requests are sent
        before the oldest one's status is read, and any status but OK fails the write."""
        written = 0
        try:
            with self.sftp.open(self._path(name), "wb") as handle:
                self.sftp.chmod(self._path(name), 0o600)
                if not all(hasattr(self.sftp, state) for state in _REQUEST_STATE):
                    # A paramiko without the request state _send_write uses: its own pipelined writes, slower.
                    handle.set_pipelined(True)
                    handle.MAX_REQUEST_SIZE = self.write_size
                    for chunk in chunks:
                        handle.write(chunk)
                        written += len(chunk)
                    return
                replies = _Replies()
                pending: collections.deque[int] = collections.deque()
                for chunk in chunks:
                    view = memoryview(chunk)
                    for start in range(0, len(view), self.write_size):
                        piece = view[start:start + self.write_size]
                        pending.append(self._send_write(handle.handle, written, piece, replies))
                        written += len(piece)
                        while len(pending) > WRITES_IN_FLIGHT:
                            self._take_status(pending.popleft(), replies)
                while pending:
                    self._take_status(pending.popleft(), replies)
        except _FAILED as exc:
            free = self.free_bytes()
            hint = (" (%d bytes free there now: the server's disk is most likely full)" % free
                    if free is not None and free < 1024 * 1024 else "")
            raise StoreError("%s: writing %s failed after %d bytes: %s%s" % (
                self.url, name, written, exc or type(exc).__name__, hint)) from None

    def _send_write(self, handle: bytes, offset: int, data: memoryview, replies: _Replies) -> int:
        """Send one SFTP write request; returns its number (its status reaches `replies`). paramiko's SFTPFile.write
        copies each request several times (into a Message, into the packet, then the rest of the packet at each
        32 KiB channel slice): here the request is built once and handed to the channel as a memoryview, which cut
        the sending time by about a tenth (bench/store.py)."""
        sftp = self.sftp
        with sftp._lock:
            number = sftp.request_number
            sftp._expecting[number] = replies
            sftp.request_number += 1
        # uint32 length, byte type, uint32 request id, string handle, uint64 offset, string data (draft-ietf-secsh-
        # filexfer-02, SSH_FXP_WRITE).
        packet = b"".join((struct.pack(">IBII", 1 + 4 + 4 + len(handle) + 8 + 4 + len(data), CMD_WRITE, number,
                                       len(handle)), handle, struct.pack(">QI", offset, len(data)), data))
        sftp.sock.sendall(memoryview(packet))
        return number

    def _reply(self, number: int, replies: _Replies) -> tuple[int, Any]:
        """(type, message) of the reply to request `number`, reading replies (to this or earlier requests) until it
        is there."""
        while number not in replies.got:
            self.sftp._read_response()
        return replies.got.pop(number)

    def _take_status(self, number: int, replies: _Replies) -> None:
        """Wait for write request `number`'s status; raises OSError unless it is OK."""
        kind, msg = self._reply(number, replies)
        if kind != CMD_STATUS:
            raise OSError("the server answered a write with SFTP message type %d, not a status" % kind)
        self.sftp._convert_status(msg)

    def commit(self, temp_name: str, name: str, sha256: str | None = None) -> None:
        """Give the temporary file (verified by stage()) its final name; refused when that name is taken (SFTP's
        rename never replaces)."""
        try:
            self.sftp.rename(self._path(temp_name), self._path(name))
        except _FAILED as exc:
            raise self._fail("renaming %s to %s" % (temp_name, name), exc) from None

    def stale(self, files: builtins.list[StoredFile], older_than: float) -> builtins.list[str]:
        """Temporary files of uploads that died more than `older_than` seconds ago."""
        now = time.time()
        return [f.name for f in files if f.name.startswith(".") and PARTIAL in f.name and now - f.mtime > older_than]

    def remove_stale(self, name: str) -> None:
        self.remove(name)

    def remove(self, name: str) -> None:
        try:
            self.sftp.remove(self._path(name))
        except FileNotFoundError:
            pass
        except _FAILED as exc:
            raise self._fail("removing %s" % name, exc) from None
