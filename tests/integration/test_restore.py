"""The restore playbook over SSH on the three hosts: every member rebuilt from one snapshot, checked in check mode,
run twice, from a cold copy; and faults before and after the stop, each ending with the cluster healthy on its
previous data and the cause in the failure message."""
import functools
import hashlib
import json
import os
import re
import shutil
import threading
import time

import pytest

from testbed import cluster, faults, scratch, services

PLAYBOOK = "etcdops.dr.restore"
BUMP = 1000000000
# Every host's own copy of the snapshot, in its own backup dir (the hosts share one filesystem).
HOST_COPY = "{{ etcd_backup_dir }}/restore/snapshot.db"


def write_keys(bed, prefix, count):
    for number in range(count):
        cluster.etcdctl(bed, "put", f"{prefix}/{number:03d}", f"value-{prefix}-{number}")


def keys(bed):
    return scratch.key_values(functools.partial(cluster.etcdctl, bed))


def revisions(bed):
    return [s["Status"]["header"]["revision"] for s in cluster.endpoint_status(bed)]


def etcd_pids(bed):
    return {member.name: cluster.listener_pid(member) for member in bed.members}


def kept_dirs(bed, infix):
    return sorted(p.name for m in bed.members for p in m.root.glob(f"data{infix}*") if p.is_dir())


def custom_stats(run):
    marker = "CUSTOM STATS: "
    for line in run.stdout[run.stdout.index(marker):].splitlines():
        if line.strip().startswith("RUN:"):
            return json.loads(line.split("RUN:", 1)[1])
    raise AssertionError(run.output)


@pytest.fixture
def restorable(clean_backups):
    """The live bed without kept data dirs of earlier restores (a session that was killed may have left some),
    kube-apiserver stand-ins stopped."""
    bed = clean_backups
    cluster.remove_restore_leftovers(bed)
    yield bed
    services.supervisorctl(bed, "stop", *[m.kube_apiserver_service for m in bed.members], check=False)
    cluster.remove_restore_leftovers(bed)
    for member in bed.members:
        shutil.rmtree(member.backup_dir / "restore", ignore_errors=True)


def take_backup(ansible):
    run = ansible.playbook("etcdops.dr.backup", env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})
    assert run.rc == 0, run.output
    return custom_stats(run)["etcd_backup"]


def copy_to_every_host(bed, path):
    for member in bed.members:
        (member.backup_dir / "restore").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, member.backup_dir / "restore" / "snapshot.db")


def restore(ansible, *args, check=False, **extra):
    return ansible.playbook(PLAYBOOK, *args, check=check, env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"},
                            extra_vars=dict({"restore_snapshot": HOST_COPY}, **extra))


def test_restore_brings_back_exactly_the_snapshot_in_kubernetes_mode_twice(restorable, ansible):
    bed = restorable
    services.supervisorctl(bed, "start", *[m.kube_apiserver_service for m in bed.members])
    write_keys(bed, "before", 50)
    expected = keys(bed)
    backup = take_backup(ansible)
    write_keys(bed, "after", 20)
    later = keys(bed)
    pids = etcd_pids(bed)

    # Check mode copies the snapshot to the hosts to check it there, and changes nothing of etcd.
    checked = restore(ansible, check=True, restore_snapshot=backup["file"], restore_snapshot_from=backup["source_host"],
                      restore_snapshot_dir="{{ etcd_backup_dir }}/restore", restore_kubernetes=True)
    assert checked.rc == 0, checked.output
    assert etcd_pids(bed) == pids and keys(bed) == later and kept_dirs(bed, ".") == []

    earlier_kept = []
    for attempt in (1, 2):
        apiserver_pids = services.supervisorctl(bed, "status", *[m.kube_apiserver_service for m in bed.members]).stdout
        if attempt == 2:
            # The same snapshot with the same bump would start at the revision the first restore runs at now: watch
            # caches could take it for data they have seen. Refused before the stop; a larger bump is accepted.
            pids = etcd_pids(bed)
            refused = restore(ansible, restore_snapshot=backup["file"], restore_snapshot_from=backup["source_host"],
                              restore_snapshot_dir="{{ etcd_backup_dir }}/restore", restore_kubernetes=True)
            assert refused.rc != 0
            assert ("restore_bump_revision %d is too small: the running cluster is at revision %d, and the restored "
                    "cluster would start at %d" % (BUMP, backup["revision"] + BUMP, backup["revision"] + BUMP)
                    in refused.stdout), refused.output
            assert "Nothing was stopped" in refused.stdout and etcd_pids(bed) == pids
        bump = BUMP * attempt
        run = restore(ansible, restore_snapshot=backup["file"], restore_snapshot_from=backup["source_host"],
                      restore_snapshot_dir="{{ etcd_backup_dir }}/restore", restore_kubernetes=True,
                      restore_bump_revision=bump)
        assert run.rc == 0, run.output
        stats = custom_stats(run)["etcd_restore"]
        assert keys(bed) == expected, f"attempt {attempt}: the later keys must be gone, the earlier back"
        assert stats["kubernetes"] is True and stats["bump_revision"] == bump
        assert stats["snapshot_revision"] == backup["revision"]
        assert revisions(bed) == [backup["revision"] + bump] * 3
        assert stats["key_count"] == backup["key_count"] == len(expected)
        assert sorted(stats["member_restore_seconds"]) == ["node1", "node2", "node3"]
        # Each member's run lies within the restore phase (rounded to 0.1 s).
        assert all(0 < took <= stats["restore_seconds"] + 0.1 for took in stats["member_restore_seconds"].values())
        hashes = {h["HashKV"]["hash"] for h in json.loads(cluster.etcdctl(bed, "endpoint", "hashkv", "-w", "json").stdout)}
        assert len(hashes) == 1, hashes
        # restore_keep_previous (1): each member keeps only the data dir this restore replaced; the copies of the
        # snapshot this run placed on the hosts are gone, the source's own backup stays.
        kept = kept_dirs(bed, ".pre-restore-")
        assert len(kept) == 3 and not set(kept) & set(earlier_kept), (kept, earlier_kept)
        earlier_kept = kept
        assert not any((m.backup_dir / "restore" / os.path.basename(backup["file"])).exists() for m in bed.members)
        assert os.path.exists(backup["file"])
        assert sorted(path for paths in stats["removed"].values() for path in paths if path.endswith(".db")) == sorted(
            str(m.backup_dir / "restore" / os.path.basename(backup["file"])) for m in bed.members)
        # kube-apiserver was stopped and started again: new processes, running.
        now = running_apiservers(bed)
        assert now.count("RUNNING") == 3 and not set(apiserver_pid_list(now)) & set(apiserver_pid_list(apiserver_pids))
        assert all(oct(m.data_dir.stat().st_mode & 0o777) == "0o700" for m in bed.members)
    cluster.etcdctl(bed, "put", "after-restore", "written")
    assert cluster.etcdctl(bed, "get", "after-restore", "--print-value-only").stdout.strip() == "written"


def test_the_cold_copy_restores(restorable, ansible):
    bed = restorable
    write_keys(bed, "cold", 30)
    expected = keys(bed)
    run = ansible.playbook("etcdops.dr.cold_backup")
    assert run.rc == 0, run.output
    copy = next(p for p in bed.member("node1").backup_dir.glob("etcd-cold-*.db"))
    write_keys(bed, "later", 5)
    before = revisions(bed)[0]
    # A leftover of an earlier rollback that cannot be removed (immutable, even for root) does not fail the restore,
    # which is verified and recorded by then: the summary and the closing message name it.
    member = bed.member("node3")
    stuck = member.data_dir.with_name(member.data_dir.name + ".failed-restore-20200101T000000Z")
    with faults.immutable(stuck):
        run = restore(ansible, restore_snapshot=str(copy), restore_snapshot_from="node1",
                      restore_snapshot_dir="{{ etcd_backup_dir }}/restore", restore_kubernetes=False)
    stuck.rmdir()
    assert run.rc == 0, run.output
    assert keys(bed) == expected
    stats = custom_stats(run)["etcd_restore"]
    assert stats["bump_revision"] == 0
    assert revisions(bed)[0] < before, "no bump outside Kubernetes mode"
    assert stats["journal_problems"] == [] and len(stats["leftovers_problems"]) == 1, stats
    assert stats["leftovers_problems"][0].startswith(f"node3: removing {stuck} failed after 0 of ")
    assert "leftovers not removed (remove them by hand): node3: removing" in run.stdout
    with open(f"{member.data_dir}.etcdops-restore.json") as handle:
        assert json.load(handle)["step"] == "verified"


def test_a_flipped_byte_on_one_host_and_an_unverifiable_file_are_caught_before_anything_stops(restorable, ansible):
    bed = restorable
    write_keys(bed, "keep", 10)
    backup = take_backup(ansible)
    copy_to_every_host(bed, backup["file"])
    damaged = bed.member("node2").backup_dir / "restore" / "snapshot.db"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    pids, before = etcd_pids(bed), keys(bed)
    run = restore(ansible, restore_kubernetes=False)
    assert run.rc != 0
    assert "node2" in run.stdout and ("corrupt" in run.stdout or "differs between the hosts" in run.stdout), run.output
    assert "Nothing was stopped" in run.stdout
    assert etcd_pids(bed) == pids and keys(bed) == before and kept_dirs(bed, ".") == []

    # A database without trailer or manifest (here: the snapshot without its trailer) is restored only with its
    # sha256 given.
    plain = open(backup["file"], "rb").read()[:-32]
    for member in bed.members:
        (member.backup_dir / "restore" / "snapshot.db").write_bytes(plain)
    refused = restore(ansible, check=True, restore_kubernetes=False)
    assert refused.rc != 0
    assert "has no sha256 trailer" in refused.stdout and "give its known sha256 (restore_sha256)" in refused.stdout, \
        refused.output
    assert "Nothing was stopped" in refused.stdout
    sha256 = hashlib.sha256(plain).hexdigest()
    checked = restore(ansible, check=True, restore_kubernetes=False, restore_sha256=sha256)
    assert checked.rc == 0, checked.output
    assert "(sha256 %s, revision %d, %d keys)" % (sha256, backup["revision"], len(before)) in checked.stdout, \
        checked.output
    assert etcd_pids(bed) == pids and keys(bed) == before and kept_dirs(bed, ".") == []


def test_inventory_names_that_do_not_match_the_cluster_are_caught_before_anything_stops(restorable, ansible, tmp_path):
    bed = restorable
    backup = take_backup(ansible)
    copy_to_every_host(bed, backup["file"])
    pids = etcd_pids(bed)
    inventory = cluster.inventory_with(bed, tmp_path / "renamed.yml", "node2", etcd_member_name="etcd-b")
    run = restore(ansible, "-i", inventory, restore_kubernetes=False)
    assert run.rc != 0
    # The running cluster's member list is checked first (etcd's configuration on the host after the service check).
    assert "the inventory does not match the members of the running cluster" in run.stdout, run.output
    assert "node2=https://127.0.0.12:2380" in run.stdout and "etcd-b=https://127.0.0.12:2380" in run.stdout
    assert "Nothing was stopped" in run.stdout
    assert etcd_pids(bed) == pids and kept_dirs(bed, ".") == []


def test_bad_options_are_refused_before_anything_stops(restorable, ansible, tmp_path):
    bed = restorable
    pids = etcd_pids(bed)
    relative = ansible.playbook(PLAYBOOK, extra_vars={"restore_snapshot": "backups/snapshot.db",
                                                      "restore_snapshot_dir": "restore"})
    assert relative.rc != 0
    assert "restore_snapshot is backups/snapshot.db, a relative path: give its absolute path" in relative.stdout, \
        relative.output
    assert "restore_snapshot_dir is restore, a relative path" in relative.stdout
    # With fewer forks than members the first member to start would wait for a quorum that cannot form.
    backup = take_backup(ansible)
    few_forks = ansible.playbook(PLAYBOOK, "--forks", "2", extra_vars={"restore_snapshot": backup["file"],
                                                                       "restore_snapshot_from": backup["source_host"]})
    assert few_forks.rc != 0
    assert "forks is 2, fewer than the 3 members" in few_forks.stdout and "run with --forks 3" in few_forks.stdout, \
        few_forks.output
    for run in (relative, few_forks):
        assert "Nothing was stopped" in run.stdout and "Control etcd: stop" not in run.stdout
    # A member that cannot be reached over SSH ends the play at the first task on the hosts.
    unreachable = ansible.playbook(PLAYBOOK, "-i", cluster.inventory_with(bed, tmp_path / "inventory.yml", "node2",
                                                                          ansible_port=2299),
                                   extra_vars={"restore_snapshot": HOST_COPY})
    assert unreachable.rc != 0
    assert re.search(r"fatal: \[node2\]: UNREACHABLE!", unreachable.stdout), unreachable.output
    assert "Control etcd" not in unreachable.stdout and "Check the snapshot" not in unreachable.stdout
    assert etcd_pids(bed) == pids and kept_dirs(bed, ".") == []


def running_apiservers(bed, timeout=5):
    """supervisorctl status of the kube-apiserver stand-ins once all are RUNNING, or as it is after `timeout`: the
    restore waits until each listens, not for supervisor's startsecs, so one may still be STARTING for a second."""
    deadline = time.monotonic() + timeout
    while True:
        status = services.supervisorctl(bed, "status", *[m.kube_apiserver_service for m in bed.members],
                                        check=False).stdout
        if status.count("RUNNING") == len(bed.members) or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def apiserver_pid_list(status):
    return re.findall(r"pid (\d+)", status)


def back_up_then_write_more(bed, ansible):
    """Keys, a backup on every host, newer keys: a rollback must bring back these keys, the newer ones included."""
    write_keys(bed, "old", 10)
    copy_to_every_host(bed, take_backup(ansible)["file"])
    write_keys(bed, "newer", 10)
    return keys(bed)


def test_a_restore_that_fails_on_one_member_after_the_stop_is_rolled_back(restorable, ansible):
    bed = restorable
    before = back_up_then_write_more(bed, ansible)
    staging = bed.member("node3").root / "data.restore-staging"
    with faults.immutable(staging):
        run = restore(ansible, restore_kubernetes=False)
    staging.rmdir()
    assert run.rc != 0
    assert "restore failed on node3" in run.stdout and "previous data dir was put back" in run.stdout, run.output
    cluster.wait_healthy(bed, timeout=10)
    assert keys(bed) == before, "the cluster runs on its previous data"
    assert len(kept_dirs(bed, ".failed-restore-")) == 2 and kept_dirs(bed, ".pre-restore-") == []


def test_a_restored_member_that_fails_to_start_is_rolled_back(restorable, ansible):
    bed = restorable
    before = back_up_then_write_more(bed, ansible)
    node3 = bed.member("node3")
    done = threading.Event()

    def damage_restored_db():
        # Between the swap and the start: node3's restored database becomes garbage, as a failing disk would make it.
        while not done.is_set():
            if list(node3.root.glob("data.pre-restore-*")):
                with open(node3.data_dir / "member" / "snap" / "db", "r+b") as handle:
                    handle.write(b"\0" * 16384)
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=damage_restored_db)
    watcher.start()
    try:
        run = restore(ansible, restore_kubernetes=False, restore_timeout=20, restore_health_retries=5)
    finally:
        done.set()
        watcher.join()
    assert run.rc != 0
    assert "previous data dir was put back" in run.stdout and "node3" in run.stdout, run.output
    cluster.wait_healthy(bed, timeout=10)
    assert keys(bed) == before
    assert kept_dirs(bed, ".pre-restore-") == []


def test_the_module_refuses_a_member_whose_etcd_still_runs(restorable, ansible):
    bed = restorable
    backup = take_backup(ansible)
    copy_to_every_host(bed, backup["file"])
    node1 = bed.member("node1")
    args = {"snapshot": "{{ etcd_backup_dir }}/restore/snapshot.db", "name": "{{ etcd_member_name }}",
            "initial_advertise_peer_urls": ["{{ etcd_peer_url }}"], "initial_cluster": "{{ etcd_member_name }}={{ etcd_peer_url }}",
            "initial_cluster_token": "t", "data_dir": "{{ etcd_data_dir }}", "client_urls": ["{{ etcd_client_url }}"],
            "etcdutl": "{{ etcd_etcdutl }}"}
    manifest = json.loads(open(backup["file"] + ".json").read())
    shutil.copyfile(backup["file"] + ".json", node1.backup_dir / "restore" / "snapshot.db.json")
    checked = ansible.module("etcdops.dr.etcd_restore", dict(args, count_keys=True), hosts="node1",
                             check=True).results["node1"]
    assert not checked.get("failed") and checked["cmd"][1:3] == ["snapshot", "restore"], checked
    assert any("has %s/member/snap/db open" % node1.data_dir in found for found in checked["etcd_running"])
    # Check mode reports the file as etcd_snapshot_info would, with the tool's reading and the keys counted; the
    # etcd version comes from the manifest when server_version is not given.
    report = checked["snapshot"]
    assert report["status"] == "ok" and report["verified_by"] == ["manifest", "trailer"], report
    assert report["sha256"] == backup["sha256"] and report["key_count"] == backup["key_count"]
    assert report["tool"] == "etcdutl" and report["total_keys"] is not None
    assert checked["server_version"] == manifest["etcd_version"] and checked["server_version"]
    refused = ansible.module("etcdops.dr.etcd_restore", args, hosts="node1").results["node1"]
    assert refused["failed"] and "etcd still runs on this host" in refused["msg"] and "Nothing was changed" in refused["msg"]
    assert kept_dirs(bed, ".") == [] and not (node1.root / "data.restore-staging").exists()

    # A database without trailer or manifest (the snapshot cut before its sha256 trailer) needs its sha256 given.
    plain = node1.backup_dir / "restore" / "plain.db"
    plain.write_bytes(open(backup["file"], "rb").read()[:-32])
    plain_args = dict(args, snapshot=str(plain))
    unknown = ansible.module("etcdops.dr.etcd_restore", plain_args, hosts="node1", check=True).results["node1"]
    assert unknown["failed"] and "has no sha256 trailer" in unknown["msg"] and "give its known sha256" in unknown["msg"]
    known = ansible.module("etcdops.dr.etcd_restore", dict(plain_args, sha256=unknown["sha256"]), hosts="node1",
                           check=True).results["node1"]
    assert not known.get("failed") and known["skip_hash_check"] and "--skip-hash-check" in known["cmd"], known


def checked_sources(run, host):
    """The sources of etcd's configuration the preflight checked on `host` (its decision lists each one)."""
    task = run.stdout.split("Stop unless every member can be restored", 1)[1].split("TASK [", 1)[0]
    return re.findall(r'^ *"%s: etcd\'s configuration checked: (.*?)",?$' % re.escape(host), task, re.M)


def test_without_etcd_config_file_the_preflight_checks_the_running_etcd_and_its_program(
        restorable, ansible, tmp_path):
    bed = restorable
    write_keys(bed, "some", 3)
    copy_to_every_host(bed, take_backup(ansible)["file"])
    pids = etcd_pids(bed)
    inventory = cluster.inventory_edited(bed, tmp_path / "no-config-file.yml", drop=["etcd_config_file"])
    run = restore(ansible, "-i", inventory, check=True, restore_kubernetes=False)
    assert run.rc == 0, run.output
    for member in bed.members:
        pid = pids[member.name]
        assert checked_sources(run, member.name) == [
            f"running process pid {pid} (/proc/{pid}/cmdline), config file {member.config_file}",
            f"supervisor program {member.service} in {bed.supervisor_conf}, config file {member.config_file}"], \
            run.output
    assert "not checked" not in run.stdout
    assert etcd_pids(bed) == pids and kept_dirs(bed, ".") == []


def test_a_member_run_by_plain_flags_is_checked_from_its_process_and_its_program(restorable, ansible, tmp_path):
    bed = restorable
    node2 = bed.member("node2")
    write_keys(bed, "some", 3)
    copy_to_every_host(bed, take_backup(ansible)["file"])
    program = f"supervisor program {node2.service} in {bed.supervisor_conf}"
    said = f"says name node2, peer URLs {node2.peer_url}, data dir {node2.data_dir}; the inventory says etcd-b"
    # A rename on purpose (restore_require_cluster_match=false) that forgot etcd's own configuration.
    renamed = cluster.inventory_edited(bed, tmp_path / "renamed.yml", hosts=["node2"], drop=["etcd_config_file"],
                                       etcd_member_name="etcd-b")
    unmatched = {"restore_kubernetes": False, "restore_require_cluster_match": False}
    with cluster.program_command(bed, node2, services.flags_command(bed, node2)):
        pids = etcd_pids(bed)
        process = f"running process pid {pids['node2']} (/proc/{pids['node2']}/cmdline)"
        for check in (True, False):
            run = restore(ansible, "-i", renamed, check=check, **unmatched)
            assert run.rc != 0
            assert f"node2: {process} {said}" in run.stdout, run.output
            assert f"node2: {program} {said}" in run.stdout
            assert "Nothing was stopped" in run.stdout and "Control etcd: stop" not in run.stdout
            assert etcd_pids(bed) == pids and kept_dirs(bed, ".") == []

        # Stopped, the member is still checked: from what its program would start.
        cluster.stop_member(bed, node2)
        for check in (True, False):
            run = restore(ansible, "-i", renamed, check=check, **unmatched)
            assert run.rc != 0
            assert f"node2: {program} {said}" in run.stdout, run.output
            assert "node2: running process" not in run.stdout and "Control etcd: stop" not in run.stdout
            assert cluster.listener_pid(node2) is None
        flags = cluster.inventory_edited(bed, tmp_path / "flags.yml", hosts=["node2"], drop=["etcd_config_file"])
        run = restore(ansible, "-i", flags, check=True, restore_kubernetes=False)
        assert run.rc == 0, run.output
        assert checked_sources(run, "node2") == [program]
    assert kept_dirs(bed, ".") == []


def test_a_member_whose_configuration_cannot_be_read_is_restored_and_the_check_reported_as_not_run(
        restorable, ansible, tmp_path):
    bed = restorable
    node3 = bed.member("node3")
    write_keys(bed, "kept", 5)
    expected = keys(bed)
    copy_to_every_host(bed, take_backup(ansible)["file"])
    inventory = cluster.inventory_edited(bed, tmp_path / "wrapped.yml", hosts=["node3"], drop=["etcd_config_file"])
    why = (f"node3: member configuration not checked: etcd does not run on this host (nothing listens on "
           f"127.0.0.13:2379 or 127.0.0.13:2380); supervisor program {node3.service} in {bed.supervisor_conf} runs "
           f"{node3.root / 'run-etcd.sh'}, not etcd, so etcd's flags cannot be read from it; no config_file was given.")
    with cluster.program_command(bed, node3, services.wrapper_command(node3)):
        # Stopped, and its program runs a script: no source of node3's configuration can be read.
        cluster.stop_member(bed, node3)
        checked = restore(ansible, "-i", inventory, check=True, restore_kubernetes=False)
        assert checked.rc == 0, checked.output
        assert why in checked.stdout and checked_sources(checked, "node3") == []
        # node1 keeps etcd_config_file: its running etcd, its program and that file.
        assert len(checked_sources(checked, "node1")) == 3
        write_keys(bed, "later", 3)

        run = restore(ansible, "-i", inventory, restore_kubernetes=False)
        assert run.rc == 0, run.output
        assert custom_stats(run)["etcd_restore"]["checks_not_run"] == [why]
        assert "checks not run: " + why in run.stdout
        assert keys(bed) == expected

        # The restore started node3 through its script, which execs etcd: now the running etcd is read.
        again = restore(ansible, "-i", inventory, check=True, restore_kubernetes=False)
        assert again.rc == 0, again.output
        pid = cluster.listener_pid(node3)
        assert checked_sources(again, "node3") == [
            f"running process pid {pid} (/proc/{pid}/cmdline), config file {node3.config_file}"]
        # The program still runs a script: that source alone is reported as not checked.
        assert "member configuration not checked" not in again.stdout
        assert (f"node3: not checked: supervisor program {node3.service} in {bed.supervisor_conf} runs "
                f"{node3.root / 'run-etcd.sh'}, not etcd") in again.stdout
    (node3.root / "run-etcd.sh").unlink()


def test_a_file_that_is_no_snapshot_is_refused_on_the_controller_before_any_copy(restorable, ansible, tmp_path):
    """/etc/passwd, an empty file, a gzip of a snapshot and a directory, given from the controller: each is refused
    with what it is, before anything is copied to a host or stopped."""
    bed = restorable
    write_keys(bed, "stay", 5)
    pids, before = etcd_pids(bed), keys(bed)
    given = {"passwd.db": open("/etc/passwd", "rb").read(), "empty.db": b"",
             "snapshot.db.gz": b"\x1f\x8b\x08\x00" + bytes(range(256)) * 40}
    expected = {"passwd.db": "is not a snapshot: it does not begin with bbolt's magic number",
                "empty.db": "is empty: the file is empty (0 bytes)",
                "snapshot.db.gz": "a compressed or encrypted backup must be unpacked first"}
    for name, content in given.items():
        (tmp_path / name).write_bytes(content)
    for name in [*given, "a-directory"]:
        if name == "a-directory":
            (tmp_path / name).mkdir()
        run = restore(ansible, restore_snapshot=str(tmp_path / name), restore_snapshot_from="controller",
                      restore_snapshot_dir="{{ etcd_backup_dir }}/restore", restore_kubernetes=False)
        assert run.rc != 0, run.output
        if name == "a-directory":
            assert f"restore_snapshot {tmp_path / name} is a directory on the controller" in run.stdout, run.output
        else:
            assert f"{tmp_path / name} cannot be restored: " in run.stdout and expected[name] in run.stdout, run.output
        assert "Nothing was copied to the hosts and nothing was stopped" in run.stdout.replace("\n", " ") or \
            "Nothing was copied and nothing was stopped" in run.stdout.replace("\n", " "), run.output
        assert all(not (m.backup_dir / "restore").exists() or not any((m.backup_dir / "restore").iterdir())
                   for m in bed.members), f"{name} was copied to a host"
    assert etcd_pids(bed) == pids and keys(bed) == before and kept_dirs(bed, ".") == []


def test_a_snapshot_of_another_cluster_is_refused_before_the_stop_unless_allowed(restorable, ansible, tmp_path):
    bed = restorable
    write_keys(bed, "ours", 5)
    pids, before = etcd_pids(bed), keys(bed)
    foreign = tmp_path / "other-cluster.db"
    with scratch.scratch_member(bed, tmp_path / "other-data", name="other-a") as other:
        other.etcdctl("put", "theirs", "1")
        other.etcdctl("snapshot", "save", str(foreign))
    copy_to_every_host(bed, foreign)
    run = restore(ansible, restore_kubernetes=False)
    assert run.rc != 0
    text = run.stdout.replace("\n", " ")
    assert "the snapshot is of another cluster: its members are other-a at http://" in text, run.output
    assert "none of them a member of this inventory (node1 at https://127.0.0.11:2380" in text, run.output
    assert "set restore_allow_foreign_snapshot=true. Nothing was stopped." in text, run.output
    assert etcd_pids(bed) == pids and keys(bed) == before and kept_dirs(bed, ".") == []

    # Allowed (a migration), it passes the preflight; check mode stops there.
    allowed = restore(ansible, check=True, restore_kubernetes=False, restore_allow_foreign_snapshot=True)
    assert allowed.rc == 0, allowed.output
    assert etcd_pids(bed) == pids and keys(bed) == before


def test_leftovers_of_earlier_restores_go_four_ways_keeping_the_newest(restorable, ansible):
    bed = restorable
    for member in bed.members:
        for stamp in ("20261101T000000Z", "20261102T000000Z"):
            (member.root / f"data.pre-restore-{stamp}" / "member").mkdir(parents=True)
        (member.root / "data.failed-restore-20261103T000000Z").mkdir()
    args = {"data_dir": "{{ etcd_data_dir }}", "keep_previous": 1}
    newest = ["data.pre-restore-20261102T000000Z"] * len(bed.members)

    checked = ansible.module("etcdops.dr.etcd_restore_leftovers", args, check=True)
    assert all(r["changed"] and len(r["removed"]) == 2 for r in checked.results.values()), checked.results
    assert len(kept_dirs(bed, ".")) == 9, "check mode removes nothing"
    applied = ansible.module("etcdops.dr.etcd_restore_leftovers", args)
    assert all(r["changed"] and [os.path.basename(k) for k in r["kept"]] == newest[:1]
               for r in applied.results.values()), applied.results
    assert kept_dirs(bed, ".") == newest and all(m.data_dir.is_dir() for m in bed.members)
    for check in (False, True):
        again = ansible.module("etcdops.dr.etcd_restore_leftovers", args, check=check)
        assert all(not r["changed"] and r["removed"] == [] for r in again.results.values()), again.results
    assert kept_dirs(bed, ".") == newest
    cluster.wait_healthy(bed, timeout=10)
