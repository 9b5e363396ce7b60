"""The backup playbook over SSH on the three hosts: a follower's snapshot, verified on the host and on
the controller, restores to exactly the keys written before it; the source choice passes over a stopped
member; retention keeps exactly what it should; check mode writes nothing; a bad destination is caught
before anything is written."""
import datetime
import fcntl
import functools
import hashlib
import json
import os
import threading
import time

import pytest

from testbed import cluster, faults, scratch

PLAYBOOK = "etcdops.dr.backup"
STATS = {"ANSIBLE_SHOW_CUSTOM_STATS": "1"}


def write_keys(bed, prefix, count):
    for number in range(count):
        cluster.etcdctl(bed, "put", f"{prefix}/{number:03d}", f"value-{prefix}-{number}")


def custom_stats(run):
    """The set_stats data the default callback prints after the recap."""
    for line in run.stdout.splitlines():
        if line.strip().startswith("RUN: "):
            return json.loads(line.strip()[len("RUN: "):])
    raise AssertionError("no custom stats in the output:\n" + run.output)


def leader_name(bed, members):
    statuses = cluster.endpoint_status(bed, endpoints=[m.client_url for m in members])
    leader = statuses[0]["Status"]["leader"]
    members = {s["Status"]["header"]["member_id"]: s["Endpoint"] for s in statuses}
    return next(m.name for m in bed.members if m.client_url == members[leader])


def first_follower(bed, skip=()):
    running = [m for m in bed.members if m.name not in skip]
    leader = leader_name(bed, running)
    return next(m for m in running if m.name != leader)


def all_files(bed, *dirs):
    found = {m.name: cluster.backup_files(m) for m in bed.members}
    for directory in dirs:
        found[str(directory)] = sorted(os.listdir(directory)) if directory.exists() else []
    return found


def old_backup(directory, hours_ago, prefix="etcd-snapshot"):
    """A backup-named file (with a manifest) from `hours_ago` hours ago."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours_ago))
    name = "%s-%s.db" % (prefix, stamp.strftime("%Y%m%dT%H%M%SZ"))
    (directory / name).write_bytes(b"an older backup")
    (directory / (name + ".json")).write_text("{}")
    return name


def test_backup_snapshots_a_follower_verifies_it_twice_and_it_restores(clean_backups, ansible, tmp_path):
    bed = clean_backups
    write_keys(bed, "before", 100)
    expected = scratch.key_values(functools.partial(cluster.etcdctl, bed))
    source = first_follower(bed)
    pids = {m.name: cluster.listener_pid(m) for m in bed.members}
    controller = tmp_path / "controller"

    run = ansible.playbook(PLAYBOOK, extra_vars={"backup_fetch_dir": str(controller)}, env=STATS)
    assert run.rc == 0, run.output
    write_keys(bed, "after", 10)
    assert {m.name: cluster.listener_pid(m) for m in bed.members} == pids, "nothing was stopped"

    stats = custom_stats(run)["etcd_backup"]
    assert stats["source_host"] == source.name and stats["source_member"] == source.name
    assert f"source: {source.name} (member {source.name}, {source.client_url}, follower)" in run.stdout
    path = stats["file"]
    assert os.path.dirname(path) == str(source.backup_dir)
    name = os.path.basename(path)
    assert all_files(bed, controller) == {
        **{m.name: [] for m in bed.members}, source.name: [name, name + ".json"], str(controller): [name, name + ".json"]}
    data = open(path, "rb").read()
    assert stats["sha256"] == hashlib.sha256(data).hexdigest() and stats["size"] == len(data)
    assert (controller / name).read_bytes() == data
    for copy in (path, path + ".json", controller / name, controller / (name + ".json")):
        assert oct(os.stat(copy).st_mode & 0o777) == "0o600", copy
    assert json.loads((controller / (name + ".json")).read_text())["sha256"] == stats["sha256"]
    assert stats["controller_copy"] == str(controller / name) and stats["removed"] == []
    # Exactly the revision before the 10 later writes, and the 100 keys written before the backup.
    assert stats["revision"] == max(s["Status"]["header"]["revision"] for s in cluster.endpoint_status(bed)) - 10
    assert stats["key_count"] == 100 and "total_keys" not in stats
    assert stats["duration_seconds"] > 0 and stats["snapshot_seconds"] > 0

    # The controller's copy restores, with its trailer checked, to exactly the keys written before the backup.
    restored = scratch.restore_copy(bed, controller / name, tmp_path / "restored", skip_hash_check=False)
    assert restored.returncode == 0, restored.stderr
    with scratch.scratch_member(bed, tmp_path / "restored") as member:
        assert scratch.key_values(member.etcdctl) == expected


def test_check_mode_writes_nothing_and_each_run_applies_retention(clean_backups, ansible, tmp_path):
    bed = clean_backups
    source = bed.member("node3")
    controller = tmp_path / "controller"
    older = old_backup(source.backup_dir, 5)
    settings = {"backup_source": "node3", "backup_fetch_dir": str(controller), "backup_keep_last": 2,
                "backup_fetch_keep_last": 1}
    before = all_files(bed, controller)

    checked = ansible.playbook(PLAYBOOK, check=True, extra_vars=settings)
    assert checked.rc == 0, checked.output
    assert all_files(bed, controller) == before
    assert "check mode: would write %s/etcd-snapshot-" % source.backup_dir in checked.stdout
    assert "Retention would remove 0 old snapshot(s)" in checked.stdout

    runs = []
    for dummy in range(2):
        run = ansible.playbook(PLAYBOOK, extra_vars=settings, env=STATS)
        assert run.rc == 0, run.output
        runs.append(custom_stats(run)["etcd_backup"])
    first, second = (os.path.basename(r["file"]) for r in runs)
    assert first != second
    # Host: the two newest (the old one went on the second run); controller: only the newest.
    assert cluster.backup_files(source) == [first, first + ".json", second, second + ".json"]
    assert runs[0]["removed"] == [] and runs[1]["removed"] == [
        str(source.backup_dir / older), str(controller / first)]
    assert sorted(os.listdir(controller)) == [second, second + ".json"]

    rechecked = ansible.playbook(PLAYBOOK, check=True, extra_vars=settings)
    assert rechecked.rc == 0, rechecked.output
    assert "Retention would remove 2 old snapshot(s)" in rechecked.stdout
    assert cluster.backup_files(source) == [first, first + ".json", second, second + ".json"]
    assert sorted(os.listdir(controller)) == [second, second + ".json"]


def test_retention_keeps_exactly_the_newest_and_younger_and_nothing_else(clean_backups, ansible, tmp_path):
    bed = clean_backups
    source = bed.member("node2")
    ages = {hours: old_backup(source.backup_dir, hours) for hours in (1, 2, 3, 30, 50)}
    strangers = ["etcd-snapshot-latest.db", "notes.txt", old_backup(source.backup_dir, 100, prefix="etcd-cold")]
    for name in strangers[:2]:
        (source.backup_dir / name).write_text("not a backup of this prefix")

    run = ansible.playbook(PLAYBOOK, extra_vars={"backup_source": "node2", "backup_keep_last": 3,
                                                 "backup_max_age": "1d"}, env=STATS)
    assert run.rc == 0, run.output
    new = os.path.basename(custom_stats(run)["etcd_backup"]["file"])
    kept = [new, ages[1], ages[2]]
    expected = sorted(kept + [n + ".json" for n in kept] + strangers + [strangers[2] + ".json"])
    assert cluster.backup_files(source) == expected
    assert sorted(custom_stats(run)["etcd_backup"]["removed"]) == sorted(
        str(source.backup_dir / ages[h]) for h in (3, 30, 50))


def test_source_choice_passes_over_a_stopped_member(clean_backups, ansible):
    bed = clean_backups
    stopped = first_follower(bed)
    cluster.stop_member(bed, stopped)
    try:
        expected = first_follower(bed, skip=[stopped.name])
        run = ansible.playbook(PLAYBOOK, env=STATS)
        assert run.rc == 0, run.output
        stats = custom_stats(run)["etcd_backup"]
        assert stats["source_host"] == expected.name
        assert f"Passed over: {stopped.name} ({stopped.client_url}): it did not answer" in run.stdout
        assert cluster.backup_files(expected) == [os.path.basename(stats["file"]),
                                                  os.path.basename(stats["file"]) + ".json"]

        named = ansible.playbook(PLAYBOOK, extra_vars={"backup_source": stopped.name})
        assert named.rc != 0
        assert (f"no backup taken: backup_source {stopped.name} ({stopped.client_url}) cannot be the source: it did "
                "not answer") in named.output
        assert "Nothing was written." in named.output
        assert cluster.backup_files(stopped) == []
    finally:
        cluster.start_member(bed, stopped)


@pytest.mark.parametrize("fault", ["immutable", "full"])
def test_a_bad_backup_dir_is_caught_before_anything_is_written(clean_backups, ansible, tmp_path, fault):
    bed = clean_backups
    target = tmp_path / "backups"
    if fault == "immutable":
        context, message = faults.immutable(target), f"backup dir {target} is not writable by this user"
    else:
        context, message = faults.small_filesystem(target, 64 * 1024), f"not enough free disk for the backup in {target}"
    with context:
        run = ansible.playbook(PLAYBOOK, extra_vars={"backup_source": "node1", "backup_dir": str(target)})
        assert run.rc != 0
        assert message in run.output
        assert "Check the backup dir and free disk on the source host" in run.output
        assert "Take the snapshot on the source host" not in run.output
        assert os.listdir(target) == []


def test_an_unwritable_controller_dir_is_caught_before_the_snapshot(clean_backups, ansible, tmp_path):
    bed = clean_backups
    controller = tmp_path / "controller"
    with faults.immutable(controller):
        run = ansible.playbook(PLAYBOOK, extra_vars={"backup_fetch_dir": str(controller)})
        assert run.rc != 0
        assert f"backup dir {controller} is not writable by this user" in run.output
        assert "Take the snapshot on the source host" not in run.output
    assert all(cluster.backup_files(m) == [] for m in bed.members)


def test_a_host_unreachable_over_ssh_is_passed_over(clean_backups, ansible, tmp_path):
    bed = clean_backups
    broken = cluster.inventory_with(bed, tmp_path / "inventory.yml", "node1", ansible_port=2299)
    expected = first_follower(bed, skip=["node1"]) if leader_name(bed, bed.members) != "node1" else first_follower(bed)
    run = ansible.playbook(PLAYBOOK, "-i", broken, env=STATS)
    assert run.rc == 0, run.output
    stats = custom_stats(run)["etcd_backup"]
    assert stats["source_host"] == expected.name
    assert "node1 (https://127.0.0.11:2379): its host is not reachable over SSH" in run.stdout
    assert cluster.backup_files(bed.member("node1")) == []


def test_preflight_alone_bad_retention_and_a_skipped_preflight_write_nothing(clean_backups, ansible, tmp_path):
    bed = clean_backups
    controller = tmp_path / "controller"
    settings = {"backup_fetch_dir": str(controller)}

    checks = ansible.playbook(PLAYBOOK, "--tags", "preflight", extra_vars=settings)
    assert checks.rc == 0, checks.output
    assert "Check the controller's dir and free disk for the copy" in checks.stdout
    assert "Take the snapshot on the source host" not in checks.stdout

    bad_age = ansible.playbook(PLAYBOOK, extra_vars=dict(settings, backup_max_age="7"))
    assert bad_age.rc != 0 and "max_age '7' is not an age" in bad_age.output
    assert "Take the snapshot on the source host" not in bad_age.stdout

    skipped = ansible.playbook(PLAYBOOK, "--skip-tags", "preflight", extra_vars=settings)
    assert skipped.rc != 0
    assert "the preflight did not run (--skip-tags preflight?)" in skipped.output
    assert all(cluster.backup_files(m) == [] for m in bed.members) and not controller.exists()


def processes_with_open(path):
    """Pids of the processes (other than this one) that have `path` open."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(pid) != os.getpid() and any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path)
                                               for fd in os.listdir(f"/proc/{pid}/fd")):
                found.add(int(pid))
        except OSError:
            continue
    return found


def test_two_backups_started_together_both_keep_their_files_and_a_killed_runs_leftover_goes(
        clean_backups, ansible, tmp_path):
    """An AWX schedule overlapping a manual run: both runs snapshot the same member into the same dir and copy to
    the same controller dir. The test holds the dir's lock until both runs wait for it, so that they write at the
    same moment: each takes its own name, neither file is replaced or called corrupt. The temp file a killed run
    left there is removed."""
    bed = clean_backups
    write_keys(bed, "both", 20)
    source = first_follower(bed)
    source.backup_dir.mkdir(parents=True, exist_ok=True)
    leftover = source.backup_dir / ".etcd-snapshot-20261126T000000Z.db.k1ll3d.partial"
    leftover.write_bytes(b"half a snapshot")
    controller = tmp_path / "controller"
    runs = [None, None]

    def backup(slot):
        runs[slot] = ansible.playbook(PLAYBOOK, extra_vars={"backup_fetch_dir": str(controller)}, env=STATS)

    threads = [threading.Thread(target=backup, args=(slot,)) for slot in (0, 1)]
    held = os.open(source.backup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 180
        while len(processes_with_open(source.backup_dir)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        waiting = len(processes_with_open(source.backup_dir))
    finally:
        os.close(held)
    for thread in threads:
        thread.join(600)
    assert waiting == 2, "both runs should have been waiting for the dir's lock"
    assert all(run.rc == 0 for run in runs), [run.output for run in runs]
    stats = [custom_stats(run)["etcd_backup"] for run in runs]
    assert all(one["lock_waited_seconds"] > 0 for one in stats)
    assert sorted(path for one in stats for path in one["removed_partials"]) == [str(leftover)]
    assert stats[0]["file"] != stats[1]["file"] and {s["source_host"] for s in stats} == {source.name}
    for one in stats:
        data = open(one["file"], "rb").read()
        assert hashlib.sha256(data).hexdigest() == one["sha256"]
        assert json.loads(open(one["file"] + ".json").read())["sha256"] == one["sha256"]
        assert (controller / os.path.basename(one["file"])).read_bytes() == data
    names = sorted(os.path.basename(s["file"]) for s in stats)
    assert cluster.backup_files(source) == sorted(names + [name + ".json" for name in names])
    assert not leftover.exists()
