"""Writing a snapshot stream: the sha256 trailer decides whether the file takes its final name."""
import collections
import hashlib
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._etcd.client import EtcdError
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import stream_to_file
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import BackupFileError

Message = collections.namedtuple("Message", "blob")


def messages(db, chunk=1000, corrupt_at=None, stop_after=None, fail_after=None):
    stream = db + hashlib.sha256(db).digest()
    if corrupt_at is not None:
        stream = stream[:corrupt_at] + bytes([stream[corrupt_at] ^ 0xFF]) + stream[corrupt_at + 1:]
    for number, start in enumerate(range(0, len(stream), chunk)):
        if number == stop_after:
            return
        if number == fail_after:
            raise EtcdError("etcd endpoint https://10.0.0.1:2379: unreachable (Socket closed).")
        yield Message(stream[start:start + chunk])


@pytest.mark.parametrize("chunk", [7, 31, 32, 33, 999, 32 * 1024])
def test_a_good_stream_is_written_with_its_trailer(tmp_path, chunk):
    db = os.urandom(10_000)
    written = stream_to_file(messages(db, chunk=chunk), str(tmp_path / "s.db"))
    data = (tmp_path / "s.db").read_bytes()
    assert data == db + hashlib.sha256(db).digest()
    assert written["size"] == len(data) and written["sha256"] == hashlib.sha256(data).hexdigest()
    assert written["db_sha256"] == hashlib.sha256(db).hexdigest()
    assert oct((tmp_path / "s.db").stat().st_mode & 0o777) == "0o600"
    assert os.listdir(tmp_path) == ["s.db"]


@pytest.mark.parametrize("kwargs, expected", [
    (dict(corrupt_at=5000), "trailer does not match"),
    (dict(corrupt_at=10_010), "trailer does not match"),
    (dict(stop_after=5), "trailer does not match"),
    (dict(stop_after=0), "ended after 0 bytes"),
])
def test_a_bad_stream_leaves_no_file(tmp_path, kwargs, expected):
    with pytest.raises(BackupFileError, match=expected):
        stream_to_file(messages(os.urandom(10_000), **kwargs), str(tmp_path / "s.db"))
    assert os.listdir(tmp_path) == []


def test_a_broken_stream_leaves_no_file(tmp_path):
    with pytest.raises(EtcdError, match="Socket closed"):
        stream_to_file(messages(os.urandom(10_000), fail_after=3), str(tmp_path / "s.db"))
    assert os.listdir(tmp_path) == []
