"""A member whose data dir is a mount point, as on control planes that give etcd a disk of its own (a tmpfs at node2's
data dir here): the restore, the kept pre-restore data, the rollback after a crash and the removal of what earlier
restores left all happen inside the mount, and the member runs on the mounted filesystem throughout. A mount point
cannot be renamed, so a restore that renamed the data dir would fail there with EBUSY after etcd was stopped."""
import json
import os
import time
import types

import pytest

from ansible_collections.etcdops.dr.tests.integration.test_restore import (
    HOST_COPY, PLAYBOOK, copy_to_every_host, custom_stats, keys, restorable, take_backup, write_keys)
from testbed import cluster

ROLLBACK = "etcdops.dr.restore_rollback"
NODE = "node2"
START_TASK = "Control etcd: start every restored member"
FINISH_TASK = "Start kube-apiserver again, record the verified restore"
__all__ = ["restorable"]


@pytest.fixture
def mounted(restorable):
    """The restorable bed with node2 running on a tmpfs mounted at its data dir; unmounted at the end, node2 then
    running on its data as it is by then, in the dir below."""
    member = restorable.member(NODE)
    with cluster.data_dir_on_tmpfs(restorable, member):
        yield restorable, member


def journal(member):
    return json.loads((member.root / "data.etcdops-restore.json").read_text())


def etcd_db(member):
    """The database file node2's running etcd has open, and its device."""
    pid = cluster.listener_pid(member)
    assert pid, f"{member.name} does not run"
    fds = f"/proc/{pid}/fd"
    opened = {os.readlink(os.path.join(fds, fd)) for fd in os.listdir(fds)}
    db = str(member.data_dir / "member" / "snap" / "db")
    assert db in opened, sorted(opened)
    return db, os.stat(db).st_dev


def on_the_mount(member, device):
    """The data dir is still a mount point, of the tmpfs (`device`), and etcd runs on its database there."""
    assert cluster.is_mount_point(member.data_dir)
    assert os.stat(member.data_dir).st_dev == device != os.stat(member.root).st_dev
    assert etcd_db(member)[1] == device


def nothing_beside(member):
    """No restore dir on the filesystem below the mount: only the journal is beside the data dir."""
    return sorted(path.name for path in member.root.glob("data.*")) == ["data.etcdops-restore.json"]


def wait_for_file(path, process, timeout=300):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"the playbook ended (rc {process.returncode}) before the pause"
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.1)


def test_a_member_on_its_own_disk_is_restored_kept_pruned_and_rolled_back_inside_the_mount(mounted, ansible, tmp_path):
    bed, member = mounted
    data = member.data_dir
    device = os.stat(data).st_dev
    on_the_mount(member, device)
    write_keys(bed, "old", 10)
    snapshot_keys = keys(bed)
    copy_to_every_host(bed, take_backup(ansible)["file"])
    # Keys of this test alone: a database holds the bytes of keys deleted since (the bed is shared, its keys reset).
    newer, later = "newer-%s" % os.urandom(4).hex(), "later-%s" % os.urandom(4).hex()
    write_keys(bed, newer, 10)
    # What earlier restores left inside the mount: the finish removes them, keeping only this run's kept dir.
    earlier = [data / "member.pre-restore-20200101T000000Z", data / "member.failed-restore-20200101T000000Z"]
    for path in earlier:
        (path / "snap").mkdir(parents=True)
        (path / "snap" / "db").write_bytes(b"earlier")

    # (1) The restore, paused before its finish: restored and running, the pre-restore data still kept.
    pause = tmp_path / "pause"
    pause.write_text("")
    log = tmp_path / "restore.log"
    with open(log, "w") as output:
        run = ansible.start(PLAYBOOK, extra_vars={"restore_snapshot": HOST_COPY, "restore_kubernetes": False},
                            env={"ETCDOPS_INTERRUPT_BEFORE": FINISH_TASK, "ETCDOPS_INTERRUPT_PAUSE": str(pause),
                                 "ANSIBLE_SHOW_CUSTOM_STATS": "1"}, output=output)
    try:
        wait_for_file(tmp_path / "pause.reached", run)
        entry = journal(member)
        assert entry["step"] == "started" and entry["data_dir_mount"] is True, entry
        kept = data / os.path.basename(entry["kept_data_dir"])
        assert entry["kept_data_dir"] == str(kept) and kept.name == f"member.pre-restore-{entry['run_id']}"
        # The member's own data, on the tmpfs, beside the restored member dir etcd runs on.
        assert os.stat(kept).st_dev == device
        assert f"{newer}/009".encode() in (kept / "snap" / "db").read_bytes(), "the kept dir holds the pre-restore data"
        assert f"{newer}/009".encode() not in (data / "member" / "snap" / "db").read_bytes()
        on_the_mount(member, device)
        assert all(path.is_dir() for path in earlier), "nothing is removed before the finish"
        assert not (data / "member.restore-staging").exists() and nothing_beside(member)
    finally:
        pause.unlink(missing_ok=True)
        run.wait(timeout=300)
    done = types.SimpleNamespace(stdout=log.read_text())
    assert run.returncode == 0, done.stdout
    stats = custom_stats(done)["etcd_restore"]
    assert keys(bed) == snapshot_keys and stats["key_count"] == len(snapshot_keys)
    on_the_mount(member, device)
    # (3) The finish removed what earlier restores left inside the mount and kept this run's pre-restore data.
    assert sorted(os.listdir(data)) == ["member", kept.name], os.listdir(data)
    assert str(kept) in stats["kept"] and nothing_beside(member)
    assert journal(member)["step"] == "verified"

    # (2) A restore killed after every member's swap, before the start, then the rollback playbook.
    write_keys(bed, later, 5)
    before = keys(bed)
    with open(tmp_path / "killed.log", "w") as output:
        killed = ansible.start(PLAYBOOK, extra_vars={"restore_snapshot": HOST_COPY, "restore_kubernetes": False},
                               env={"ETCDOPS_INTERRUPT_BEFORE": START_TASK, "ETCDOPS_INTERRUPT": "kill"}, output=output)
    killed.wait(timeout=300)
    entry = journal(member)
    assert entry["step"] == "swapped" and entry["data_dir_mount"] is True, (tmp_path / "killed.log").read_text()
    kept_again = data / f"member.pre-restore-{entry['run_id']}"
    assert entry["kept_data_dir"] == str(kept_again) and os.stat(kept_again).st_dev == device
    assert f"{later}/004".encode() in (kept_again / "snap" / "db").read_bytes()
    assert cluster.listener_pid(member) is None

    back = ansible.playbook(ROLLBACK)
    assert back.rc == 0, back.output
    assert "rolled back node1, node2, node3" in back.stdout, back.output
    cluster.wait_healthy(bed, timeout=30)
    assert keys(bed) == before, "the cluster runs on its pre-restore data again"
    on_the_mount(member, device)
    assert f"{later}/004".encode() in (data / "member" / "snap" / "db").read_bytes()
    [failed] = data.glob("member.failed-restore-*")
    assert f"{later}/004".encode() not in (failed / "snap" / "db").read_bytes(), "the restored copy is kept for a post-mortem"
    assert os.stat(failed).st_dev == device
    assert sorted(os.listdir(data)) == sorted(["member", kept.name, failed.name]), os.listdir(data)
    assert journal(member)["step"] == "rolled_back" and nothing_beside(member)
