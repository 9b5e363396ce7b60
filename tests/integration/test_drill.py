"""The DR drill (playbook etcdops.dr.drill) on the live bed: the newest backup drilled on one host with a throwaway
member (scratch) and rebuilt as a whole cluster in the drill group (cluster), with the production members' processes
and data proven untouched, the reports checked (JSON, HTML opened in headless Chromium, the Prometheus textfiles
parsed by prometheus_client), and every fault failing the drill with its cause and leaving nothing behind."""
import json
import os
import re
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed import cluster, scratch, services
from tests.integration import encryption_keys
from tests.integration.test_backup import custom_stats

PLAYBOOK = "etcdops.dr.drill"
STATS = {"ANSIBLE_SHOW_CUSTOM_STATS": "1"}
CHROMIUM = shutil.which("chromium")


def write_kubernetes_objects(bed):
    """Keys laid out as kube-apiserver lays them out, a leased one, and a key written then deleted."""
    objects = ["namespaces/default", "namespaces/team-a", "secrets/team-a/db-password", "secrets/team-a/tls",
               "configmaps/team-a/settings", "deployments/team-a/web", "pods/team-a/web-1", "pods/team-a/web-2",
               "services/specs/team-a/web", "services/endpoints/team-a/web", "cert-manager.io/certificates/team-a/web"]
    for name in objects:
        cluster.etcdctl(bed, "put", f"/registry/{name}", f"object {name}")
    lease = cluster.etcdctl(bed, "lease", "grant", "600").stdout.split()[1]
    cluster.etcdctl(bed, "put", "/registry/leases/kube-node-lease/node1", "leased", "--lease", lease)
    cluster.etcdctl(bed, "put", "/registry/pods/team-a/gone", "deleted below")
    cluster.etcdctl(bed, "del", "/registry/pods/team-a/gone")


def production_state(bed):
    """What a drill must not change: each member's etcd pid and its data dir's files."""
    return {m.name: (cluster.listener_pid(m), sorted(os.listdir(m.data_dir / "member" / "snap")))
            for m in bed.members}


def etcd_children_of(directory):
    """etcd processes whose command line names `directory` (a scratch member left running)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"etcd") and str(directory).encode() in b" ".join(argv):
            found.append(int(pid))
    return found


def nothing_left(bed):
    """The drill's private dir holds nothing, no etcd runs from it, the drill group is as a new bed has it."""
    work = bed.drill_work_dir
    return {"work_dir": sorted(os.listdir(work)) if work.exists() else [],
            "etcd_running": etcd_children_of(work), "drill_group": cluster.drill_group_leftovers(bed)}


def report_of(run):
    """The JSON report the run wrote (its path is in the set_stats summary)."""
    stats = custom_stats(run)["etcd_drill"]
    with open(stats["reports"]["json"], encoding="utf-8") as handle:
        return stats, json.load(handle)


def metrics(path):
    """{metric name: {frozenset of labels: value}} as prometheus_client's text parser reads the file."""
    found = {}
    with open(path, encoding="utf-8") as handle:
        for family in text_string_to_metric_families(handle.read()):
            for sample in family.samples:
                found.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return found


def checks_of(report):
    return {check["name"]: check["status"] for check in report["checks"]}


@pytest.fixture
def drill_bed(live, bed):
    """The live bed with empty backup dirs, no reports, no textfiles and the drill group as new; the same at the end."""
    def clear():
        for member in bed.members:
            for name in cluster.backup_files(member):
                path = member.backup_dir / name
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for directory in (bed.report_dir, bed.root / "textfiles"):
            shutil.rmtree(directory, ignore_errors=True)
        cluster.clear_drill_group(bed)
    clear()
    (bed.root / "textfiles").mkdir()
    yield live
    clear()


def test_scratch_drill_proves_the_newest_backup_and_reports_it(drill_bed, ansible, tmp_path):
    bed = drill_bed
    write_kubernetes_objects(bed)
    textfiles = bed.root / "textfiles"
    backup = ansible.playbook("etcdops.dr.backup", extra_vars={"backup_textfile_dir": str(textfiles)}, env=STATS)
    assert backup.rc == 0, backup.output
    # Written after the backup: the live cluster is ahead of it by these revisions and objects.
    cluster.etcdctl(bed, "put", "/registry/secrets/team-a/newer", "after the backup")
    cluster.etcdctl(bed, "put", "/registry/namespaces/team-b", "after the backup")
    before = production_state(bed)

    check = ansible.playbook(PLAYBOOK, check=True, env=STATS)
    assert check.rc == 0, check.output
    assert "check mode, nothing was started: would restore" in check.stdout
    assert not bed.report_dir.exists() and nothing_left(bed)["work_dir"] == []

    run = ansible.playbook(PLAYBOOK, extra_vars={"drill_textfile_dir": str(textfiles), "drill_max_rto": "10m",
                                                 "drill_max_rpo": "1h"}, env=STATS)
    assert run.rc == 0, run.output
    stats, report = report_of(run)
    assert stats["result"] == "passed" and report["result"] == "passed" and report["failures"] == []
    assert checks_of(report) == {"sha256": "passed", "same_cluster": "passed", "revision": "passed",
                                 "key_count": "passed", "kv_hash": "not_run", "rto": "passed", "rpo": "passed"}
    source = next(m for m in bed.members if cluster.backup_files(m))
    assert report["drill_hosts"] == [source.name] and report["snapshot"]["path"].startswith(str(source.backup_dir))
    assert report["revision_gap"] == 2 and 0 < report["rto_seconds"] < 600 and 0 <= report["rpo_seconds"] < 3600
    assert [p["name"] for p in report["phases"]] == ["fetch", "restore", "start", "verify"]
    resources = {row["resource"]: (row["snapshot"], row["live"], row["difference"]) for row in report["resources"]}
    assert resources == {
        "namespaces": (2, 3, 1), "secrets": (2, 3, 1), "configmaps": (1, 1, 0), "deployments": (1, 1, 0),
        "pods": (2, 2, 0), "services/specs": (1, 1, 0), "services/endpoints": (1, 1, 0),
        "cert-manager.io/certificates": (1, 1, 0), "leases": (1, 1, 0)}, report["resources"]
    assert production_state(bed) == before
    assert nothing_left(bed) == {"work_dir": [], "etcd_running": [], "drill_group": []}

    drill_metrics = metrics(textfiles / "etcdops_drill.prom")
    labels = frozenset({"cluster": "etcd", "mode": "scratch"}.items())
    assert drill_metrics["etcdops_drill_last_success"] == {labels: 1.0}
    assert drill_metrics["etcdops_drill_snapshot_keys"][labels] == report["snapshot"]["key_count"]
    assert drill_metrics["etcdops_drill_rto_seconds"][labels] == report["rto_seconds"]
    assert {dict(k)["phase"] for k in drill_metrics["etcdops_drill_phase_seconds"]} == {"fetch", "restore", "start",
                                                                                        "verify"}
    backup_metrics = metrics(textfiles / "etcdops_backup.prom")
    backup_stats = custom_stats(backup)["etcd_backup"]
    assert backup_metrics["etcdops_backup_last_size_bytes"] == {frozenset({"cluster": "etcd"}.items()):
                                                                float(backup_stats["size"])}
    assert backup_metrics["etcdops_backup_last_keys"][frozenset({"cluster": "etcd"}.items())] == \
        float(backup_stats["key_count"])
    assert backup_metrics["etcdops_backup_last_success_timestamp_seconds"]

    html = open(stats["reports"]["html"], encoding="utf-8").read()
    assert not re.search(r"""(src|href)\s*=|<script|@import|url\(""", html), "the page must fetch nothing"
    assert "cert-manager.io/certificates" in html and "<svg" in html
    markdown = open(stats["reports"]["markdown"], encoding="utf-8").read()
    assert markdown.startswith("# etcd DR drill: PASSED") and "| secrets | 2 | 3 | +1 |" in markdown
    assert CHROMIUM, "headless Chromium (Debian's chromium package) is needed: bash scripts/bootstrap.sh installs it"
    shot = tmp_path / "drill.png"
    browser = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--window-size=1100,1100", f"--screenshot={shot}", "file://" + stats["reports"]["html"]],
        capture_output=True, text=True, timeout=120, check=False)
    assert browser.returncode == 0, browser.stderr
    assert shot.stat().st_size > 20000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "CONSOLE" not in browser.stderr, browser.stderr


def test_cluster_drill_rebuilds_the_drill_group_kept_running_then_removed(drill_bed, ansible):
    bed = drill_bed
    write_kubernetes_objects(bed)
    assert ansible.playbook("etcdops.dr.backup").rc == 0
    before = production_state(bed)
    kept = ansible.playbook(PLAYBOOK, extra_vars={"drill_mode": "cluster", "drill_keep_running": True}, env=STATS)
    assert kept.rc == 0, kept.output
    # Kept for application checks: the drill cluster serves the backup's objects, on its own endpoints.
    drill_urls = [m.client_url for m in bed.drill_members]
    served = cluster.etcdctl(bed, "get", "/registry/", "--prefix", "--keys-only", endpoints=drill_urls).stdout.split()
    assert "/registry/secrets/team-a/db-password" in served and "/registry/pods/team-a/gone" not in served
    assert len(cluster.drill_group_leftovers(bed)) > 0

    # The next drill takes the running drill cluster over, and removes it.
    run = ansible.playbook(PLAYBOOK, extra_vars={"drill_mode": "cluster", "drill_max_rto": "15m"}, env=STATS)
    assert run.rc == 0, run.output
    stats, report = report_of(run)
    assert report["result"] == "passed" and report["mode"] == "cluster"
    assert report["drill_hosts"] == [m.name for m in bed.drill_members]
    assert checks_of(report) == {"sha256": "passed", "same_cluster": "passed", "revision": "passed",
                                 "key_count": "passed", "kv_hash": "passed", "bundles": "not_run", "rto": "passed",
                                 "rpo": "not_run"}
    # Fetched from node1's backup dir: whether it has bundles is not known here, and the report says so.
    bundles = next(check for check in report["checks"] if check["name"] == "bundles")
    assert "its control-plane bundles (if it has any) stay beside it there" in bundles["detail"], bundles
    assert len({m["hash_kv"] for m in report["members"]}) == 1 and len(report["members"]) == 3
    assert [p["name"] for p in report["phases"]] == ["fetch", "preflight", "stop", "restore", "start", "verify"]
    assert {row["resource"]: row["snapshot"] for row in report["resources"]}["secrets"] == 2
    assert report["revision_gap"] == 0 and stats["rto_seconds"] == report["rto_seconds"]
    assert production_state(bed) == before
    assert nothing_left(bed) == {"work_dir": [], "etcd_running": [], "drill_group": []}


def foreign_snapshot(bed, directory):
    """A snapshot of another cluster (a single member on the spare address), saved by etcdctl."""
    path = directory / "other-cluster.db"
    with scratch.scratch_member(bed, directory / "other-data", name="other") as member:
        member.etcdctl("put", "/registry/namespaces/elsewhere", "another cluster")
        member.etcdctl("snapshot", "save", str(path))
    return path


def test_drill_faults_fail_with_their_cause_and_leave_nothing_then_an_encrypted_backup_passes(drill_bed, ansible, tmp_path):
    bed = drill_bed
    write_kubernetes_objects(bed)
    assert ansible.playbook("etcdops.dr.backup").rc == 0
    source = next(m for m in bed.members if cluster.backup_files(m))
    good = source.backup_dir / next(n for n in cluster.backup_files(source) if n.endswith(".db"))
    faults_dir = tmp_path / "faults"
    faults_dir.mkdir()
    truncated = faults_dir / "truncated.db"
    truncated.write_bytes(good.read_bytes()[:-4096])
    not_starting = faults_dir / "etcd-that-fails"
    not_starting.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then exec %s --version; fi\n"
                            "echo 'member cannot start: injected fault' >&2\nexit 3\n"
                            % (services.etcd_bin_dir() / "etcd"))
    not_starting.chmod(0o755)
    before = production_state(bed)
    on_node = {"drill_snapshot_from": "hosts", "drill_host": source.name}
    cases = [
        ("truncated backup", dict(on_node, drill_snapshot=str(truncated)), "truncated"),
        ("backup of another cluster", dict(on_node, drill_snapshot=str(foreign_snapshot(bed, faults_dir))),
         "the backup is of another cluster"),
        ("port taken by the production member", dict(drill_address=source.address, drill_client_port=2379),
         "client_port 2379 on %s is taken" % source.address),
        ("no etcd on the drill host", dict(drill_etcd="/nonexistent/etcd"), "etcd /nonexistent/etcd is not an executable"),
        ("member that does not start", dict(drill_etcd=str(not_starting)), "member cannot start: injected fault"),
        ("RPO above drill_max_rpo", dict(drill_max_rpo="1"), "rpo: RPO"),
    ]
    for name, extra_vars, cause in cases:
        run = ansible.playbook(PLAYBOOK, extra_vars=extra_vars, env=STATS)
        assert run.rc != 0, name
        assert cause in run.output, (name, run.output[-3000:])
        assert nothing_left(bed) == {"work_dir": [], "etcd_running": [], "drill_group": []}, name
        assert production_state(bed) == before, name
    # Every failed drill is reported as failed, for the metric an alert watches.
    reports = sorted(bed.report_dir.glob("*.json"))
    assert reports and all(json.loads(p.read_text())["result"] == "failed" for p in reports)
    assert len(reports) == len(cases)

    # An encrypted backup: refused without its key, decrypted in the private run dir with it.
    private, public, key_id = encryption_keys.key_pair(tmp_path, "drill")
    encryption_keys.write_secrets(bed, "drill", 3)
    assert ansible.playbook("etcdops.dr.backup", extra_vars={"backup_encryption_recipients": [public]}).rc == 0
    refused = ansible.playbook(PLAYBOOK, env=STATS)
    assert refused.rc != 0 and "no decryption_key was given" in refused.output and key_id in refused.output
    run = ansible.playbook(PLAYBOOK, extra_vars={"drill_decryption_key": private}, env=STATS)
    assert run.rc == 0, run.output
    dummy, report = report_of(run)
    assert report["snapshot"]["encrypted"] and report["snapshot"]["path"].endswith(".db.enc")
    assert "decrypt" in [p["name"] for p in report["phases"]] and private not in run.output
    assert nothing_left(bed) == {"work_dir": [], "etcd_running": [], "drill_group": []}
    assert not encryption_keys.plaintext_files(bed.drill_work_dir) and production_state(bed) == before
