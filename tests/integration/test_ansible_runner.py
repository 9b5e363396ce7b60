"""The playbooks as AWX runs them: through ansible-runner with a private data dir and AWX's default of 5 forks. The
job's status and per-host stats, and the set_stats summary in the playbook_on_stats event's artifact_data (what AWX
shows as the job's artifacts), for health, backup and restore, and for a job that fails."""
import os

import ansible_runner
import pytest

from testbed import cluster, layout


@pytest.fixture(autouse=True)
def ansible_on_path(monkeypatch):
    """ansible-runner starts the ansible-playbook it finds on PATH (in AWX, the execution environment's)."""
    monkeypatch.setenv("PATH", "%s%s%s" % (layout.VENV_PYTHON.parent, os.pathsep, os.environ.get("PATH", "")))


def run_job(bed, data_dir, playbook, **extravars):
    data_dir.mkdir(exist_ok=True)
    return ansible_runner.run(private_data_dir=str(data_dir), playbook=playbook, inventory=str(bed.inventory),
                              envvars={"ANSIBLE_CONFIG": str(bed.ansible_cfg)}, extravars=extravars, forks=5,
                              quiet=True)


def artifacts(job):
    """The set_stats data as AWX receives it."""
    stats_events = [event for event in job.events if event["event"] == "playbook_on_stats"]
    assert len(stats_events) == 1
    return stats_events[0]["event_data"].get("artifact_data") or {}


def test_health_backup_and_restore_jobs_report_as_awx_shows_them(clean_backups, tmp_path):
    bed = clean_backups
    for number in range(5):
        cluster.etcdctl(bed, "put", f"runner/{number}", "before the backup")
    hosts = {m.name for m in bed.members}

    health = run_job(bed, tmp_path / "health", "etcdops.dr.health")
    assert (health.status, health.rc) == ("successful", 0)
    # Every task of the health play runs once, on the first host.
    assert set(health.stats["processed"]) == {"node1"} and health.stats["failures"] == {} and health.stats["dark"] == {}

    backup = run_job(bed, tmp_path / "backup", "etcdops.dr.backup")
    assert (backup.status, backup.rc) == ("successful", 0)
    summary = artifacts(backup)["etcd_backup"]
    assert summary["key_count"] == 5 and summary["source_host"] in hosts and len(summary["sha256"]) == 64
    assert sum(backup.stats["changed"].values()) >= 1 and backup.stats["failures"] == {}

    cluster.etcdctl(bed, "put", "runner/after", "lost by the restore")
    refused = run_job(bed, tmp_path / "refused", "etcdops.dr.restore", restore_snapshot="/nonexistent/snapshot.db",
                      restore_snapshot_from="controller")
    assert (refused.status, refused.rc) == ("failed", 2) and refused.stats["failures"]
    assert "does not exist on the controller" in open(refused.stdout.name, encoding="utf-8").read()
    assert cluster.etcdctl(bed, "get", "runner/after").stdout, "a refused restore changed nothing"

    restore = run_job(bed, tmp_path / "restore", "etcdops.dr.restore", restore_snapshot=summary["file"],
                      restore_snapshot_from=summary["source_host"])
    assert (restore.status, restore.rc) == ("successful", 0)
    restored = artifacts(restore)["etcd_restore"]
    assert restored["key_count"] == 5 and restored["sha256"] == summary["sha256"]
    assert sorted(restored["members"]) == sorted(m.name for m in bed.members)
    assert restore.stats["failures"] == {} and set(restore.stats["processed"]) == hosts
    assert cluster.etcdctl(bed, "get", "runner/after").stdout == ""
