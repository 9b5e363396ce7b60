"""Backup file helpers: names never collide, a failed copy leaves nothing under the final name, the
manifest records what it must."""
import datetime
import hashlib
import json
import os
import pathlib

import pytest
import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._snapshot import file as _snapshot_file
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import BackupFileError

NOW = datetime.datetime(2026, 11, 24, 10, 15, 0, tzinfo=datetime.timezone.utc)


def test_names_are_timestamped_and_never_reused(tmp_path):
    first = _snapshot_file.new_backup_path(str(tmp_path), "etcd-cold", "db", now=NOW)
    assert first == str(tmp_path / "etcd-cold-20261124T101500Z.db")
    pathlib.Path(first).write_bytes(b"x")
    second = _snapshot_file.new_backup_path(str(tmp_path), "etcd-cold", "db", now=NOW)
    assert second == str(tmp_path / "etcd-cold-20261124T101500Z-2.db")
    pathlib.Path(second + ".json").write_text("{}")
    assert _snapshot_file.new_backup_path(str(tmp_path), "etcd-cold", "db", now=NOW).endswith("-3.db")


def test_copy_is_hashed_private_and_complete(tmp_path):
    source = tmp_path / "db"
    source.write_bytes(os.urandom(3 * _snapshot_file.CHUNK + 17))
    size, digest, dummy = _snapshot_file.copy_hashed(str(source), str(tmp_path / "copy.db"))
    assert size == source.stat().st_size
    assert digest == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (tmp_path / "copy.db").read_bytes() == source.read_bytes()
    assert oct((tmp_path / "copy.db").stat().st_mode & 0o777) == "0o600"
    assert sorted(os.listdir(tmp_path)) == ["copy.db", "db"]


def test_a_source_that_changes_during_the_copy_is_discarded(tmp_path, monkeypatch):
    source = tmp_path / "db"
    source.write_bytes(b"a" * 100)
    real_stat = os.stat

    def stat_then_write(path, *args, **kwargs):
        """A writer appends to the db right after each stat the copy makes."""
        result = real_stat(path, *args, **kwargs)
        if str(path) == str(source):
            with open(source, "ab") as handle:
                handle.write(b"b")
        return result

    monkeypatch.setattr(_snapshot_file.os, "stat", stat_then_write)
    with pytest.raises(BackupFileError, match="changed while it was copied"):
        _snapshot_file.copy_hashed(str(source), str(tmp_path / "copy.db"))
    assert sorted(os.listdir(tmp_path)) == ["db"]


def test_a_write_error_leaves_no_file(tmp_path, monkeypatch):
    source = tmp_path / "db"
    source.write_bytes(b"a" * 100)

    def disk_full(handle, temp_path, final_path, another_name=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_snapshot_file._files, "commit", disk_full)
    with pytest.raises(OSError, match="No space left"):
        _snapshot_file.copy_hashed(str(source), str(tmp_path / "copy.db"))
    assert sorted(os.listdir(tmp_path)) == ["db"]


def test_destination_checks(tmp_path):
    assert _snapshot_file.check_destination(str(tmp_path / "new" / "dir"), 1) > 0
    with pytest.raises(BackupFileError, match="not enough free disk for the backup in %s: \\d+ bytes free, %d needed"
                       % (tmp_path, 10 ** 18)):
        _snapshot_file.check_destination(str(tmp_path), 10 ** 18)
    (tmp_path / "file").write_text("")
    with pytest.raises(BackupFileError, match="exists but is not a directory"):
        _snapshot_file.check_destination(str(tmp_path / "file"), 1)


def test_manifest_records_the_cluster_facts(tmp_path):
    doc = _snapshot_file.manifest("cold_copy", "/b/etcd-cold-1.db", 10, "ab" * 32, "etcd_cold_copy",
                                  {"cluster_id": "c1", "revision": 7})
    assert doc["file"] == "etcd-cold-1.db" and doc["kind"] == "cold_copy" and doc["size"] == 10
    assert doc["cluster_id"] == "c1" and doc["revision"] == 7 and doc["member_name"] is None
    assert set(_snapshot_file.CLUSTER_FACTS) <= set(doc)
    path = _snapshot_file.write_manifest(str(tmp_path / "x.db"), doc)
    assert json.loads(pathlib.Path(path).read_text()) == doc
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_tool_version_is_the_collection_version():
    galaxy = yaml.safe_load((pathlib.Path(__file__).parents[4] / "galaxy.yml").read_text())
    assert _snapshot_file.COLLECTION_VERSION == galaxy["version"]


def test_a_backup_whose_manifest_cannot_be_written_is_removed(tmp_path, monkeypatch):
    backup = tmp_path / "etcd-cold-1.db"
    backup.write_bytes(b"db")

    def disk_full(path, data, mode=0o600):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_snapshot_file._files, "write_atomic", disk_full)
    with pytest.raises(OSError, match="No space left"):
        _snapshot_file.write_manifest(str(backup), {"kind": "cold_copy"})
    assert os.listdir(tmp_path) == []
