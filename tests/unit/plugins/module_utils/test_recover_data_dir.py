"""What a data dir holds, read from its database file without etcd (etcd_data_dir_info): how far it got, a missing or
damaged database reported (never a failure), and the newest backup in the backup dir by its manifest."""
import json
import os

from ansible_collections.etcdops.dr.plugins.module_utils._recover.data_dir import DataDirInfo, newest_backup
from ansible_collections.etcdops.dr.tests.unit.bolt_writer import BoltWriter, EtcdState
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host, drive


def data_dir(tmp_path, state=None):
    """A data dir whose member/snap/db holds `state` (None: no database)."""
    root = tmp_path / "data"
    (root / "member" / "snap").mkdir(parents=True)
    if state is not None:
        BoltWriter().write(str(root / "member" / "snap" / "db"), state.tree())
    return root


def info(root, backup_dir=None, count_keys=False):
    return drive(DataDirInfo(dict(data_dir=str(root), backup_dir=backup_dir and str(backup_dir),
                                  count_keys=count_keys), Host()))


def cluster_state():
    state = EtcdState()
    state.set_raft(consistent_index=41, term=3)
    state.add_member(0x8E9E05C52164694D, "etcd-a", ["https://10.0.0.1:2380"], ["https://10.0.0.1:2379"])
    state.put(b"a", b"1")
    state.put(b"b", b"2")
    state.delete(b"a")
    return state


def test_how_far_a_database_got_is_read_without_etcd(tmp_path):
    found = info(data_dir(tmp_path, cluster_state()), count_keys=True)
    assert found["readable"] and found["error"] is None and not found["changed"]
    assert (found["consistent_index"], found["term"], found["revision"]) == (41, 3, 4)
    assert found["key_count"] == 1 and found["etcd_running"] is False
    assert [member["name"] for member in found["members"]] == ["etcd-a"]
    assert found["msg"].endswith(": consistent index 41, revision 4")


def test_a_missing_database_is_reported_not_failed(tmp_path):
    found = info(data_dir(tmp_path))
    assert not found["readable"] and found["error"].startswith("no database at ")
    assert found["consistent_index"] is None


def test_a_damaged_database_is_reported_not_failed(tmp_path):
    root = data_dir(tmp_path)
    (root / "member" / "snap" / "db").write_bytes(os.urandom(8192))
    found = info(root)
    assert not found["readable"] and found["error"] and found["revision"] is None


def test_the_newest_backup_is_the_manifest_with_the_highest_revision(tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    for name, revision, created in (("a.db", 10, "2026-12-07T10:00:00Z"), ("b.db", 30, "2026-12-06T10:00:00Z"),
                                    ("c.db", 30, "2026-12-07T11:00:00Z")):
        (backups / (name + ".json")).write_text(json.dumps(dict(file=name, revision=revision, created=created,
                                                                kind="snapshot")))
    (backups / "broken.json").write_text("{not json")
    (backups / "other.json").write_text(json.dumps(dict(something="else")))
    assert newest_backup(str(backups)) == dict(path=str(backups / "c.db"), revision=30,
                                               created="2026-12-07T11:00:00Z", kind="snapshot")
    assert info(data_dir(tmp_path, cluster_state()), backup_dir=backups)["newest_backup"]["path"] == str(
        backups / "c.db")
    assert newest_backup(str(tmp_path / "data")) is None
