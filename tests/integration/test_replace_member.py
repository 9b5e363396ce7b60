"""One member lost while the cluster keeps quorum: etcdops.dr.replace_member removes it, adds it back as a learner,
rewrites its configuration where it lives, starts, promotes and verifies it - while clients keep writing. Refusals
come before any change; a learner that does not catch up is undone; a controller killed at each step is finished by
running the same command again (or undone with replace_undo=true)."""
import json
import os
import shlex
import shutil
import threading
import time

import pytest
import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._host.member_config import parse_flags

from ansible_collections.etcdops.dr.tests.integration.test_backup import custom_stats
from testbed import cluster, layout, pki, services

PLAYBOOK = "etcdops.dr.replace_member"
NODE = "node3"


def members(bed):
    """{name: (id, peer URLs, learner)} of the running cluster, read through node1 and node2."""
    out = cluster.etcdctl(bed, "member", "list", "-w", "json", endpoints=bed.client_urls[:2]).stdout
    return {m.get("name", ""): ("%x" % m["ID"], m["peerURLs"], bool(m.get("isLearner")))
            for m in json.loads(out)["members"]}


def hashes(bed):
    """The members' KV hashes at one revision, and that revision."""
    status = cluster.endpoint_status(bed)
    revision = min(s["Status"]["header"]["revision"] for s in status)
    out = cluster.etcdctl(bed, "endpoint", "hashkv", "--rev", str(revision), "-w", "json").stdout
    return {entry["HashKV"]["hash"] for entry in json.loads(out)}, revision


def keys_on(bed, member, prefix):
    out = cluster.etcdctl(bed, "get", prefix, "--prefix", "--keys-only", "--consistency=s",
                          endpoints=[member.client_url]).stdout
    return {line for line in out.splitlines() if line}


def lose_data(bed, member):
    services.supervisorctl(bed, "stop", member.service)
    shutil.rmtree(member.data_dir, ignore_errors=True)


def journal(member):
    path = member.root / "data.etcdops-replace.json"
    return json.loads(path.read_text()) if path.exists() else None


class Writer:
    """Puts before/<n> keys through node1 and node2 until stopped; `written` are the puts that succeeded."""

    def __init__(self, bed):
        self.bed = bed
        self.written = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        number = 0
        while not self.stop.is_set():
            key = f"during/{number:05d}"
            if cluster.etcdctl(self.bed, "put", key, "x", endpoints=self.bed.client_urls[:2], check=False,
                               timeout=20).returncode == 0:
                self.written.append(key)
            number += 1
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _joined(bed, member, timeout=20):
    """Whether `member` answers as a member of node1's cluster (not of one it founded alone on an empty data dir)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = cluster.etcdctl(bed, "endpoint", "status", "-w", "json", endpoints=[bed.client_urls[0], member.client_url],
                               check=False, timeout=10)
        if done.returncode == 0:
            ids = {entry["Status"]["header"]["cluster_id"] for entry in json.loads(done.stdout)}
            return len(ids) == 1
        time.sleep(0.3)
    return False


def put_member_back(bed):
    """The bed as the other tests know it: node3 a voting member at its own address, from its own config file, its
    leftovers gone. A test that failed half-way may have left it removed, a learner, elsewhere, or lost."""
    member = bed.member(NODE)
    services.supervisorctl(bed, "stop", member.service, check=False)
    services.write_supervisor(bed)
    services.supervisorctl(bed, "update")
    services.supervisorctl(bed, "stop", member.service, check=False)
    for path in member.root.glob("data.*"):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    for name, (member_id, peers, learner) in members(bed).items():
        if (name in ("", NODE) or member.peer_url in peers) and (learner or name == "" or peers != [member.peer_url]):
            cluster.etcdctl(bed, "member", "remove", member_id, endpoints=bed.client_urls[:2])
    if NODE in members(bed) and member.data_dir.exists():
        services.supervisorctl(bed, "start", member.service, check=False)
        if _joined(bed, member):
            cluster.wait_healthy(bed)
            return
        services.supervisorctl(bed, "stop", member.service, check=False)
    if NODE in members(bed):
        cluster.etcdctl(bed, "member", "remove", members(bed)[NODE][0], endpoints=bed.client_urls[:2])
    shutil.rmtree(member.data_dir, ignore_errors=True)
    cluster.etcdctl(bed, "member", "add", NODE, f"--peer-urls={member.peer_url}", endpoints=bed.client_urls[:2])
    config = yaml.safe_load(member.config_file.read_text())
    config["initial-cluster-state"] = "existing"
    member.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    cluster.start_member(bed, member)
    cluster.wait_healthy(bed)


@pytest.fixture
def replaceable(live):
    put_member_back(live)
    yield live
    put_member_back(live)


def test_a_member_whose_data_is_lost_is_replaced_while_clients_write(replaceable, ansible):
    bed = replaceable
    node = bed.member(NODE)
    for number in range(20):
        cluster.etcdctl(bed, "put", f"before/{number:03d}", "x")
    old_id = members(bed)[NODE][0]
    lose_data(bed, node)
    config_before = node.config_file.read_text()

    checked = ansible.playbook(PLAYBOOK, check=True, extra_vars={"replace_member": NODE})
    assert checked.rc == 0, checked.output
    assert f"remove member {NODE} ({old_id})" in checked.stdout, checked.output
    assert '+initial-cluster-state: \\"existing\\"' in checked.stdout, "the diff of the config file"
    assert members(bed)[NODE][0] == old_id and node.config_file.read_text() == config_before
    assert journal(node) is None and not node.data_dir.exists()

    with Writer(bed) as writer:
        time.sleep(0.5)
        run = ansible.playbook(PLAYBOOK, extra_vars={"replace_member": NODE})
        time.sleep(0.5)
    assert run.rc == 0, run.output
    new_id, peers, learner = members(bed)[NODE]
    assert new_id != old_id and peers == [node.peer_url] and not learner
    assert old_id not in [entry[0] for entry in members(bed).values()]
    assert len(writer.written) > 20, "the clients wrote during the replacement"
    cluster.wait_healthy(bed)
    digests, revision = hashes(bed)
    assert len(digests) == 1, f"KV hashes differ at revision {revision}: {digests}"
    assert keys_on(bed, node, "before/") == {f"before/{n:03d}" for n in range(20)}
    assert set(writer.written) <= keys_on(bed, node, "during/")
    assert journal(node)["step"] == "verified" and journal(node)["old_member_id"] == old_id
    config = yaml.safe_load(node.config_file.read_text())
    assert config["initial-cluster-state"] == "existing"
    assert config["initial-cluster"] == bed.initial_cluster
    kept = list(node.root.glob("data.replace-config-*/*etcd.conf.yml"))
    assert len(kept) == 1 and kept[0].read_text() == config_before, "the previous configuration is kept"

    again = ansible.playbook(PLAYBOOK, extra_vars={"replace_member": NODE})
    assert again.rc != 0 and "is healthy" in again.stdout and "replace_force=true" in again.stdout, again.output
    assert "Nothing was changed." in again.stdout
    assert members(bed)[NODE][0] == new_id


def test_a_member_on_its_own_disk_is_replaced_inside_the_mount(replaceable, ansible):
    bed = replaceable
    node = bed.member(NODE)
    with cluster.data_dir_on_tmpfs(bed, node):
        device = os.stat(node.data_dir).st_dev
        assert device != os.stat(node.root).st_dev
        for number in range(10):
            cluster.etcdctl(bed, "put", f"before/{number:03d}", "x")
        old_id = members(bed)[NODE][0]
        # The member is lost, its disk still mounted with the old data on it.
        services.supervisorctl(bed, "stop", node.service)
        run = ansible.playbook(PLAYBOOK, extra_vars={"replace_member": NODE})
        assert run.rc == 0, run.output
        new_id, peers, learner = members(bed)[NODE]
        assert new_id != old_id and peers == [node.peer_url] and not learner
        entry = journal(node)
        assert entry["step"] == "verified" and entry["data_dir_mount"] is True, entry
        # The old member dir is kept aside inside the mount; the new member runs in the mount point, on the tmpfs.
        kept = node.data_dir / f"member.pre-replace-{entry['run_id']}"
        assert entry["kept_data_dir"] == str(kept) and os.stat(kept / "snap" / "db").st_dev == device
        assert cluster.is_mount_point(node.data_dir)
        assert os.stat(node.data_dir / "member" / "snap" / "db").st_dev == device
        assert sorted(os.listdir(node.data_dir)) == ["member", kept.name]
        assert not [path for path in node.root.glob("data.*") if path.name.startswith("data.pre-replace-")]
        cluster.wait_healthy(bed)
        assert keys_on(bed, node, "before/") == {f"before/{n:03d}" for n in range(10)}


def test_refusals_come_before_any_change(replaceable, ansible):
    bed = replaceable
    node, other = bed.member(NODE), bed.member("node2")
    before = members(bed)
    config_before = node.config_file.read_text()
    missing = ansible.playbook(PLAYBOOK, extra_vars={"replace_member": "node9"})
    assert missing.rc != 0 and "replace_member is node9" in missing.stdout, missing.output
    services.supervisorctl(bed, "stop", other.service, node.service)
    try:
        run = ansible.playbook(PLAYBOOK, extra_vars={"replace_member": NODE})
        assert run.rc != 0, run.output
        # node1 alone answers its status, but no request that needs a majority (the member list).
        assert "only while the others keep quorum" in run.stdout, run.output
        assert "etcdops.dr.recover_quorum" in run.stdout and "Nothing was changed." in run.stdout
        assert journal(node) is None and node.data_dir.is_dir() and node.config_file.read_text() == config_before
    finally:
        services.supervisorctl(bed, "start", other.service, node.service)
        cluster.wait_healthy(bed)
    assert members(bed) == before


def test_a_learner_that_does_not_catch_up_is_removed_again_and_the_configuration_put_back(replaceable, ansible,
                                                                                          tmp_path):
    bed = replaceable
    node = bed.member(NODE)
    config_before = node.config_file.read_text()
    lose_data(bed, node)
    pause = tmp_path / "pause"
    pause.write_text("")
    log = open(tmp_path / "run.log", "w")
    run = ansible.start(PLAYBOOK, extra_vars={"replace_member": NODE, "replace_catchup_timeout": 2},
                        env={"ETCDOPS_INTERRUPT_BEFORE": "Promote the learner", "ETCDOPS_INTERRUPT_PAUSE": str(pause)},
                        output=log)
    deadline = time.monotonic() + 120
    while not (tmp_path / "pause.reached").exists():
        assert time.monotonic() < deadline and run.poll() is None, (tmp_path / "run.log").read_text()
        time.sleep(0.1)
    assert members(bed)[NODE][2] is True, "a learner before the promotion"
    # The learner goes away; the cluster goes on writing.
    services.supervisorctl(bed, "stop", node.service)
    cluster.etcdctl(bed, "put", "after/learner-lost", "x", endpoints=bed.client_urls[:2])
    pause.unlink()
    assert run.wait(timeout=300) != 0
    output = (tmp_path / "run.log").read_text()
    assert "did not catch up with the leader within catchup_timeout (2.0s)" in output, output
    assert "Undone:" in output and "removed the learner" in output, output
    assert NODE not in members(bed) and len(members(bed)) == 2
    assert node.config_file.read_text() == config_before, "the previous configuration is put back"
    assert journal(node)["step"] == "rolled_back"
    assert len(list(node.root.glob("data.failed-replace-*"))) == 1
    assert "RUNNING" not in services.supervisorctl(bed, "status", node.service, check=False).stdout

    again = ansible.playbook(PLAYBOOK, extra_vars={"replace_member": NODE})
    assert again.rc == 0, again.output
    assert "is not a member of the cluster" in again.stdout
    assert NODE in members(bed) and not members(bed)[NODE][2]
    assert keys_on(bed, node, "after/") == {"after/learner-lost"}


# Where the controller dies: before each task of the replacement, and the journal step each leaves.
CRASH_POINTS = {
    "Remove the old member": None,
    "Add the new member": "kept",
    "Start the new member": "configured",
    "Promote the learner": "started",
    "Report the replacement": "verified",
}


@pytest.mark.parametrize("task", list(CRASH_POINTS))
def test_a_replacement_killed_at_each_step_is_finished_by_the_same_command(replaceable, ansible, tmp_path, task):
    bed = replaceable
    node = bed.member(NODE)
    cluster.etcdctl(bed, "put", "before/crash", "x")
    lose_data(bed, node)
    log = open(tmp_path / "killed.log", "w")
    run = ansible.start(PLAYBOOK, extra_vars={"replace_member": NODE},
                        env={"ETCDOPS_INTERRUPT_BEFORE": task, "ETCDOPS_INTERRUPT": "kill"}, output=log)
    run.wait(timeout=300)
    assert run.returncode != 0
    assert (journal(node) or {}).get("step") == CRASH_POINTS[task], (tmp_path / "killed.log").read_text()
    if CRASH_POINTS[task] == "kept":
        # Removed, not yet added: the case docs/runbook.md names.
        assert NODE not in members(bed) and len(members(bed)) == 2
    if task == "Start the new member":
        # The undo, from here: the learner goes, the previous configuration comes back.
        undo = ansible.playbook(PLAYBOOK, extra_vars={"replace_member": NODE, "replace_undo": True})
        assert undo.rc == 0 and "removed the learner" in undo.stdout, undo.output
        assert NODE not in members(bed) and journal(node)["step"] == "rolled_back"
        assert "initial-cluster-state: new" in node.config_file.read_text()
    again = ansible.playbook(PLAYBOOK, extra_vars={"replace_member": NODE})
    if CRASH_POINTS[task] == "verified":
        assert again.rc != 0 and "is healthy" in again.stdout, "nothing left to do: the member works"
    else:
        assert again.rc == 0, again.output
        if task != "Start the new member" and CRASH_POINTS[task]:
            assert "this run takes it over" in again.stdout, again.output
    cluster.wait_healthy(bed)
    assert NODE in members(bed) and not members(bed)[NODE][2] and len(members(bed)) == 3
    assert keys_on(bed, node, "before/") == {"before/crash"}
    digests, dummy = hashes(bed)
    assert len(digests) == 1


def moved_config(bed, member, address):
    """node3's etcd configuration and certificates for another loopback address (a new machine)."""
    root = bed.root / "moved" / member.name
    ca = pki.load_ca(bed)
    names = dict(addresses=(address, "127.0.0.1"), dns_names=(member.name, "localhost"))
    for kind in ("server", "peer"):
        pki.issue(ca, root / f"{kind}.crt", root / f"{kind}.key", member.name, server=True, client=True, **names)
    config = services.member_config(bed, member)
    client, peer = f"https://{address}:{layout.CLIENT_PORT}", f"https://{address}:{layout.PEER_PORT}"
    config.update({"listen-client-urls": client, "advertise-client-urls": client, "listen-peer-urls": peer,
                   "initial-advertise-peer-urls": peer, "listen-metrics-urls": f"http://{address}:2381"})
    for section in ("client-transport-security", "peer-transport-security"):
        kind = "server" if section.startswith("client") else "peer"
        config[section].update({"cert-file": str(root / f"{kind}.crt"), "key-file": str(root / f"{kind}.key")})
    member.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return client, peer


def test_a_member_moved_to_a_new_address_replaces_its_old_self(replaceable, ansible, tmp_path):
    bed = replaceable
    node = bed.member(NODE)
    old_peer = node.peer_url
    lose_data(bed, node)
    client, peer = moved_config(bed, node, "127.0.0.23")
    inventory = cluster.inventory_with(bed, tmp_path / "moved.yml", NODE, etcd_client_url=client, etcd_peer_url=peer)
    manifest = tmp_path / "kube-apiserver.yaml"
    servers = ",".join(bed.client_urls)
    manifest.write_text(f"spec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --etcd-servers={servers}\n")
    before = manifest.read_text()
    run = ansible.playbook(PLAYBOOK, "-i", inventory, extra_vars={
        "replace_member": NODE, "replace_kube_apiserver_hosts": ["node1"],
        "replace_kube_apiserver_manifest": str(manifest), "replace_kube_apiserver_kept_dir": str(tmp_path / "kept")})
    assert run.rc == 0, run.output
    listed = members(bed)
    assert listed[NODE][1] == [peer] and old_peer not in [url for entry in listed.values() for url in entry[1]]
    assert f"--etcd-servers={servers.replace(node.client_url, client)}" in manifest.read_text()
    kept = list((tmp_path / "kept").glob("kube-apiserver.yaml.pre-replace-*"))
    assert len(kept) == 1 and kept[0].read_text() == before, "the previous manifest is kept"
    assert not list(tmp_path.glob("kube-apiserver.yaml.*")), "nothing beside it that the kubelet would run"
    cluster.wait_healthy_urls(bed, bed.client_urls[:2] + [client])


def flags_manifest(bed, member):
    """node3's static pod with etcd's flags in its command (as kubeadm writes it), no config file."""
    manifest = services.static_pod_manifest(member)
    argv = [str(services.etcd_bin_dir() / "etcd")]
    for key, value in services.member_config(bed, member).items():
        settings = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, setting in settings:
            flag = key if sub is None else ("peer-" if key.startswith("peer") else "") + sub
            argv.append(f"--{flag}" if setting is True else
                        f"--{flag}={','.join(setting) if isinstance(setting, list) else setting}")
    manifest["spec"]["containers"][0]["command"] = argv
    return yaml.safe_dump(manifest, sort_keys=False)


@pytest.mark.parametrize("manager", ["supervisor program with flags", "static pod with flags"])
def test_the_flags_are_rewritten_where_the_manager_keeps_them(replaceable, ansible, manager):
    bed = replaceable
    node = bed.member(NODE)
    cluster.etcdctl(bed, "put", "before/flags", "x")
    if manager == "static pod with flags":
        cluster.run_as_static_pods(bed)
        manifest = node.manifest_dir / "etcd.yaml"
        services.supervisorctl(bed, "stop", node.kubelet_service)
        manifest.write_text(flags_manifest(bed, node))
        services.supervisorctl(bed, "start", node.kubelet_service)
        context = None
        extra = {"etcd_service_manager": "static_pod"}
    else:
        context = cluster.program_command(bed, node, services.flags_command(bed, node))
        context.__enter__()
        extra = {}
    try:
        cluster.wait_healthy(bed)
        if manager == "static pod with flags":
            node.held_manifest_dir.mkdir(exist_ok=True)
            manifest.rename(node.held_manifest_dir / "etcd.yaml")
        else:
            services.supervisorctl(bed, "stop", node.service)
        deadline = time.monotonic() + 60
        while cluster.listener_pid(node) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(node.data_dir)
        run = ansible.playbook(PLAYBOOK, extra_vars=dict(extra, replace_member=NODE))
        assert run.rc == 0, run.output
        assert not members(bed)[NODE][2] and len(members(bed)) == 3
        assert keys_on(bed, node, "before/") == {"before/flags"}
        if manager == "static pod with flags":
            assert manifest.exists() and not (node.held_manifest_dir / "etcd.yaml").exists()
            command = yaml.safe_load(manifest.read_text())["spec"]["containers"][0]["command"]
        else:
            conf = bed.supervisor_conf.read_text()
            command = shlex.split(conf.split(f"[program:{node.service}]")[1].split("command=")[1].split("\n")[0])
        flags = parse_flags(command[1:])
        assert flags["initial-cluster-state"] == "existing" and flags["initial-cluster"] == bed.initial_cluster
        original = services.member_config(bed, node)
        assert flags["initial-cluster-token"] == original["initial-cluster-token"], "nothing else changed"
        assert flags["name"] == NODE and flags["data-dir"] == str(node.data_dir)
        assert len(list(node.root.glob("data.replace-config-*/*"))) == 1, "the previous definition is kept"
    finally:
        if manager == "static pod with flags":
            cluster.run_as_supervisor_programs(bed)
        else:
            context.__exit__(None, None, None)


def make_learner(bed):
    """node3 taken out and joined again as a learner (as kubeadm joins members since 1.29), running, not promoted."""
    node = bed.member(NODE)
    services.supervisorctl(bed, "stop", node.service)
    cluster.etcdctl(bed, "member", "remove", members(bed)[NODE][0], endpoints=bed.client_urls[:2])
    shutil.rmtree(node.data_dir)
    cluster.etcdctl(bed, "member", "add", NODE, f"--peer-urls={node.peer_url}", "--learner",
                    endpoints=bed.client_urls[:2])
    config = yaml.safe_load(node.config_file.read_text())
    config["initial-cluster-state"] = "existing"
    node.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    services.supervisorctl(bed, "start", node.service)
    deadline = time.monotonic() + 60
    while not (members(bed).get(NODE) and cluster.etcdctl(
            bed, "get", "learner/ready", "--consistency=s", endpoints=[node.client_url], check=False).stdout):
        assert time.monotonic() < deadline, "node3 did not join as a learner"
        time.sleep(0.2)
    assert members(bed)[NODE][2] is True


def test_a_learner_in_the_live_cluster_is_reported_never_the_backup_source_drilled_and_restored_as_a_voter(
        replaceable, ansible, tmp_path):
    bed = replaceable
    for number in range(10):
        cluster.etcdctl(bed, "put", f"/registry/configmaps/team-a/c{number}", "x")
    cluster.etcdctl(bed, "put", "learner/ready", "yes")
    make_learner(bed)
    try:
        info = ansible.module("etcdops.dr.etcd_cluster_info", hosts="node1")
        found = info.results["node1"]
        assert not found["failed"] and found["quorum"], found
        learners = found["learners"]
        assert [entry["name"] for entry in learners] == [NODE] and learners[0]["reachable"], learners
        assert learners[0]["applied_index"] is not None and 0 <= learners[0]["behind"] < 1000, learners

        backup = ansible.playbook("etcdops.dr.backup", env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})
        assert backup.rc == 0, backup.output
        assert custom_stats(backup)["etcd_backup"]["source_host"] != NODE, "a learner is never the backup's source"

        drill = ansible.playbook("etcdops.dr.drill", extra_vars={"drill_mode": "cluster"})
        assert drill.rc == 0, drill.output
        assert members(bed)[NODE][2] is True, "the drill leaves the live cluster as it was"

        newest = max((m.backup_dir / name for m in bed.members for name in cluster.backup_files(m)
                      if name.endswith(".db")), key=lambda path: path.stat().st_mtime)
        host = next(m.name for m in bed.members if newest.parent == m.backup_dir)
        restored = ansible.playbook("etcdops.dr.restore", extra_vars={
            "restore_snapshot": str(newest), "restore_snapshot_from": host,
            "restore_snapshot_dir": "{{ etcd_backup_dir }}/restore", "restore_controller_dir": str(tmp_path)})
        assert restored.rc == 0, restored.output
        assert "node3 is a learner of the running cluster now: the restore brings it back as a voting member" \
            in restored.stdout, restored.output
        assert members(bed)[NODE][2] is False and len(members(bed)) == 3
        assert len(keys_on(bed, bed.member(NODE), "/registry/configmaps/")) == 10
    finally:
        cluster.clear_drill_group(bed)
        cluster.remove_restore_leftovers(bed)
        for member in bed.members:
            shutil.rmtree(member.backup_dir / "restore", ignore_errors=True)
