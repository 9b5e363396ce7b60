"""SFTP writes: each SSH_FXP_WRITE request framed as the protocol says, at most WRITES_IN_FLIGHT of them waiting for
their status, a failed status failing the upload; paramiko's own writes where its request state is not there. The
SFTP session is a fake: integration tests send to the bed's real sshd."""
import hashlib
import struct
import threading
import types

import paramiko
import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._store import ops
from ansible_collections.etcdops.dr.plugins.module_utils._store import sftp as _sftp
from ansible_collections.etcdops.dr.plugins.module_utils._store.base import StoreError
from ansible_collections.etcdops.dr.plugins.module_utils._store.url import parse


class Channel:
    def __init__(self):
        self.sent = bytearray()

    def sendall(self, data):
        self.sent += data


class Handle:
    def __init__(self):
        self.handle = b"handle-7"
        self.written = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def set_pipelined(self, on):
        self.pipelined = on

    def write(self, data):
        self.written.append(bytes(data))


class Session:
    """The parts of paramiko's SFTPClient that the store uses; every request is answered in order."""

    def __init__(self, fail_request=None):
        self._lock = threading.Lock()
        self.request_number = 100
        self._expecting = {}
        self.sock = Channel()
        self.opened = Handle()
        self.fail_request = fail_request
        self.most_waiting = 0
        self.chmod_mode = None
        self.removed = []

    def open(self, path, mode):
        assert mode == "wb"
        return self.opened

    def chmod(self, path, mode):
        self.chmod_mode = mode

    def _read_response(self):
        self.most_waiting = max(self.most_waiting, len(self._expecting))
        number = min(self._expecting)
        code = 4 if number == self.fail_request else 0
        self._expecting.pop(number)._async_response(_sftp.CMD_STATUS, types.SimpleNamespace(code=code), number)

    def _convert_status(self, msg):
        if msg.code:
            raise OSError("Failure")

    def _request(self, *args):
        raise OSError("no statvfs here")

    def remove(self, path):
        self.removed.append(path)


def store(session, write_size):
    sftp_store = _sftp.SftpStore(parse("sftp://backup@127.0.0.1/srv/backups"), {})
    sftp_store.sftp = session
    sftp_store.write_size = write_size
    return sftp_store


def requests(sent):
    """The SSH_FXP_WRITE requests in `sent`: (request id, handle, offset, data)."""
    found, view = [], bytes(sent)
    while view:
        length, kind, number, handle_length = struct.unpack(">IBII", view[:13])
        assert kind == _sftp.CMD_WRITE and len(view) >= 4 + length
        body = view[13:4 + length]
        handle, rest = body[:handle_length], body[handle_length:]
        offset, data_length = struct.unpack(">QI", rest[:12])
        assert len(rest) == 12 + data_length
        found.append((number, handle, offset, rest[12:]))
        view = view[4 + length:]
    return found


def test_every_byte_goes_in_framed_requests_at_its_offset_with_few_waiting():
    session = Session()
    data = bytes(range(256)) * 40
    chunks = [data[:3000], data[3000:3001], data[3001:]]
    store(session, write_size=100)._write(".a.db.partial-1", iter(chunks))
    sent = requests(session.sock.sent)
    pieces = [piece for dummy, dummy2, dummy3, piece in sent]
    assert b"".join(pieces) == data
    # A request never spans two chunks: 30 of the first, 1 of the second, 73 of the third (the last one short).
    assert [len(piece) for piece in pieces] == [100] * 30 + [1] + [100] * 72 + [39]
    assert [offset for dummy, dummy2, offset, dummy3 in sent] == [sum(map(len, pieces[:n])) for n in range(len(pieces))]
    assert {handle for dummy, handle, dummy2, dummy3 in sent} == {b"handle-7"}
    assert [number for number, dummy, dummy2, dummy3 in sent] == list(range(100, 100 + len(sent)))
    assert session._expecting == {} and session.chmod_mode == 0o600
    assert session.most_waiting == _sftp.WRITES_IN_FLIGHT + 1


def test_a_failed_status_fails_the_upload_with_the_bytes_sent():
    session = Session(fail_request=102)
    with pytest.raises(StoreError) as failed:
        store(session, write_size=1000)._write(".a.db.partial-1", iter([b"x" * 5000]))
    assert "writing .a.db.partial-1 failed after 5000 bytes: Failure" in failed.value.msg


def test_without_paramikos_request_state_its_own_pipelined_writes_are_used():
    session = Session()
    del session._expecting
    store(session, write_size=1000)._write(".a.db.partial-1", iter([b"ab", b"cd"]))
    assert session.opened.written == [b"ab", b"cd"] and session.opened.pipelined
    assert session.opened.MAX_REQUEST_SIZE == 1000 and session.sock.sent == b""


def test_a_connection_that_drops_while_a_status_is_awaited_fails_the_upload_with_its_message():
    session = Session()

    def dropped():
        raise paramiko.SSHException("Server connection dropped: ")
    session._read_response = dropped
    with pytest.raises(StoreError) as failed:
        store(session, write_size=1000)._write(".a.db.partial-1", iter([b"x" * 70000]))
    assert "writing .a.db.partial-1 failed after 65000 bytes: Server connection dropped" in failed.value.msg


def test_a_local_file_that_cannot_be_read_is_told_as_that_and_the_partial_file_removed(tmp_path):
    session = Session()
    unreadable = tmp_path / "etcd-snapshot-20261101T000000Z.db"
    unreadable.mkdir()
    chunks = ops._told_as_local(ops._read_ahead(str(unreadable), hashlib.sha256()), str(unreadable))
    with pytest.raises(StoreError) as failed:
        store(session, write_size=1000).stage(unreadable.name, chunks, 0, lambda: "0" * 64)
    # Not "writing ... failed": the store was fine, the local disk or file was not.
    assert failed.value.msg.startswith("reading the local backup %s failed (" % unreadable)
    assert "Is a directory" in failed.value.msg and "writing" not in failed.value.msg
    assert len(session.removed) == 1 and session.removed[0].startswith("/srv/backups/." + unreadable.name + ".partial-")
