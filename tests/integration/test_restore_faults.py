"""The worst day: a restore interrupted at each step - the controller's whole process tree killed, and the modules it
had running on the hosts with it - and SSH lost to one host and to every host after the stop. After each, the one
documented command (re-run the restore, or etcdops.dr.restore_rollback) brings the cluster back with the right data,
and nothing of value is removed: the pre-restore data is kept under its real name."""
import functools
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.etcdops.dr.tests.integration.test_restore import (
    HOST_COPY, back_up_then_write_more, custom_stats, keys, kept_dirs, restorable, restore, running_apiservers,
    take_backup)
from testbed import cluster, faults, scratch, services

ROLLBACK = "etcdops.dr.restore_rollback"
# The restore tool, paused for the members whose data dir contains a line of the file `pause` beside it (the test
# removes a line, or kills the pause, to let it go on).
PAUSING_TOOL = """#!/bin/bash
if [ "$1 $2" = "snapshot restore" ]; then
  previous=""
  for argument in "$@"; do
    if [ "$previous" = "--data-dir" ]; then data_dir="$argument"; fi
    previous="$argument"
  done
  while [ -n "$data_dir" ] && grep -qF -f "$(dirname "$0")/pause" <<< "$data_dir" 2>/dev/null; do sleep 0.1; done
fi
exec {real} "$@"
"""
__all__ = ["restorable"]


def journal(member):
    path = member.root / "data.etcdops-restore.json"
    return json.loads(path.read_text()) if path.exists() else None


def steps(bed):
    return {member.name: (journal(member) or {}).get("step") for member in bed.members}


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def pausing_tool(bed, tmp_path, *members):
    """A wrapper of the bed's etcdutl that pauses the restore of `members`; returns its path."""
    real = yaml.safe_load(bed.inventory.read_text())["all"]["children"]["etcd"]["vars"]["etcd_etcdutl"]
    tool = tmp_path / "etcdutl"
    tool.write_text(PAUSING_TOOL.format(real=real))
    tool.chmod(0o755)
    (tmp_path / "pause").write_text("".join(f"/{member}\n" for member in members))
    return str(tool)


def module_processes(bed):
    """The processes the bed's sshd runs for Ansible (the modules and what they started), not sshd itself."""
    sshd = {line.split("pid=")[1].split(",")[0] for line in subprocess.run(
        ["ss", "-Hltnp", "sport = :2222"], capture_output=True, text=True, check=True).stdout.splitlines()
        if "pid=" in line}
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/comm") as handle:
                    name = handle.read().strip()
            except OSError:
                continue
            children.setdefault(fields[1], []).append((entry, name))
    found, todo = [], list(sshd)
    while todo:
        for pid, name in children.get(todo.pop(), []):
            todo.append(pid)
            if name != "sshd":
                found.append(int(pid))
    return found


def crash(run, bed):
    """The controller dies with everything it started, and so do the modules it had running on the hosts."""
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    for pid in module_processes(bed):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_restore(ansible, tmp_path, **extra):
    log = open(tmp_path / "interrupted.log", "w")
    return ansible.start(
        "etcdops.dr.restore", extra_vars=dict({"restore_snapshot": HOST_COPY}, **extra), output=log)


def kept_holds_pre_restore_data(bed):
    """Each member's kept dir is its own data from before the restore (with the keys written after the backup), not
    a restored copy; returns the kept dirs' names."""
    names = []
    for member in bed.members:
        kept = sorted(member.root.glob("data.pre-restore-*"))
        assert len(kept) == 1, f"{member.name}: {kept}"
        assert b"newer/009" in (kept[0] / "member" / "snap" / "db").read_bytes(), f"{kept[0]} is a restored copy"
        names.append(kept[0].name)
    return names


# Where the controller dies: (members whose restore tool pauses, the state to wait for, members swapped by then).
CRASH_POINTS = {
    "right after the stop": (["node"], lambda bed: all(cluster.listener_pid(m) is None for m in bed.members), []),
    "with the staging dirs present": (
        ["node"], lambda bed: set(steps(bed).values()) == {"stopped"}
        and all((m.root / "data.restore-staging").is_dir() for m in bed.members), []),
    "after one member swapped": (
        ["node2", "node3"], lambda bed: steps(bed) == {"node1": "swapped", "node2": "stopped", "node3": "stopped"},
        ["node1"]),
    "after the start": ([], lambda bed: set(steps(bed).values()) == {"started"}, ["node1", "node2", "node3"]),
}


@pytest.mark.parametrize("recovery", ["the restore again", "the rollback"])
@pytest.mark.parametrize("crash_point", list(CRASH_POINTS))
def test_a_restore_killed_at_each_step_is_finished_or_rolled_back_by_one_command(
        restorable, ansible, tmp_path, crash_point, recovery):
    bed = restorable
    services.supervisorctl(bed, "start", *[m.kube_apiserver_service for m in bed.members])
    before = back_up_then_write_more(bed, ansible)
    paused, reached, swapped = CRASH_POINTS[crash_point]
    extra = {"restore_kubernetes": True}
    if paused:
        extra["etcd_etcdutl"] = pausing_tool(bed, tmp_path, *paused)
    run = start_restore(ansible, tmp_path, **extra)
    wait_for(lambda: reached(bed), crash_point)
    first_run = journal(bed.members[0])["run_id"]
    crash(run, bed)
    assert "RUNNING" not in running_apiservers(bed, timeout=0), "the killed run had stopped kube-apiserver"

    if recovery == "the restore again":
        again = restore(ansible, restore_kubernetes=True)
        assert again.rc == 0, again.output
        assert "takes it over" in again.stdout and first_run in again.stdout, again.output
        stats = custom_stats(again)["etcd_restore"]
        assert len(keys(bed)) == stats["key_count"] == 10, "the snapshot's keys, without the newer ones"
        # A member's own data stays where the killed run kept it; the others' is kept by this run.
        kept = kept_holds_pre_restore_data(bed)
        assert kept == [f"data.pre-restore-{first_run if m.name in swapped else stats['run_id']}" for m in bed.members]
        assert [os.path.basename(path) for path in stats["kept"]] == kept
        assert kept_dirs(bed, ".failed-restore-") == [], "the killed run's unverified copies are pruned"
        assert all(journal(m)["step"] == "verified" and journal(m)["interrupted"]["run_id"] == first_run
                   for m in bed.members)
    else:
        if crash_point == "after one member swapped":
            # Check mode says what the rollback would do and changes nothing.
            left = (steps(bed), kept_dirs(bed, "."))
            checked = ansible.playbook(ROLLBACK, check=True)
            assert checked.rc == 0, checked.output
            assert "check mode, nothing was changed: would roll back node1, node2, node3" in checked.stdout, \
                checked.output
            assert (steps(bed), kept_dirs(bed, ".")) == left
        back = ansible.playbook(ROLLBACK, env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})
        assert back.rc == 0, back.output
        assert "rolled back node1, node2, node3" in back.stdout, back.output
        assert "healthy on its previous data" in back.stdout, back.output
        assert keys(bed) == before
        assert kept_dirs(bed, ".pre-restore-") == []
        assert len(kept_dirs(bed, ".failed-restore-")) == len(swapped), "each restored copy is kept for a post-mortem"
        assert set(steps(bed).values()) == {"rolled_back"}
        stats = custom_stats(back)["etcd_restore_rollback"]
        assert stats["rolled_back"] == ["node1", "node2", "node3"] and stats["key_count"] == len(before)
        assert stats["healthy"] is True and len(stats["members"]) == 3, stats
        again = ansible.playbook(ROLLBACK)
        assert again.rc == 0 and "nothing to roll back" in again.stdout, again.output
    assert not any((m.root / "data.restore-staging").exists() for m in bed.members)
    assert running_apiservers(bed).count("RUNNING") == 3


def cut_ssh(config, members):
    """Write the ssh config that sends each of `members` to an address where nothing listens once a restore is under
    way on it (its journal says so) and its etcd has stopped: the host is lost right after the stop, and stays lost
    while its etcd is down. The journal condition keeps a member that is slow to answer before the restore from
    being taken for a lost one."""
    # ssh runs `Match exec` with $SHELL, or /bin/sh when it is unset (as under CI), and /bin/sh may lack /dev/tcp:
    # the check is a bash script of its own so that it means the same everywhere.
    check = config.with_name("lost_when_restore_under_way_and_etcd_down")
    # Top-level keys only (indent=1): an earlier run's step under "interrupted" or "steps" does not count.
    check.write_text("#!/bin/bash\n"
                     "grep -Eqs '^ .step.: .(planned|stopped|staged|swapped|started).' \"$1\" || exit 1\n"
                     "! (exec 3<>\"/dev/tcp/$2/2379\") 2>/dev/null\n")
    check.chmod(0o755)
    lines = []
    for member in members:
        journal = f"{member.data_dir}.etcdops-restore.json"
        lines += [f'Match originalhost {member.address} exec "{check} {journal} {member.address}"',
                  "  HostName 127.0.0.254"]
    config.write_text("".join(line + "\n" for line in lines))


def cut_ssh_once_etcd_stops(bed, tmp_path, *members):
    """cut_ssh for `members`; returns the inventory that uses that ssh config, and the config."""
    config = tmp_path / "ssh_config"
    cut_ssh(config, members)
    inventory = yaml.safe_load(bed.inventory.read_text())
    inventory["all"]["vars"]["ansible_ssh_common_args"] += f" -F {config}"
    # Without a persistent master connection each task connects anew and the ssh config decides: as after a reboot
    # or a network cut, when the master connection dies too.
    inventory["all"]["vars"]["ansible_ssh_args"] = "-o ControlMaster=no"
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path), config


@pytest.mark.parametrize("lost", [["node3"], ["node1", "node2", "node3"]], ids=["one host", "every host"])
def test_hosts_lost_after_the_stop_are_named_and_the_rollback_finishes_the_job(restorable, ansible, tmp_path, lost):
    bed = restorable
    services.supervisorctl(bed, "start", *[m.kube_apiserver_service for m in bed.members])
    before = back_up_then_write_more(bed, ansible)
    inventory, config = cut_ssh_once_etcd_stops(bed, tmp_path, *[bed.member(name) for name in lost])
    run = restore(ansible, "-i", inventory, restore_kubernetes=True, restore_health_retries=20)
    assert run.rc != 0 and "restore failed after etcd was stopped" in run.stdout, run.output
    message = run.stdout[run.stdout.index("restore failed after etcd was stopped"):]
    for name in lost:
        assert f"{name} could not be reached from the step" in message, run.output
    assert f"-i {inventory} etcdops.dr.restore_rollback" in message
    reachable = [m for m in bed.members if m.name not in lost]
    if reachable:
        # The others are back on their data, with a quorum, and their kube-apiservers run again.
        assert "the cluster is working on it without node3" in message, message
        cluster.wait_healthy(bed, reachable, timeout=10)
        assert keys_at(bed, reachable) == before
        assert running_apiservers(bed, timeout=1).count("RUNNING") == 2
    assert all(cluster.listener_pid(bed.member(name)) is None for name in lost)

    if len(lost) > 1:
        # Two hosts answer again, the third not yet: the rollback brings back a quorum and names what is missing.
        cut_ssh(config, [bed.member("node3")])
        partial = ansible.playbook(ROLLBACK, "-i", inventory)
        assert partial.rc != 0, partial.output
        assert "rolled back node1, node2" in partial.stdout and "NOT REACHED: node3" in partial.stdout, partial.output
        assert "works on its previous data without node3" in partial.stdout, partial.output
        assert keys_at(bed, bed.members[:2]) == before
        lost = ["node3"]
    config.write_text("")   # the hosts are back
    back = ansible.playbook(ROLLBACK, "-i", inventory)
    assert back.rc == 0, back.output
    assert f"rolled back {', '.join(lost)}" in back.stdout, back.output
    cluster.wait_healthy(bed, timeout=10)
    assert keys(bed) == before
    assert running_apiservers(bed).count("RUNNING") == 3
    assert kept_dirs(bed, ".pre-restore-") == []


def keys_at(bed, members):
    return scratch.key_values(functools.partial(cluster.etcdctl, bed, endpoints=[m.client_url for m in members]))


def test_kept_dirs_that_fill_a_small_disk_are_named_with_sizes_then_pruned_keeping_the_newest(
        restorable, ansible, tmp_path):
    bed = restorable
    snapshot = take_backup(ansible)["file"]
    mib = 1024 * 1024
    with faults.small_filesystem(tmp_path / "disk", 128 * mib) as disk:
        data_dir = disk / "data"
        (data_dir / "member" / "snap").mkdir(parents=True)
        for name in ("data.pre-restore-20261101T000000Z", "data.pre-restore-20261102T000000Z",
                     "data.failed-restore-20261103T000000Z"):
            (disk / name / "member").mkdir(parents=True)
            (disk / name / "member" / "db").write_bytes(os.urandom(30 * mib))
        member = bed.member("node1")
        args = {"snapshot": snapshot, "name": "node1", "initial_advertise_peer_urls": [member.peer_url],
                "initial_cluster": f"node1={member.peer_url}", "initial_cluster_token": "t", "data_dir": str(data_dir),
                "etcdutl": "{{ etcd_etcdutl }}"}
        refused = ansible.module("etcdops.dr.etcd_restore", args, hosts="node1", check=True).results["node1"]
        assert refused["failed"] and "not enough free disk" in refused["msg"], refused
        assert (f"earlier restores left {disk}/data.failed-restore-20261103T000000Z (30 MiB), {disk}/data.pre-restore-"
                f"20261102T000000Z (30 MiB), {disk}/data.pre-restore-20261101T000000Z (30 MiB)") in refused["msg"]

        pruned = ansible.module("etcdops.dr.etcd_restore_leftovers", {"data_dir": str(data_dir), "keep_previous": 1},
                                hosts="node1").results["node1"]
        assert pruned["changed"] and pruned["freed_bytes"] >= 60 * mib, pruned
        assert sorted(path.name for path in disk.iterdir()) == ["data", "data.pre-restore-20261102T000000Z"]
        assert (disk / "data.pre-restore-20261102T000000Z" / "member" / "db").stat().st_size == 30 * mib
        planned = ansible.module("etcdops.dr.etcd_restore", args, hosts="node1", check=True).results["node1"]
        assert not planned.get("failed") and planned["changed"], planned


# Takes a member's peer port the moment its etcd lets go of it, once the member's journal records a restore's plan
# (the stop phase began), and holds it until the journal records a failure: a stop that never sees the ports free.
SQUATTER = r"""
import json, socket, sys, time
address, port, journal = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def entry():
    try:
        with open(journal) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}

while entry().get("step") != "planned":
    time.sleep(0.002)
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
while True:
    try:
        sock.bind((address, port))
        break
    except OSError:
        pass
sock.listen()
while not entry().get("failures"):
    time.sleep(0.02)
"""


def test_two_hosts_failing_in_one_step_are_both_named_and_recorded_in_their_journals(restorable, ansible):
    bed = restorable
    before = back_up_then_write_more(bed, ansible)
    # No member has a journal: the rollback finds nothing to do, and moves no data dir aside.
    cluster.remove_restore_leftovers(bed)
    untouched = ansible.playbook(ROLLBACK)
    assert untouched.rc == 0 and "nothing to roll back" in untouched.stdout, untouched.output
    assert kept_dirs(bed, ".") == [] and keys(bed) == before
    statuses = cluster.endpoint_status(bed)
    leading = {status["Endpoint"] for status in statuses
               if status["Status"]["header"]["member_id"] == status["Status"]["leader"]}
    followers = [member for member in bed.members if member.client_url not in leading]
    assert len(followers) == 2, statuses

    # The stop: neither follower's ports come free until its journal records the failure.
    squatters = [subprocess.Popen([sys.executable, "-c", SQUATTER, member.address, member.peer_url.rsplit(":", 1)[1],
                                   f"{member.data_dir}.etcdops-restore.json"]) for member in followers]
    try:
        run = restore(ansible, restore_kubernetes=False, restore_timeout=8)
        for squatter in squatters:
            squatter.wait(timeout=60)
    finally:
        for squatter in squatters:
            squatter.kill()
    assert run.rc != 0 and "restore failed after etcd was stopped" in run.stdout, run.output
    message = run.stdout[run.stdout.index("restore failed after etcd was stopped"):]
    for member in followers:
        assert f"stop etcd failed on {member.name}: " in message, run.output
        failures = journal(member)["failures"]
        assert [failure["step"] for failure in failures] == ["etcd_stop"], failures
        assert "etcd did not stop within 8.0s" in failures[0]["msg"] and "listens on" in failures[0]["msg"]
        assert journal(member)["step"] == "rolled_back"
    cluster.wait_healthy(bed, timeout=10)
    assert keys(bed) == before

    # The restore: neither follower's staging dir can be written.
    stagings = [member.root / "data.restore-staging" for member in followers]
    with faults.immutable(stagings[0]), faults.immutable(stagings[1]):
        run = restore(ansible, restore_kubernetes=False)
    for staging in stagings:
        staging.rmdir()
    assert run.rc != 0, run.output
    message = run.stdout[run.stdout.index("restore failed after etcd was stopped"):]
    for member in followers:
        assert f"restore failed on {member.name}: " in message, run.output
        failures = journal(member)["failures"]
        assert [failure["step"] for failure in failures] == ["restore"], failures
        assert failures[0]["msg"].startswith("restoring %s failed: " % member.data_dir), failures
    cluster.wait_healthy(bed, timeout=10)
    assert keys(bed) == before
