"""The plan objects behind the thin modules etcd_cold_copy, etcd_restore_rollback, kube_apiserver and
etcd_snapshot_info: plan() checks and decides without changing anything, apply() acts. Real files; the processes
and sockets of this host are faked only where the module would look at etcd or kube-apiserver."""
import hashlib
import json
import os
import time
from types import SimpleNamespace

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._service import kube_apiserver
from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal, rollback
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot import cold_copy, info
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import BackupFileError
from ansible_collections.etcdops.dr.tests.unit.bolt_writer import BoltWriter
from ansible_collections.etcdops.dr.tests.unit.plugins.module_utils.test_snapshot_check import (
    KEY_COUNT, etcd_state, snapshot)
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host, drive


def member_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "member" / "snap").mkdir(parents=True)
    BoltWriter(page_size=4096).write(str(data_dir / "member" / "snap" / "db"), etcd_state().tree())
    return data_dir


def cold_params(tmp_path, **extra):
    return dict(dict(data_dir=str(member_data_dir(tmp_path)), dest_dir=str(tmp_path / "backups"), prefix="etcd-cold", lock_timeout=5,
                     cluster_facts={"cluster_id": "abc"}), **extra)


def test_cold_copy_plan_writes_nothing_and_apply_writes_a_proven_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(local_member, "holders_of", lambda path: [])
    copy = cold_copy.ColdCopy(cold_params(tmp_path), Host())
    copy.plan()
    assert copy.result["changed"] and copy.result["path"].startswith(str(tmp_path / "backups") + "/etcd-cold-")
    assert "would copy" in copy.would() and not (tmp_path / "backups").exists()
    copy.apply()
    data = (tmp_path / "data" / "member" / "snap" / "db").read_bytes()
    assert open(copy.result["path"], "rb").read() == data
    assert copy.result["sha256"] == hashlib.sha256(data).hexdigest() and copy.result["key_count"] == KEY_COUNT
    manifest = json.loads(open(copy.result["manifest_path"]).read())
    assert manifest["kind"] == "cold_copy" and manifest["cluster_id"] == "abc" and manifest["revision"] == 6
    assert oct(os.stat(copy.result["path"]).st_mode & 0o777) == "0o600"
    assert "copied" in copy.done()


def test_cold_copy_refuses_unknown_facts_a_missing_db_and_a_running_member(tmp_path, monkeypatch):
    with pytest.raises(BackupFileError, match="cluster_facts has unknown keys"):
        cold_copy.ColdCopy(cold_params(tmp_path, cluster_facts={"colour": "red"}), Host()).plan()
    with pytest.raises(BackupFileError, match="no etcd database at"):
        cold_copy.ColdCopy(dict(cold_params(tmp_path / "x"), data_dir=str(tmp_path / "nothing")), Host()).plan()
    monkeypatch.setattr(local_member, "holders_of", lambda path: [os.getpid()])
    copy = cold_copy.ColdCopy(cold_params(tmp_path / "y"), Host())
    copy.plan()
    with pytest.raises(BackupFileError, match="etcd still runs on this member") as raised:
        copy.apply()
    assert "etcd still runs" in copy.failed(raised.value) and copy.result["changed"] is False
    assert not os.path.exists(copy.result["path"])


def rollback_params(tmp_path, **extra):
    return dict(dict(data_dir=str(tmp_path / "data"), previous_data_dir=str(tmp_path / "data.pre-restore-1"),
                     wal_dir=None, previous_wal_dir=None, stamp="2", urls=[]), **extra)


def test_rollback_puts_the_kept_dir_back_once(tmp_path, monkeypatch):
    monkeypatch.setattr(local_member, "etcd_activity", lambda data_dir, urls: [])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "restored").write_text("new")
    (tmp_path / "data.pre-restore-1").mkdir()
    (tmp_path / "data.pre-restore-1" / "old").write_text("old")
    first = rollback.Rollback(rollback_params(tmp_path), Host())
    first.plan()
    assert first.result["changed"] and "would put back" in first.would()
    assert (tmp_path / "data" / "restored").exists(), "plan and would change nothing"
    first.apply()
    assert (tmp_path / "data" / "old").read_text() == "old"
    assert first.result["failed_restore_dir"] == str(tmp_path / "data.failed-restore-2")
    assert (tmp_path / "data.failed-restore-2" / "restored").read_text() == "new"
    again = rollback.Rollback(rollback_params(tmp_path), Host())
    again.plan()
    assert again.result["changed"] is False and "rolled back already" in again.nothing_to_do()


def test_rollback_refuses_while_etcd_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(local_member, "etcd_activity", lambda data_dir, urls: ["etcd (pid 1) listens on 2379"])
    (tmp_path / "data.pre-restore-1").mkdir()
    with pytest.raises(rollback.RollbackRefused, match="etcd still runs on this host: etcd"):
        rollback.Rollback(rollback_params(tmp_path), Host()).plan()
    assert (tmp_path / "data.pre-restore-1").is_dir()
    checked = rollback.Rollback(rollback_params(tmp_path), Host(check_mode=True))
    checked.plan()
    assert checked.result["changed"] and checked.result["etcd_running"] == ["etcd (pid 1) listens on 2379"]


@pytest.mark.parametrize("reached", ["planned", "staged", "data renamed aside", "swapped"])
def test_rollback_from_the_journal_puts_the_pre_restore_data_back_whichever_step_the_restore_reached(
        tmp_path, monkeypatch, reached):
    """The journal as an interrupted etcd_restore leaves it, with the dirs as they were at that point."""
    monkeypatch.setattr(local_member, "etcd_activity", lambda data_dir, urls: [])
    data, kept = tmp_path / "data", tmp_path / "data.pre-restore-R1"
    data.mkdir()
    (data / "old").write_text("old")
    journal.record(str(data), "R1", "planned", kubernetes=True)
    if reached != "planned":
        (tmp_path / "data.restore-staging" / "data").mkdir(parents=True)
        journal.record(str(data), "R1", "staged", kept_data_dir=str(kept))
    if reached in ("data renamed aside", "swapped"):
        data.rename(kept)
    if reached == "swapped":
        (tmp_path / "data.restore-staging" / "data").rename(data)
        (data / "restored").write_text("new")
        journal.record(str(data), "R1", "swapped")
    first = rollback.Rollback(rollback_params(tmp_path, previous_data_dir=None, stamp="R2"), Host())
    first.plan()
    assert first.result["changed"] and first.result["unfinished"] and first.result["kubernetes"]
    assert "record the rollback of run R1" in first.would()
    first.apply()
    assert (data / "old").read_text() == "old" and not kept.exists()
    assert not (tmp_path / "data.restore-staging").exists()
    assert first.result["failed_restore_dir"] == (str(tmp_path / "data.failed-restore-R2") if reached == "swapped"
                                                  else None)
    assert journal.read(str(data))["step"] == "rolled_back"
    again = rollback.Rollback(rollback_params(tmp_path, previous_data_dir=None), Host())
    again.plan()
    assert not again.result["changed"] and "run R1) ended rolled back" in again.nothing_to_do()


def test_rollback_without_a_journal_or_previous_dirs_moves_nothing(tmp_path, monkeypatch):
    """A member never restored (no journal) keeps its data dir: there is nothing to go by."""
    monkeypatch.setattr(local_member, "etcd_activity", lambda data_dir, urls: [])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "own").write_text("own")
    untouched = rollback.Rollback(rollback_params(tmp_path, previous_data_dir=None), Host())
    untouched.plan()
    assert untouched.result["changed"] is False and untouched.result["unfinished"] is False
    assert "it has no restore journal, and no previous dir was given" in untouched.would()
    untouched.apply()
    assert (tmp_path / "data" / "own").read_text() == "own"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


def test_rollback_leaves_a_verified_restore_alone_even_while_etcd_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(local_member, "etcd_activity", lambda data_dir, urls: ["etcd (pid 1) listens on 2379"])
    (tmp_path / "data").mkdir()
    (tmp_path / "data.pre-restore-R1").mkdir()
    journal.record(str(tmp_path / "data"), "R1", "verified")
    done = rollback.Rollback(rollback_params(tmp_path, previous_data_dir=None), Host())
    done.plan()
    assert not done.result["changed"] and (tmp_path / "data.pre-restore-R1").is_dir()


class FakeBackend:
    def __init__(self, running, known=True):
        self.running = running
        self.is_known = known
        self.calls = []

    def describe(self):
        return "fake"

    def known(self):
        return self.is_known

    def state(self):
        return SimpleNamespace(running=self.running)

    def start(self):
        self.calls.append("start")

    def stop(self):
        self.calls.append("stop")


def apiserver(monkeypatch, backend, state, listening, timeout=0.3):
    monkeypatch.setattr(kube_apiserver, "select", lambda host, params: backend)
    monkeypatch.setattr(local_member, "listeners_on", lambda addresses: [("127.0.0.1", 6443, 1)] if listening() else [])
    monkeypatch.setattr(local_member, "describe_listeners", lambda listeners: "pid 1 listens on 127.0.0.1:6443")
    monkeypatch.setattr(kube_apiserver, "POLL_SECONDS", 0.01)
    params = dict(state=state, manager="supervisor", address="127.0.0.1", port=6443, timeout=timeout)
    return kube_apiserver.KubeApiserver(params, Host())


def test_kube_apiserver_plan_asks_the_manager_and_apply_waits_for_the_port(monkeypatch):
    backend = FakeBackend(running=False)
    began = time.monotonic()
    started = apiserver(monkeypatch, backend, "started", lambda: time.monotonic() - began > 0.05)
    started.plan()
    assert started.result["changed"] and backend.calls == [] and "would be started" in started.would()
    started.apply()
    assert backend.calls == ["start"] and started.result["listening"] is True
    assert "listening on 127.0.0.1:6443" in started.done()
    already = apiserver(monkeypatch, FakeBackend(running=True), "started", lambda: True)
    already.plan()
    assert already.result["changed"] is False and "is already started" in already.would()
    assert started.result["found"] is True and already.result["found"] is True


def test_kube_apiserver_that_its_manager_does_not_know_is_refused_as_not_found_before_anything(monkeypatch):
    """A host given as a kube-apiserver host without one (a wrong name, manager or manifest dir) must be refused,
    not taken for one whose kube-apiserver is stopped already."""
    backend = FakeBackend(running=False, known=False)
    missing = apiserver(monkeypatch, backend, "stopped", lambda: False)
    with pytest.raises(kube_apiserver.KubeApiserverError, match=r"^no kube-apiserver found on this host: fake is not "
                       r"there \(manager supervisor\); set the manager, name or manifest dirs"):
        missing.plan()
    assert missing.result["found"] is False and backend.calls == []


def test_kube_apiserver_that_keeps_listening_after_the_stop_fails_in_time(monkeypatch):
    stopping = apiserver(monkeypatch, FakeBackend(running=True), "stopped", lambda: True, timeout=0.2)
    stopping.plan()
    began = time.monotonic()
    with pytest.raises(kube_apiserver.KubeApiserverError, match="after 0.2s pid 1 listens on 127.0.0.1:6443"):
        stopping.apply()
    assert 0.2 <= time.monotonic() - began < 2 and stopping.result["listening"] is True


def test_snapshot_info_inspects_a_dir_and_names_each_bad_file(tmp_path):
    good = snapshot(tmp_path, "a.db")
    bad = tmp_path / "b.db"
    bad.write_bytes(good.read_bytes()[:-100])
    params = dict(path=str(tmp_path), pattern=["*.db"], read_status=False, count_keys=True, etcdutl=None,
                  etcdctl=None, decryption_key=None)
    result = drive(info.SnapshotInfo(params, Host()))
    assert [r["path"] for r in result["snapshots"]] == [str(good), str(bad)]
    assert result["bad"] == [str(bad)] and result["ok"] is False and result["msg"].startswith(str(bad) + " is ")
    assert result["snapshots"][0]["key_count"] == KEY_COUNT
    params["path"] = str(tmp_path / "gone")
    with pytest.raises(EtcdOpsError, match="does not exist: give a snapshot file or a directory of them"):
        info.SnapshotInfo(params, Host()).plan()
