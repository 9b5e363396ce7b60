"""The control-plane bundle: what is taken, how it is encrypted and read back, idempotence, retention, refusals."""
import json
import os

import pytest
import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._bundle import archive, take
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.archive import BundleError
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import private_key
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot import file

from ansible_collections.etcdops.dr.tests.unit.crypto_keys import ALICE, MALLORY
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host, drive

SNAPSHOT = "etcd-snapshot-20261208T010000Z.db.enc"


@pytest.fixture
def kube(tmp_path):
    """A kubeadm-like dir: CA and key, sa.key, a manifest naming an EncryptionConfiguration outside the globs."""
    root = tmp_path / "kubernetes"
    (root / "pki" / "etcd").mkdir(parents=True)
    (root / "manifests").mkdir()
    (root / "pki" / "ca.key").write_text("-----BEGIN PRIVATE KEY-----\ncluster-ca-key\n")
    (root / "pki" / "etcd" / "ca.crt").write_text("etcd ca certificate\n")
    (root / "pki" / "sa.key").write_text("service account key\n")
    os.symlink("ca.key", root / "pki" / "ca-link.key")
    encryption = tmp_path / "enc" / "encryption.yaml"
    encryption.parent.mkdir()
    encryption.write_text("kind: EncryptionConfiguration\n")
    manifest = {"kind": "Pod", "spec": {"containers": [{"name": "kube-apiserver", "command": [
        "kube-apiserver", "--encryption-provider-config=%s" % encryption]}]}}
    (root / "manifests" / "kube-apiserver.yaml").write_text(yaml.safe_dump(manifest))
    return root, encryption


def params(tmp_path, root, **overrides):
    return dict(take.ARGUMENT_SPEC.defaults(), dest_dir=str(tmp_path / "backups"), snapshot_name=SNAPSHOT,
                host_label="node1", paths=[str(root / "pki" / "**"), str(root / "manifests" / "*.yaml"),
                                           str(root / "nothing-*.conf")],
                kube_apiserver_manifest=str(root / "manifests" / "kube-apiserver.yaml"),
                recipients=[ALICE[1]]) | overrides


def test_an_encrypted_bundle_holds_every_file_with_its_manifest_and_is_left_alone_when_taken_again(tmp_path, kube):
    root, encryption = kube
    check = drive(take.Bundle(params(tmp_path, root), Host(check_mode=True)))
    assert check["changed"] and not os.path.exists(tmp_path / "backups")
    result = drive(take.Bundle(params(tmp_path, root), Host()))
    assert result["changed"] and result["encrypted"]
    assert result["path"].endswith("/%s.bundle-node1.tar.enc" % SNAPSHOT)
    assert os.stat(result["path"]).st_mode & 0o777 == 0o600
    assert result["encryption_provider_config"] == str(encryption)
    assert result["unmatched"] == [str(root / "nothing-*.conf")]
    raw = open(result["path"], "rb").read()
    assert b"cluster-ca-key" not in raw and b"BEGIN PRIVATE KEY" not in raw
    manifest, contents = archive.load(result["path"], private_key(ALICE[0]))
    assert contents[str(root / "pki" / "ca.key")].startswith(b"-----BEGIN PRIVATE KEY")
    assert contents[str(encryption)] == b"kind: EncryptionConfiguration\n"
    link = [entry for entry in manifest["files"] if entry["type"] == "symlink"]
    assert link == [dict(link[0], path=str(root / "pki" / "ca-link.key"), target="ca.key")]
    outer = json.loads(open(result["manifest_path"]).read())
    assert (outer["sha256"], outer["size"], outer["snapshot"]) == (result["sha256"], result["size"], SNAPSHOT)
    again = drive(take.Bundle(params(tmp_path, root), Host()))
    assert not again["changed"] and again["sha256"] == result["sha256"]
    (root / "pki" / "sa.key").write_text("a new service account key\n")
    changed = drive(take.Bundle(params(tmp_path, root), Host()))
    assert changed["changed"] and changed["sha256"] != result["sha256"]
    with pytest.raises(Exception, match="recipient|key"):
        archive.load(result["path"], private_key(MALLORY[0]))


def test_a_damaged_bundle_is_refused_naming_the_file(tmp_path, kube):
    root, dummy = kube
    result = drive(take.Bundle(params(tmp_path, root, recipients=[], plaintext=True), Host()))
    data = bytearray(open(result["path"], "rb").read())
    index = data.find(b"service account key")
    data[index] ^= 1
    open(result["path"], "wb").write(bytes(data))
    with pytest.raises(BundleError, match="sa.key does not match the sha256"):
        archive.load(result["path"])
    open(result["path"], "wb").write(bytes(data[:len(data) // 3]))
    with pytest.raises(BundleError, match="damaged|cut short|missing"):
        archive.load(result["path"])


def test_refusals_come_before_anything_is_written(tmp_path, kube):
    root, encryption = kube
    with pytest.raises(BundleError, match="backup_bundle_plaintext"):
        drive(take.Bundle(params(tmp_path, root, recipients=[]), Host()))
    encryption.unlink()
    with pytest.raises(BundleError, match="no such file"):
        drive(take.Bundle(params(tmp_path, root), Host()))
    with pytest.raises(BundleError, match="relative"):
        drive(take.Bundle(params(tmp_path, root, paths=["pki/**"]), Host()))
    assert not os.path.exists(tmp_path / "backups")


def test_retention_removes_the_bundles_of_snapshots_ranked_out_and_only_this_hosts(tmp_path, kube):
    root, dummy = kube
    backups = tmp_path / "backups"
    backups.mkdir()
    old = ["etcd-snapshot-20261101T000000Z.db.bundle-node1.tar", "etcd-snapshot-20261101T000000Z.db.bundle-node1.tar.json",
           "etcd-snapshot-20261102T000000Z.db.enc.bundle-node1.tar.enc", "etcd-snapshot-20261101T000000Z.db.bundle-node2.tar",
           "etcd-snapshot-20261101T000000Z.db", "unrelated.tar"]
    for name in old:
        (backups / name).write_text("x")
    result = drive(take.Bundle(params(tmp_path, root, keep_last=2), Host()))
    assert result["removed"] == [str(backups / old[0]), str(backups / old[1])]
    assert sorted(os.listdir(backups)) == sorted(
        old[2:] + [os.path.basename(result["path"]), os.path.basename(result["manifest_path"])])


def test_companion_names():
    assert file.companion_of(SNAPSHOT + ".bundle-node1.tar.enc") == SNAPSHOT
    assert file.companion_of(SNAPSHOT + ".bundle-node1.tar.enc.json") == SNAPSHOT
    assert file.companion_of(SNAPSHOT + ".json") is None
    assert archive.bundle_host(SNAPSHOT + ".bundle-cp-1.example.tar.enc") == "cp-1.example"
