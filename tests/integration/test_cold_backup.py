"""The cold_backup playbook over SSH on the three hosts: stop all, copy one, start all; the copy
restores; faults before and after the stop leave the cluster running and say why."""
import functools
import hashlib
import json
import re
import socket
import subprocess
import threading
import time

from testbed import cluster, faults, scratch

PLAYBOOK = "etcdops.dr.cold_backup"


def write_keys(bed, prefix, count):
    for number in range(count):
        cluster.etcdctl(bed, "put", f"{prefix}/{number:03d}", f"value-{prefix}-{number}")


def etcd_pids(bed):
    return {member.name: cluster.listener_pid(member) for member in bed.members}


def client_port_closed(member):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((member.address, 2379)) != 0


def test_cold_backup_copies_a_restorable_db_and_leaves_the_cluster_healthy(clean_backups, ansible, tmp_path):
    bed = clean_backups
    write_keys(bed, "before", 100)
    expected = scratch.key_values(functools.partial(cluster.etcdctl, bed))
    status = {s["Endpoint"]: s["Status"] for s in cluster.endpoint_status(bed)}
    pids = etcd_pids(bed)

    run = ansible.playbook(PLAYBOOK)
    assert run.rc == 0, run.output
    cluster.wait_healthy(bed, timeout=5)
    assert all(new != old for new, old in zip(etcd_pids(bed).values(), pids.values())), "every member was restarted"
    assert scratch.key_values(functools.partial(cluster.etcdctl, bed)) == expected

    node1 = bed.member("node1")
    files = cluster.backup_files(node1)
    assert len(files) == 2 and files[0].endswith(".db") and files[1] == files[0] + ".json", files
    assert all(cluster.backup_files(m) == [] for m in bed.members[1:])
    copy = node1.backup_dir / files[0]
    manifest = json.loads((node1.backup_dir / files[1]).read_text())
    assert oct(copy.stat().st_mode & 0o777) == "0o600"
    assert oct((node1.backup_dir / files[1]).stat().st_mode & 0o777) == "0o600"
    data = copy.read_bytes()
    node1_status = status[node1.client_url]
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["size"] == len(data) == manifest["db_size"]
    assert manifest["kind"] == "cold_copy" and manifest["file"] == files[0]
    assert manifest["member_name"] == "node1"
    assert manifest["member_id"] == "%x" % node1_status["header"]["member_id"]
    assert manifest["cluster_id"] == "%x" % node1_status["header"]["cluster_id"]
    assert manifest["revision"] == node1_status["header"]["revision"]
    assert manifest["key_count"] == len(expected) and manifest["format"] == 2
    assert manifest["etcd_version"] == node1_status["version"]
    assert manifest["created"].startswith(time.strftime("%Y-%m-%dT", time.gmtime()))
    assert f"{copy} ({len(data)} bytes, sha256 {manifest['sha256']}) from node1" in run.stdout

    # A raw db has no hash trailer: etcdutl refuses it unless told to skip the check...
    refused = scratch.restore_copy(bed, copy, tmp_path / "refused", skip_hash_check=False)
    assert refused.returncode != 0 and "hash" in refused.stderr.lower(), refused.stderr
    # ...which is right only after the manifest's sha256 matched.
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == manifest["sha256"]
    restored = scratch.restore_copy(bed, copy, tmp_path / "restored")
    assert restored.returncode == 0, restored.stderr
    with scratch.scratch_member(bed, tmp_path / "restored") as member:
        assert scratch.key_values(member.etcdctl) == expected


def test_source_option_and_check_mode(clean_backups, ansible):
    bed = clean_backups
    pids = etcd_pids(bed)
    checked = ansible.playbook(PLAYBOOK, check=True, extra_vars={"cold_backup_source": "node2"})
    assert checked.rc == 0, checked.output
    assert all(cluster.backup_files(m) == [] for m in bed.members)
    assert etcd_pids(bed) == pids, "check mode stopped nothing"

    run = ansible.playbook(PLAYBOOK, extra_vars={"cold_backup_source": "node2"})
    assert run.rc == 0, run.output
    node2 = bed.member("node2")
    files = cluster.backup_files(node2)
    assert len(files) == 2 and cluster.backup_files(bed.member("node1")) == []
    assert json.loads((node2.backup_dir / files[1]).read_text())["member_name"] == "node2"
    cluster.wait_healthy(bed, timeout=5)


def test_unknown_source_is_refused_before_the_stop(clean_backups, ansible):
    bed = clean_backups
    pids = etcd_pids(bed)
    run = ansible.playbook(PLAYBOOK, extra_vars={"cold_backup_source": "node9"})
    assert run.rc != 0
    assert "cold_backup_source 'node9' is not a host of this play (node1, node2, node3)" in run.output
    assert etcd_pids(bed) == pids


def test_unwritable_backup_dir_is_caught_before_the_stop(clean_backups, ansible):
    bed = clean_backups
    pids = etcd_pids(bed)
    node1 = bed.member("node1")
    with faults.immutable(node1.backup_dir):
        run = ansible.playbook(PLAYBOOK)
    assert run.rc != 0
    assert f"backup dir {node1.backup_dir} is not writable by this user" in run.output
    assert "Control etcd: stop" not in run.stdout
    assert etcd_pids(bed) == pids, "nothing was stopped"


def test_copy_failing_after_the_stop_starts_every_member_again(clean_backups, ansible):
    """The backup dir becomes unwritable once every member is stopped: the copy fails, the members
    are started again, the cluster is healthy and the failure says why."""
    bed = clean_backups
    write_keys(bed, "kept", 10)
    node1 = bed.member("node1")
    node1.backup_dir.mkdir(exist_ok=True)
    locked = threading.Event()

    def lock_when_all_stopped():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(client_port_closed(m) for m in bed.members):
                subprocess.run(["chattr", "+i", str(node1.backup_dir)], check=True)
                locked.set()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=lock_when_all_stopped, daemon=True)
    watcher.start()
    try:
        run = ansible.playbook(PLAYBOOK)
    finally:
        watcher.join(timeout=130)
        subprocess.run(["chattr", "-i", str(node1.backup_dir)], check=True)
    assert locked.is_set(), "the members were never all stopped"
    assert run.rc != 0
    assert "cold backup failed after etcd was stopped; every member was started again" in run.output
    assert "Copy the stopped source member's database failed on node1" in run.output
    assert f"backup dir {node1.backup_dir} is not writable by this user" in run.output
    assert "failed on node2" not in run.output and "failed on node3" not in run.output
    cluster.wait_healthy(bed, timeout=5)
    assert all(pid for pid in etcd_pids(bed).values())
    assert cluster.etcdctl(bed, "get", "kept/009", "--print-value-only").stdout.strip() == "value-kept-9"
    assert cluster.backup_files(node1) == []


def test_unreachable_member_is_caught_before_the_stop(clean_backups, ansible, tmp_path):
    bed = clean_backups
    pids = etcd_pids(bed)
    broken = cluster.inventory_with(bed, tmp_path / "inventory.yml", "node3", ansible_port=2299)
    run = ansible.playbook(PLAYBOOK, "-i", broken)
    assert run.rc != 0
    assert "node3" in run.output and "UNREACHABLE" in run.output and "port 2299" in run.output
    assert "Control etcd: stop" not in run.stdout
    assert etcd_pids(bed) == pids


def test_unhealthy_cluster_is_not_stopped(clean_backups, ansible):
    bed = clean_backups
    node3 = bed.member("node3")
    cluster.stop_member(bed, node3)
    pids = etcd_pids(bed)
    run = ansible.playbook(PLAYBOOK)
    assert run.rc != 0
    assert "the etcd cluster is not healthy" in run.output
    assert f"{node3.client_url}" in run.output and "connection refused" in run.output
    assert "cold_backup_require_healthy=false" in run.output
    assert etcd_pids(bed) == pids


def test_wrong_service_name_is_caught_before_the_stop(clean_backups, ansible, tmp_path):
    bed = clean_backups
    broken = cluster.inventory_with(bed, tmp_path / "inventory.yml", "node3", etcd_service_name="etcd-nope")
    pids = etcd_pids(bed)
    run = ansible.playbook(PLAYBOOK, "-i", broken)
    assert run.rc != 0
    assert "supervisor has no program 'etcd-nope'" in run.output
    assert "Control etcd: stop" not in run.stdout
    assert etcd_pids(bed) == pids


def test_stop_failing_on_one_member_starts_the_others_again(clean_backups, ansible, tmp_path):
    """Something that is not etcd keeps listening on node3's peer URL, so node3's stop fails after the
    timeout: every member is started again, the cluster is healthy, nothing is copied and the failure
    names what kept listening."""
    bed = clean_backups
    broken = cluster.inventory_with(bed, tmp_path / "inventory.yml", "node3", etcd_peer_url="https://127.0.0.13:2390")
    pids = etcd_pids(bed)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.13", 2390))
        squatter.listen()
        run = ansible.playbook(PLAYBOOK, "-i", broken, extra_vars={"cold_backup_timeout": 5})
    assert run.rc != 0
    assert "cold backup failed after etcd was stopped; every member was started again" in run.output
    assert re.search(r"Control etcd: stop (the followers first|every member) failed on node3", run.output)
    assert "etcd did not stop within 5.0s" in run.output and "listens on 127.0.0.13:2390" in run.output
    assert "failed on node1" not in run.output and "failed on node2" not in run.output
    cluster.wait_healthy(bed, timeout=5)
    after = etcd_pids(bed)
    # node3's etcd was stopped (only the wait failed) and started again; the leader is stopped last, so when
    # node3 failed among the followers the leader was never stopped.
    assert after["node3"] != pids["node3"] and all(after.values())
    assert all(cluster.backup_files(m) == [] for m in bed.members)


def test_cold_backup_of_static_pod_members(clean_backups, ansible, tmp_path):
    """The same playbook on kubeadm-style hosts, where the kubelet runs etcd from a static pod manifest."""
    bed = clean_backups
    cluster.run_as_static_pods(bed)
    try:
        write_keys(bed, "pod", 20)
        expected = scratch.key_values(functools.partial(cluster.etcdctl, bed))
        run = ansible.playbook(PLAYBOOK, extra_vars={"etcd_service_manager": "static_pod"})
        assert run.rc == 0, run.output
        cluster.wait_healthy(bed, timeout=5)
        assert all((m.manifest_dir / "etcd.yaml").exists() and not (m.held_manifest_dir / "etcd.yaml").exists()
                   for m in bed.members)
        node1 = bed.member("node1")
        copy = node1.backup_dir / cluster.backup_files(node1)[0]
        restored = scratch.restore_copy(bed, copy, tmp_path / "restored")
        assert restored.returncode == 0, restored.stderr
        with scratch.scratch_member(bed, tmp_path / "restored") as member:
            assert scratch.key_values(member.etcdctl) == expected
    finally:
        cluster.run_as_supervisor_programs(bed)


def test_cold_copy_refuses_a_running_member(live, ansible):
    """Copying the db of a running etcd would give an inconsistent file: the module refuses, naming
    the process; in check mode it only reports it."""
    node2 = live.member("node2")
    args = {"data_dir": "{{ etcd_data_dir }}", "dest_dir": "{{ etcd_backup_dir }}"}
    checked = ansible.module("etcdops.dr.etcd_cold_copy", args, hosts="node2", check=True, defaults=False)
    result = checked.results["node2"]
    assert result["changed"] is True and not result.get("failed")
    assert result["path"].startswith(f"{node2.backup_dir}/etcd-cold-") and result["sha256"] is None
    assert any("etcd --config-file" in holder for holder in result["db_in_use_by"])
    refused = ansible.module("etcdops.dr.etcd_cold_copy", args, hosts="node2", defaults=False).results["node2"]
    assert refused["failed"] and refused["changed"] is False
    assert "etcd still runs on this member; stop it first" in refused["msg"]
    assert cluster.backup_files(node2) == []


def test_a_play_without_every_member_at_once_is_refused(clean_backups, ansible):
    bed = clean_backups
    pids = etcd_pids(bed)
    limited = ansible.playbook(PLAYBOOK, "--limit", "node1,node2")
    assert limited.rc != 0
    assert "members node3 of the cluster are not hosts of this play" in limited.output
    batched = ansible.playbook([{"name": "Cold backup in batches", "hosts": "etcd", "gather_facts": False,
                                 "serial": 2, "roles": ["etcdops.dr.cold_backup"]}])
    assert batched.rc != 0
    assert "this play runs in batches (serial)" in batched.output
    # With fewer forks than members the first member to start would wait for a quorum that cannot form.
    few_forks = ansible.playbook(PLAYBOOK, "--forks", "2")
    assert few_forks.rc != 0
    assert "forks is 2, fewer than the 3 members" in few_forks.output and "run with --forks 3" in few_forks.output
    assert "Control etcd: stop" not in limited.stdout + batched.stdout + few_forks.stdout
    assert etcd_pids(bed) == pids
