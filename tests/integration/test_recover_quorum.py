"""Quorum lost, one member's data intact: etcdops.dr.recover_quorum rebuilds every member from the data dir that got
furthest, so the writes made after the last backup come back; the survivor's own data is kept; a cluster with quorum,
or without any readable data, is refused before anything is stopped."""
import shutil

import pytest

from ansible_collections.etcdops.dr.tests.integration.test_restore import custom_stats, restorable, take_backup
from testbed import cluster, services

PLAYBOOK = "etcdops.dr.recover_quorum"
__all__ = ["restorable"]


def keys(bed, prefix=""):
    out = cluster.etcdctl(bed, "get", prefix, "--prefix", "--keys-only").stdout
    return {line for line in out.splitlines() if line}


def recover(ansible, tmp_path, check=False, extra_limit=None, **extra):
    args = ("--limit", extra_limit) if extra_limit else ()
    return ansible.playbook(PLAYBOOK, *args, check=check, env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"}, extra_vars=dict({
        "restore_snapshot_dir": "{{ etcd_backup_dir }}/restore", "restore_controller_dir": str(tmp_path / "controller"),
        "recover_quorum_dir": "{{ etcd_backup_dir }}/recover"}, **extra))


def lose(bed, *names):
    """Those members' machines rebuilt: etcd stopped, data dir gone."""
    services.supervisorctl(bed, "stop", *[bed.member(name).service for name in names])
    for name in names:
        shutil.rmtree(bed.member(name).data_dir)


@pytest.fixture
def recoverable(restorable):
    yield restorable
    bed = restorable
    for member in bed.members:
        shutil.rmtree(member.backup_dir / "recover", ignore_errors=True)
    if cluster.etcdctl(bed, "endpoint", "health", check=False).returncode != 0:
        # A test that left the cluster without data: a new cluster, as the bed starts one.
        services.supervisorctl(bed, "stop", *[m.service for m in bed.members], check=False)
        for member in bed.members:
            shutil.rmtree(member.data_dir, ignore_errors=True)
        services.write_supervisor(bed)
        services.supervisorctl(bed, "start", *[m.service for m in bed.members])
        cluster.wait_healthy(bed)


def test_two_members_lost_the_writes_after_the_last_backup_come_back(recoverable, ansible, tmp_path):
    bed = recoverable
    for number in range(5):
        cluster.etcdctl(bed, "put", f"before/{number}", "x")
    backup = take_backup(ansible)
    for number in range(7):
        cluster.etcdctl(bed, "put", f"after/{number}", "x")
    cluster.etcdctl(bed, "del", "before/4")
    expected = keys(bed)
    lose(bed, "node2", "node3")
    node1 = bed.member("node1")

    checked = recover(ansible, tmp_path, check=True)
    assert checked.rc == 0, checked.output
    assert "recovering from node1" in checked.stdout and "revisions behind" in checked.stdout, checked.output
    assert cluster.listener_pid(node1), "check mode stops nothing"
    assert not (node1.backup_dir / "recover").exists() and not list(node1.root.glob("data.pre-restore-*"))

    run = recover(ansible, tmp_path)
    assert run.rc == 0, run.output
    cluster.wait_healthy(bed)
    assert keys(bed) == expected, "every write, those after the backup and the trailing delete included"
    stats = custom_stats(run)["etcd_recover_quorum"]
    assert stats["source"] == "node1" and stats["newest_backup"]["path"] == backup["file"]
    assert stats["newest_backup"]["revision"] == backup["revision"]
    assert stats["revisions_beyond_backup"] >= 8, stats
    kept = list(node1.root.glob("data.pre-restore-*"))
    assert len(kept) == 1 and b"after/6" in (kept[0] / "member" / "snap" / "db").read_bytes(), \
        "the survivor's own data is kept"
    assert len(list((node1.backup_dir / "recover").glob("etcd-recover-*.db.json"))) == 1, "the copy has a manifest"

    again = recover(ansible, tmp_path)
    assert again.rc != 0 and "the cluster has quorum" in again.stdout, again.output
    assert "etcdops.dr.replace_member" in again.stdout and "Nothing was stopped." in again.stdout


def test_refused_when_no_data_dir_is_readable(recoverable, ansible, tmp_path):
    bed = recoverable
    lose(bed, "node1", "node2", "node3")
    run = recover(ansible, tmp_path)
    assert run.rc != 0, run.output
    assert "no member's data dir holds a readable etcd database" in run.stdout, run.output
    assert "etcdops.dr.restore" in run.stdout and "Nothing was stopped." in run.stdout
    assert not any(member.data_dir.exists() for member in bed.members), "nothing was created"


def test_the_survivor_alone_then_the_others_added_back_one_by_one(recoverable, ansible, tmp_path):
    """docs/recover_quorum.md: recover on the survivor alone (--limit), then replace_member adds each lost member."""
    bed = recoverable
    for number in range(3):
        cluster.etcdctl(bed, "put", f"kept/{number}", "x")
    expected = keys(bed)
    lose(bed, "node2", "node3")
    try:
        run = recover(ansible, tmp_path, extra_limit="node1")
        assert run.rc == 0, run.output
        assert "restored 1 members" in run.stdout, run.output
        for name in ("node2", "node3"):
            added = ansible.playbook("etcdops.dr.replace_member", extra_vars={"replace_member": name})
            assert added.rc == 0, added.output
            assert f"{name} is not a member of the cluster" in added.stdout, added.output
        cluster.wait_healthy(bed)
        assert keys(bed) == expected
        listed = cluster.etcdctl(bed, "member", "list").stdout
        assert all(f", started, {m.name}, {m.peer_url}," in listed for m in bed.members), listed
    finally:
        services.write_supervisor(bed)
