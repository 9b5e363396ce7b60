"""The playbooks as AWX runs them: through ansible-runner with a private data dir, AWX's default of 5 forks, and
AWX's usual machine credential - a non-root SSH login that becomes root with sudo. The job's status and per-host
stats, and the set_stats summary in the playbook_on_stats event's artifact_data (what AWX shows as the job's
artifacts), for health, backup (with a controller copy), a drill, cold backup and restore, and for a job that fails; the
backups stay root-owned 0600 on the hosts and nothing is left in the hosts' /var/tmp."""
import glob
import os
import stat

import ansible_runner
import pytest
import yaml

from testbed import cluster, layout


@pytest.fixture(autouse=True)
def ansible_on_path(monkeypatch):
    """ansible-runner starts the ansible-playbook it finds on PATH (in AWX, the execution environment's)."""
    monkeypatch.setenv("PATH", "%s%s%s" % (layout.VENV_PYTHON.parent, os.pathsep, os.environ.get("PATH", "")))


def run_job(bed, data_dir, playbook, **extravars):
    data_dir.mkdir(exist_ok=True)
    # AWX passes the machine credential's user with -u, which the bed's inventory (ansible_user: root) would
    # override: here it is an extra var. --become is what the credential's privilege escalation adds.
    return ansible_runner.run(private_data_dir=str(data_dir), playbook=playbook, inventory=str(bed.inventory),
                              envvars={"ANSIBLE_CONFIG": str(bed.ansible_cfg)}, cmdline="--become",
                              extravars=dict(extravars, ansible_user=layout.LOGIN_USER), forks=5, quiet=True)


def assert_root_only(path):
    info = os.stat(path)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600), (path, info.st_uid, oct(info.st_mode))


def handovers():
    """What a fetch under become left in the hosts' /var/tmp (the hosts are this machine)."""
    return glob.glob("/var/tmp/etcdops-fetch.*")


def artifacts(job):
    """The set_stats data as AWX receives it."""
    stats_events = [event for event in job.events if event["event"] == "playbook_on_stats"]
    assert len(stats_events) == 1
    return stats_events[0]["event_data"].get("artifact_data") or {}


def test_jobs_as_awx_runs_them_with_a_non_root_login_report_as_awx_shows_them(clean_backups, tmp_path):
    bed = clean_backups
    for number in range(5):
        cluster.etcdctl(bed, "put", f"runner/{number}", "before the backup")
    hosts = {m.name for m in bed.members}

    health = run_job(bed, tmp_path / "health", "etcdops.dr.health")
    assert (health.status, health.rc) == ("successful", 0)
    # Every task of the health play runs once, on the first host.
    assert set(health.stats["processed"]) == {"node1"} and health.stats["failures"] == {} and health.stats["dark"] == {}

    before = handovers()
    controller = tmp_path / "controller-backups"
    # The client TLS material as an AWX credential injects it (docs/awx.md): PEM text in extra vars, no paths.
    key_text = bed.client_key.read_text()
    tls = dict(etcd_cacert=None, etcd_cert=None, etcd_key=None, etcd_cacert_pem=bed.cacert.read_text(),
               etcd_cert_pem=bed.client_cert.read_text(), etcd_key_pem=key_text)
    backup = run_job(bed, tmp_path / "backup", "etcdops.dr.backup", backup_fetch_dir=str(controller), **tls)
    assert (backup.status, backup.rc) == ("successful", 0)
    key_body = key_text.strip().splitlines()[1]
    assert key_body not in open(backup.stdout.name, encoding="utf-8").read()
    assert not any(key_body in str(event) for event in backup.events)
    summary = artifacts(backup)["etcd_backup"]
    assert summary["key_count"] == 5 and summary["source_host"] in hosts and len(summary["sha256"]) == 64
    assert sum(backup.stats["changed"].values()) >= 1 and backup.stats["failures"] == {}
    # Written as root on the host; the controller's copy belongs to the controller's user. No manual backup_owner.
    assert_root_only(summary["file"])
    assert_root_only(summary["file"] + ".json")
    copy = controller / os.path.basename(summary["file"])
    assert (os.stat(copy).st_uid, stat.S_IMODE(os.stat(copy).st_mode)) == (os.getuid(), 0o600)
    assert sorted(p.name for p in controller.iterdir()) == [copy.name, copy.name + ".json"]
    assert handovers() == before

    # The newest backup (the one just taken) drilled on another host than its own: it goes through the controller,
    # under become too.
    other = sorted(hosts - {summary["source_host"]})[0]
    drill = run_job(bed, tmp_path / "drill", "etcdops.dr.drill", drill_host=other)
    assert (drill.status, drill.rc) == ("successful", 0), open(drill.stdout.name, encoding="utf-8").read()
    drilled = artifacts(drill)["etcd_drill"]
    assert drilled["result"] == "passed" and drilled["mode"] == "scratch" and drilled["failures"] == []
    assert os.path.basename(drilled["snapshot"]) == os.path.basename(summary["file"])
    assert handovers() == before

    cold = run_job(bed, tmp_path / "cold", "etcdops.dr.cold_backup")
    assert (cold.status, cold.rc) == ("successful", 0), open(cold.stdout.name, encoding="utf-8").read()
    cold_copies = glob.glob(str(bed.member("node1").backup_dir / "etcd-cold-*.db"))
    assert len(cold_copies) == 1
    assert_root_only(cold_copies[0])

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
    assert handovers() == before


def test_a_seven_member_restore_under_awxs_five_forks_is_refused_with_the_forks_to_set(live, tmp_path):
    """AWX's default of 5 forks and a 7-member inventory: the restore says so and how to fix it, before anything is
    reached or stopped (the four added members' addresses have no SSH server)."""
    bed = live
    inventory = yaml.safe_load(bed.inventory.read_text())
    members = inventory["all"]["children"]["etcd"]["hosts"]
    template = members["node3"]
    for number in range(4, 8):
        members[f"node{number}"] = dict(template, ansible_host=f"127.0.0.{12 + number}",
                                        etcd_member_name=f"node{number}",
                                        etcd_client_url=f"https://127.0.0.{12 + number}:2379",
                                        etcd_peer_url=f"https://127.0.0.{12 + number}:2380")
    seven = tmp_path / "seven-members.yml"
    seven.write_text(yaml.safe_dump(inventory))
    pids = {m.name: cluster.listener_pid(m) for m in bed.members}
    (tmp_path / "job").mkdir()
    job = ansible_runner.run(private_data_dir=str(tmp_path / "job"), playbook="etcdops.dr.restore",
                             inventory=str(seven), envvars={"ANSIBLE_CONFIG": str(bed.ansible_cfg)}, forks=5,
                             extravars={"restore_snapshot": "/var/backups/etcd/snapshot.db"}, quiet=True)
    output = open(job.stdout.name, encoding="utf-8").read()
    assert (job.status, job.rc) == ("failed", 2), output
    assert ("forks is 5, fewer than the 7 members: a member that starts waits for quorum, so all must start at once; "
            "run with --forks 7 or more (ansible.cfg, or the AWX job template). Nothing was stopped.") in output
    assert job.stats["dark"] == {} and {m.name: cluster.listener_pid(m) for m in bed.members} == pids
