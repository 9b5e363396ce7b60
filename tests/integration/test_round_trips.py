"""Backup, destroy, restore, for the states real clusters are in: a new empty cluster, a newest revision that is a
compacted delete, everything compacted, keys with many revisions, leases, after a defrag, a member that lags (is
down) at the backup, and Kubernetes mode with its revision bump. Each round trip runs the backup and restore playbooks
over SSH, wipes every member's data dir in between, and proves the keys, values, create/mod revisions, versions,
leases and the cluster's revision that come back."""
import base64
import json
import shutil
import subprocess
import threading
import time

import pytest

from testbed import cluster, services

BUMP = 1000000000
HOST_COPY = "{{ etcd_backup_dir }}/restore/snapshot.db"
STATS = {"ANSIBLE_SHOW_CUSTOM_STATS": "1"}


def etcdctl(bed, *args):
    return cluster.etcdctl(bed, *args).stdout


def put(bed, key, value, *flags):
    etcdctl(bed, "put", key, value, *flags)
    return revision(bed)


def revision(bed):
    return max(s["Status"]["header"]["revision"] for s in cluster.endpoint_status(bed, _up(bed)))


def _up(bed):
    return [m.client_url for m in bed.members if cluster.listener_pid(m)]


def contents(bed):
    """Every key with its value, create/mod revision, version and lease, as the cluster serves them."""
    out = json.loads(cluster.etcdctl(bed, "get", "", "--from-key", "-w", "json", endpoints=_up(bed)).stdout)
    return {base64.b64decode(kv["key"]).decode(): (
        base64.b64decode(kv.get("value", "")).decode(), kv["create_revision"], kv["mod_revision"], kv["version"],
        kv.get("lease", 0)) for kv in out.get("kvs", [])}


def compact(bed, at):
    etcdctl(bed, "compaction", "--physical", str(at))


def grant(bed, ttl):
    return etcdctl(bed, "lease", "grant", str(ttl)).split()[1]


def custom_stats(run):
    for line in run.stdout.splitlines():
        if line.strip().startswith("RUN: "):
            return json.loads(line.strip()[len("RUN: "):])
    raise AssertionError("no custom stats in the output:\n" + run.output)


def destroy(bed):
    """The disaster: every member stopped, every data dir gone."""
    for member in bed.members:
        services.supervisorctl(bed, "stop", member.service)
        shutil.rmtree(member.data_dir, ignore_errors=True)


@pytest.fixture
def round_trip(clean_backups, ansible):
    """Back up, write more, destroy, restore from every host's copy; return (backup stats, restore stats). Leaves
    no kept dirs and no copies behind."""
    bed = clean_backups

    def run(later_keys=5, kubernetes=False, during_restore=None):
        backup = ansible.playbook("etcdops.dr.backup", env=STATS)
        assert backup.rc == 0, backup.output
        stats = custom_stats(backup)["etcd_backup"]
        for number in range(later_keys):
            put(bed, f"later/{number}", "lost in the disaster")
        for member in bed.members:
            (member.backup_dir / "restore").mkdir(exist_ok=True)
            shutil.copyfile(stats["file"], member.backup_dir / "restore" / "snapshot.db")
        destroy(bed)
        helper = threading.Thread(target=during_restore) if during_restore else None
        if helper:
            helper.start()
        try:
            restore = ansible.playbook("etcdops.dr.restore", env=STATS, extra_vars={
                "restore_snapshot": HOST_COPY, "restore_kubernetes": kubernetes})
        finally:
            if helper:
                helper.join()
        assert restore.rc == 0, restore.output
        return stats, custom_stats(restore)["etcd_restore"]

    yield run
    services.supervisorctl(bed, "stop", *[m.kube_apiserver_service for m in bed.members], check=False)
    cluster.remove_restore_leftovers(bed)
    for member in bed.members:
        shutil.rmtree(member.backup_dir / "restore", ignore_errors=True)
    cluster.ensure_running(bed)


def fresh_cluster(bed):
    """A new cluster that has never been written to (revision 1)."""
    destroy(bed)
    for member in bed.members:
        services.supervisorctl(bed, "start", member.service, check=False)
    cluster.wait_healthy(bed)


def assert_restored(bed, backup, restored, expected, at_revision):
    assert contents(bed) == expected
    assert revision(bed) == at_revision
    assert restored["restored_revision"] == at_revision == restored["revision"]
    assert backup["key_count"] == restored["key_count"] == len(expected)
    assert sorted(restored["members"]) == [m.name for m in bed.members]


def test_a_new_empty_cluster(live, round_trip):
    bed = live
    fresh_cluster(bed)
    assert revision(bed) == 1 and contents(bed) == {}
    backup, restored = round_trip()
    assert backup["revision"] == 1 and backup["key_count"] == 0
    assert_restored(bed, backup, restored, {}, 1)


def test_a_newest_revision_that_is_a_compacted_delete(live, round_trip):
    bed = live
    put(bed, "/a", "1")
    put(bed, "/b", "2")
    deleted = json.loads(etcdctl(bed, "del", "/b", "-w", "json"))["header"]["revision"]
    compact(bed, deleted)
    expected = contents(bed)
    backup, restored = round_trip()
    assert backup["revision"] == deleted and backup["compact_revision"] == deleted
    assert_restored(bed, backup, restored, expected, deleted)


def test_everything_compacted(live, round_trip):
    bed = live
    for number in range(20):
        put(bed, f"gone/{number:02d}", "x" * number)
    etcdctl(bed, "del", "gone/", "--prefix")
    compact(bed, revision(bed))
    at = revision(bed)
    backup, restored = round_trip()
    assert backup["revision"] == at and backup["key_count"] == 0
    assert_restored(bed, backup, restored, {}, at)


def test_leases_and_their_keys(live, round_trip):
    """A long lease comes back with its keys. A short one comes back too and expires after the start, deleting its
    keys in a new revision; a client that writes as soon as the cluster answers does the same. Neither may fail the
    restore: the keys are compared at the restored revision."""
    bed = live
    long_lease, short_lease = grant(bed, 3600), grant(bed, 25)
    for number in range(3):
        put(bed, f"leased/long/{number}", "stays", f"--lease={long_lease}")
        put(bed, f"leased/short/{number}", "expires", f"--lease={short_lease}")
    put(bed, "plain", "no lease")
    expected = contents(bed)
    at = revision(bed)
    restore_began = time.monotonic()

    def write_once_it_answers():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if cluster.etcdctl(bed, "--dial-timeout=1s", "--command-timeout=2s", "put", "late/writer",
                                   "after the start", check=False, timeout=10).returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.05)

    backup, restored = round_trip(later_keys=0, during_restore=write_once_it_answers)
    assert restored["restored_revision"] == at and restored["key_count"] == len(expected) == backup["key_count"]
    assert restored["key_count_revision"] == at and restored["revision"] >= at
    # The client's key (and the short lease's expiry, if it came) are the only changes since the restored revision.
    now = contents(bed)
    assert now["late/writer"][0] == "after the start"
    assert {k: v for k, v in now.items() if k != "late/writer"} in (
        expected, {k: v for k, v in expected.items() if not k.startswith("leased/short/")})
    leases = etcdctl(bed, "lease", "list")
    assert long_lease in leases
    # The short lease was restored with its TTL and then expired: its keys go, the long lease's stay.
    deadline = restore_began + 120
    while any(k.startswith("leased/short/") for k in contents(bed)) and time.monotonic() < deadline:
        time.sleep(1)
    left = contents(bed)
    assert sorted(k for k in left if k.startswith("leased/")) == [f"leased/long/{n}" for n in range(3)]
    assert all(left[f"leased/long/{n}"][4] == int(long_lease, 16) for n in range(3))


def test_keys_with_many_revisions_some_compacted_then_a_defrag(live, round_trip):
    """A Kubernetes etcd's usual life: keys rewritten many times (leases, endpoints), history compacted, the db
    defragmented; then more revisions after the compaction, which the snapshot keeps."""
    bed = live
    for number in range(100):
        put(bed, f"frag/{number:03d}", "v" * 200)
    for number in range(40):
        put(bed, "hot", f"value-{number}")
    etcdctl(bed, "del", "frag/00", "--prefix")
    compact(bed, revision(bed))
    for member in bed.members:
        cluster.etcdctl(bed, "defrag", endpoints=[member.client_url])
    for number in range(10):
        for version in range(3):
            put(bed, f"warm/{number}", f"v{version}")
    expected = contents(bed)
    assert expected["hot"][3] == 40 and expected["warm/9"][3] == 3
    at = revision(bed)
    backup, restored = round_trip()
    assert backup["key_count"] == 90 + 1 + 10
    assert_restored(bed, backup, restored, expected, at)


def test_a_member_that_is_down_at_the_backup_is_rebuilt_too(live, round_trip):
    bed = live
    lagging = bed.member("node3")
    cluster.stop_member(bed, lagging)
    for number in range(30):
        put(bed, f"while-down/{number:02d}", str(number))
    expected = contents(bed)
    at = revision(bed)
    backup, restored = round_trip()
    assert backup["source_host"] != lagging.name
    assert_restored(bed, backup, restored, expected, at)
    assert cluster.listener_pid(lagging)
    assert cluster.etcdctl(bed, "get", "while-down/29", "--print-value-only",
                           endpoints=[lagging.client_url]).stdout.strip() == "29"


def test_kubernetes_mode_bumps_from_the_newest_key_not_from_the_compaction(live, round_trip):
    """etcdutl adds the bump to the newest revision left in the key bucket: after a compacted delete that is below
    the snapshot's revision, and the restored revision is that plus the bump."""
    bed = live
    newest_key = put(bed, "/kept", "1")
    put(bed, "/dropped", "2")
    deleted = json.loads(etcdctl(bed, "del", "/dropped", "-w", "json"))["header"]["revision"]
    compact(bed, deleted)
    expected = contents(bed)
    backup, restored = round_trip(kubernetes=True)
    assert backup["revision"] == deleted
    assert restored["bump_revision"] == BUMP and restored["snapshot_revision"] == deleted
    assert_restored(bed, backup, restored, expected, newest_key + BUMP)
