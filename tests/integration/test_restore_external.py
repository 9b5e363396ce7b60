"""The restore with etcd apart from the kube-apiservers (external etcd): the kube-apiserver stand-ins of group
kube_apiservers, hosts outside the play's etcd hosts, are stopped while every member still serves the old data and
started only once every member serves the restored data, bumped because the snapshot holds keys under /registry/;
one whose kube-apiserver cannot be found is refused before anything stops."""
import json
import re
import time

from ansible_collections.etcdops.dr.tests.integration.test_restore import (
    BUMP, copy_to_every_host, custom_stats, etcd_pids, keys, kept_dirs, restorable, restore, revisions,
    write_keys)
from testbed import cluster, services

# The fixture, imported for pytest.
__all__ = ["restorable"]
GROUP = "kube_apiservers"


def stand_ins(bed):
    return [host.kube_apiserver_service for host in bed.apiserver_hosts]


def stand_in_pids(bed, programs):
    status = services.supervisorctl(bed, "status", *programs, check=False).stdout
    return dict(re.findall(r"^(\S+)\s+RUNNING\s+pid (\d+)", status, re.M)), status


def events(host):
    path = services.apiserver_record(host)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_kube_apiservers_apart_from_the_etcd_hosts_stop_before_etcd_and_start_after_the_bumped_restore(
        restorable, ansible, tmp_path):
    bed = restorable
    assert [host.name for host in bed.apiserver_hosts] == ["apiserver1", "apiserver2"]
    for host in bed.apiserver_hosts:
        services.apiserver_record(host).unlink(missing_ok=True)
    # The etcd hosts' own stand-ins stopped, as the test asserts they stay: an earlier test's restore of /registry/
    # keys (Kubernetes mode, a stand-in found on every etcd host) leaves them running.
    services.supervisorctl(bed, "stop", *[m.kube_apiserver_service for m in bed.members], check=False)
    services.supervisorctl(bed, "start", *stand_ins(bed))
    try:
        write_keys(bed, "/registry/pods/default", 20)
        write_keys(bed, "/other", 5)
        expected = keys(bed)
        snapshot = tmp_path / "snapshot.db"
        cluster.etcdctl(bed, "snapshot", "save", str(snapshot), endpoints=[bed.members[0].client_url])
        snapshot_revision = revisions(bed)[0]
        copy_to_every_host(bed, snapshot)
        write_keys(bed, "/registry/pods/later", 10)
        live_revision = revisions(bed)[0]
        pids = etcd_pids(bed)
        running, status = stand_in_pids(bed, stand_ins(bed))
        assert sorted(running) == stand_ins(bed), status

        # A kube-apiserver host whose kube-apiserver cannot be found is refused before anything stops (the name is
        # wrong for every host here, the etcd hosts outside the group included: only the group's count).
        refused = restore(ansible, restore_kube_apiserver_group=GROUP, restore_kube_apiserver_name="kube-apiserver-nope")
        assert refused.rc != 0
        for host in ("apiserver1", "apiserver2"):
            assert (f"{host} (kube-apiserver host, in restore_kube_apiserver_group {GROUP}): no kube-apiserver found on "
                    "this host: supervisor program kube-apiserver-nope is not there (manager supervisor)"
                    in refused.stdout), refused.output
        assert "Nothing was stopped." in refused.stdout
        assert etcd_pids(bed) == pids and stand_in_pids(bed, stand_ins(bed))[0] == running

        # Check mode names the kube-apiserver hosts and why the revision is bumped; it stops nothing.
        checked = restore(ansible, check=True, restore_kube_apiserver_group=GROUP)
        assert checked.rc == 0, checked.output
        assert "The restore would: stop kube-apiserver on apiserver1, apiserver2, stop etcd on" in checked.stdout
        assert (f"bumping the revision by {BUMP} (Kubernetes mode: the snapshot holds 20 keys under /registry/ (a "
                "Kubernetes cluster's))") in checked.stdout, checked.output
        assert "then start kube-apiserver again on apiserver1, apiserver2." in checked.stdout
        assert etcd_pids(bed) == pids and stand_in_pids(bed, stand_ins(bed))[0] == running
        assert [[e["event"] for e in events(host)] for host in bed.apiserver_hosts] == [["started"], ["started"]]

        run = restore(ansible, restore_kube_apiserver_group=GROUP)
        assert run.rc == 0, run.output
        stats = custom_stats(run)["etcd_restore"]
        assert stats["kubernetes"] is True and stats["bump_revision"] == BUMP
        assert stats["kube_apiserver_hosts"] == ["apiserver1", "apiserver2"] and stats["warnings"] == []
        assert stats["snapshot_revision"] == snapshot_revision
        assert revisions(bed) == [snapshot_revision + BUMP] * 3 and keys(bed) == expected
        assert len(kept_dirs(bed, ".pre-restore-")) == 3
        for host in bed.apiserver_hosts:
            started, stopping, again = events(host)
            assert (started["event"], stopping["event"], again["event"]) == ("started", "stopping", "started")
            # Stopped while every member still served the old data: no etcd had stopped yet.
            assert stopping["revisions"] == {m.name: live_revision for m in bed.members}, stopping
            # Started once every member served the restored data at the bumped revision.
            assert again["revisions"] == {m.name: snapshot_revision + BUMP for m in bed.members}, again
        # Started and listening (the events above); supervisord says RUNNING once its startsecs have passed.
        deadline = time.monotonic() + 10
        now, status = stand_in_pids(bed, stand_ins(bed))
        while sorted(now) != stand_ins(bed) and time.monotonic() < deadline:
            time.sleep(0.2)
            now, status = stand_in_pids(bed, stand_ins(bed))
        assert sorted(now) == stand_ins(bed) and not set(now.values()) & set(running.values()), status
        # The etcd hosts' own stand-ins are not in the group: never started.
        members_status = services.supervisorctl(bed, "status", *[m.kube_apiserver_service for m in bed.members],
                                                check=False).stdout
        assert "RUNNING" not in members_status, members_status
    finally:
        services.supervisorctl(bed, "stop", *stand_ins(bed), check=False)
