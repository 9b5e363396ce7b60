"""The local backup read for an SFTP upload: read and hashed by a thread of its own, ahead of the sending."""
import hashlib
import os
import re
import threading

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._store import ops
from ansible_collections.etcdops.dr.plugins.module_utils._store.url import parse


def readers():
    return [t for t in threading.enumerate() if t.name.startswith("read ")]


def test_every_byte_comes_in_order_and_the_digest_holds_the_whole_file(tmp_path):
    data = os.urandom(ops.CHUNK * (ops.READ_AHEAD_CHUNKS + 3) + 12345)
    path = tmp_path / "snapshot.db"
    path.write_bytes(data)
    digest = hashlib.sha256()
    chunks = list(ops._read_ahead(str(path), digest))
    assert b"".join(chunks) == data and max(len(c) for c in chunks) == ops.CHUNK
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert readers() == []


def test_an_empty_file_gives_no_chunk(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    assert list(ops._read_ahead(str(path), hashlib.sha256())) == []


def test_a_sending_that_stops_early_stops_the_reader_with_few_chunks_read(tmp_path):
    path = tmp_path / "snapshot.db"
    path.write_bytes(os.urandom(ops.CHUNK * (ops.READ_AHEAD_CHUNKS + 20)))
    chunks = ops._read_ahead(str(path), hashlib.sha256())
    next(chunks)
    assert len(readers()) == 1
    chunks.close()
    assert readers() == []


def test_a_file_that_cannot_be_read_fails_the_sending_with_its_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(ops._read_ahead(str(tmp_path / "gone.db"), hashlib.sha256()))
    assert readers() == []


class FailingDigest:
    """A digest that fails on its second chunk, as any error in the reading thread would."""

    def __init__(self):
        self.calls = 0

    def update(self, chunk):
        self.calls += 1
        if self.calls == 2:
            raise ValueError("the digest broke")


def test_any_error_of_the_reader_reaches_the_sending_instead_of_a_wait(tmp_path):
    path = tmp_path / "snapshot.db"
    path.write_bytes(os.urandom(ops.CHUNK * 3))
    chunks = ops._read_ahead(str(path), FailingDigest())
    assert len(next(chunks)) == ops.CHUNK
    with pytest.raises(ValueError, match="the digest broke"):
        next(chunks)
    assert readers() == []


class FailingStore:
    """A store whose sending fails after the first chunk, as a cut connection would."""

    read_ahead = True
    url = parse("sftp://backup@127.0.0.1/srv/backups")

    def stage(self, name, chunks, size, sha256):
        next(chunks)
        assert len(readers()) == 1
        raise ops.StoreError("the link was cut")


def with_an_empty_dir(store):
    """`store`, answering what upload() asks before it sends: its dir is there, empty, with room enough."""
    store.check_dir = lambda: None
    store.list = lambda: []
    store.stale = lambda files, older_than: []
    store.free_bytes = lambda: None
    store.host_key_added = None
    return store


def test_a_failed_sending_stops_the_reader_at_once(tmp_path):
    path = tmp_path / "etcd-snapshot-20261101T000000Z.db"
    path.write_bytes(os.urandom(ops.CHUNK * (ops.READ_AHEAD_CHUNKS + 20)))
    (tmp_path / (path.name + ".json")).write_text("{}")
    store = with_an_empty_dir(FailingStore())
    with pytest.raises(ops.StoreError, match="the link was cut") as failed:
        ops.upload(store, str(path), "0" * 64, check_mode=False)
    # While the failure (and its traceback, which holds upload's frame) is still at hand, as in the module.
    assert readers() == [] and failed.traceback


class ReadingStore(FailingStore):
    """A store that takes every chunk it is given."""

    def stage(self, name, chunks, size, sha256):
        for dummy in chunks:
            pass
        raise AssertionError("the local file was read to its end")


@pytest.mark.parametrize("read_ahead", [True, False])
def test_a_local_read_error_fails_the_upload_as_a_read_of_the_local_file(tmp_path, read_ahead):
    path = tmp_path / "etcd-snapshot-20261101T000000Z.db"
    path.mkdir()
    (tmp_path / (path.name + ".json")).write_text("{}")
    store = with_an_empty_dir(ReadingStore())
    store.read_ahead = read_ahead
    expected = "^reading the local backup %s failed \\(.*Is a directory" % re.escape(str(path))
    with pytest.raises(ops.StoreError, match=expected):
        ops.upload(store, str(path), "0" * 64, check_mode=False)
    assert readers() == []
