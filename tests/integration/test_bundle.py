"""The control-plane bundle taken with each backup on hosts with a kubeadm layout (testbed/kubeadm.py): encrypted on
each host, copied to the controller and the store beside the snapshot, listed with it, pruned with it, and refused
before anything is written when it would be plaintext without consent."""
import base64
import os

import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._bundle import archive
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import private_key
from ansible_collections.etcdops.dr.tests.integration.encryption_keys import key_pair
from ansible_collections.etcdops.dr.tests.integration.test_restore import custom_stats, restorable
from ansible_collections.etcdops.dr.tests.integration.test_stores import STATS, empty, store, stored
from testbed import cluster, kubeadm

__all__ = ["restorable", "store"]


def secret_bytes(bed):
    """Byte strings that must never appear outside the hosts' layouts in plaintext: every private key's body, the
    aescbc key (raw and base64) and the kubeconfig's key data."""
    member = bed.members[0]
    top = kubeadm.root(member)
    found = []
    for path in [top / "pki" / name for name in ("ca.key", "sa.key", "front-proxy-ca.key", "apiserver.key")] + [
            top / "pki" / "etcd" / "ca.key"]:
        lines = path.read_text().splitlines()
        found.append("".join(lines[1:-1])[:40].encode())
    doc = yaml.safe_load(kubeadm.encryption_config(member).read_text())
    secret = doc["resources"][0]["providers"][0]["aescbc"]["keys"][0]["secret"]
    found += [secret.encode(), base64.b64decode(secret), b"PRIVATE KEY"]
    return found


def holding(roots, needles):
    """Files under `roots` that hold any of `needles`."""
    hits = []
    for top in roots:
        for directory, dummy, names in os.walk(top):
            for name in names:
                data = open(os.path.join(directory, name), "rb").read()
                hits += [(os.path.join(directory, name), needle) for needle in needles if needle in data]
    return hits


def test_each_backup_bundles_every_control_plane_host_encrypted_and_keeps_and_prunes_it_with_the_snapshot(
        restorable, store, ansible, tmp_path):
    bed = restorable
    kubeadm.make(bed)
    try:
        _bundles_taken_shipped_listed_and_pruned(bed, store, ansible, tmp_path)
    finally:
        kubeadm.remove(bed)
        for member in bed.members:
            empty(member.backup_dir)


def _bundles_taken_shipped_listed_and_pruned(bed, store, ansible, tmp_path):
    inventory = kubeadm.inventory(bed, tmp_path / "inventory.yml")
    private, public, key_id = key_pair(tmp_path, "backup")
    controller = tmp_path / "controller"
    options = {"backup_fetch_dir": str(controller), "backup_encryption_recipients": [public], "backup_stores": [store]}

    # Without recipients, refused on every host before the snapshot: nothing written anywhere.
    refused = ansible.playbook("etcdops.dr.backup", "-i", inventory, extra_vars=dict(
        options, backup_encryption_recipients=[]))
    assert refused.rc != 0 and "backup_bundle_plaintext" in refused.output, refused.output
    assert [cluster.backup_files(m) for m in bed.members] == [[], [], []] and stored(bed) == []

    check = ansible.playbook("etcdops.dr.backup", "-i", inventory, check=True, extra_vars=options)
    assert check.rc == 0, check.output
    assert [cluster.backup_files(m) for m in bed.members] == [[], [], []] and not controller.exists()

    first = ansible.playbook("etcdops.dr.backup", "-i", inventory, env=STATS, extra_vars=options)
    assert first.rc == 0, first.output
    snapshot = os.path.basename(custom_stats(first)["etcd_backup"]["file"])
    names = {m.name: archive.bundle_name(snapshot, m.name, True) for m in bed.members}
    for member in bed.members:
        bundle = member.backup_dir / names[member.name]
        assert os.stat(bundle).st_mode & 0o777 == 0o600
        manifest, contents = archive.load(str(bundle), private_key(private))
        top = kubeadm.root(member)
        assert manifest["host"] == member.name and manifest["snapshot"] == snapshot
        assert manifest["encryption_provider_config"] == str(kubeadm.encryption_config(member))
        assert contents[str(top / "pki" / "sa.key")] == (top / "pki" / "sa.key").read_bytes()
        assert contents[str(kubeadm.encryption_config(member))] == kubeadm.encryption_config(member).read_bytes()
        assert str(top / "admin.conf") in contents and str(top / "pki" / "etcd" / "ca.key") in contents
        assert (controller / names[member.name]).read_bytes() == bundle.read_bytes()
    assert set(names.values()) | {n + ".json" for n in names.values()} <= set(stored(bed))
    assert holding([controller, bed.sftp_store_dir] + [m.backup_dir for m in bed.members], secret_bytes(bed)) == []

    listed = ansible.module("etcdops.dr.etcd_store_list", {"store": store}, hosts="localhost",
                            defaults=False).results["localhost"]
    assert [(e["name"], sorted(e["bundles"])) for e in listed["backups"]] == [(snapshot, sorted(names.values()))]
    beside = ansible.module("etcdops.dr.etcd_snapshot_info", {"path": str(controller / snapshot)}, hosts="localhost",
                            defaults=False).results["localhost"]
    assert sorted(beside["snapshots"][0]["bundles"]) == sorted(names.values()), beside

    # keep_last 1: the next backup set replaces the first everywhere - snapshot and bundles on the hosts, on the
    # controller and on the store.
    second = ansible.playbook("etcdops.dr.backup", "-i", inventory, env=STATS, extra_vars=dict(
        options, backup_keep_last=1))
    assert second.rc == 0, second.output
    newer = os.path.basename(custom_stats(second)["etcd_backup"]["file"])
    assert newer != snapshot
    everywhere = [controller, bed.sftp_store_dir] + [m.backup_dir for m in bed.members]
    leftover = [name for top in everywhere for name in os.listdir(top) if name.startswith(snapshot)]
    assert leftover == [], leftover
    for member in bed.members:
        assert archive.bundle_name(newer, member.name, True) in cluster.backup_files(member)
