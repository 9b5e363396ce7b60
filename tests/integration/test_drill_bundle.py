"""The drill checks the control-plane bundles of the backup it drills: Secrets written into the bed's etcd as
kube-apiserver writes them (aescbc with the kubeadm layout's key, protobuf Secret objects), an encrypted backup with
a bundle per host shipped to the SFTP store, drilled from the store (every host's bundle checked on the controller,
in memory) - then the layout's key changed, a new backup drilled on its host (its own bundle checked there): the
drill fails naming the bundle, the provider and the key, with no key material anywhere it wrote."""
import base64
import json
import os
import tempfile

import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._bundle.stored_values import encrypt_value
from ansible_collections.etcdops.dr.tests.integration.encryption_keys import key_pair
from ansible_collections.etcdops.dr.tests.integration.test_bundle import holding, secret_bytes
from ansible_collections.etcdops.dr.tests.integration.test_restore import restorable
from ansible_collections.etcdops.dr.tests.integration.test_stores import STATS, empty, store
from testbed import cluster, kubeadm
from tests.integration.test_drill import checks_of, nothing_left, report_of

__all__ = ["restorable", "store"]
SECRETS = 6


def field(number, data):
    """A length-delimited protobuf field (short values: one-byte lengths)."""
    assert len(data) < 128
    return bytes([number << 3 | 2, len(data)]) + data


def stored_secret(name):
    """A Secret as kube-apiserver's protobuf serializer stores it: the k8s\\x00 magic, then runtime.Unknown with its
    typeMeta (apiVersion v1, kind Secret) and the object's raw bytes."""
    raw = field(1, field(1, name.encode()) + field(3, b"team-a")) + field(2, field(1, b"password") + field(2, b"s3cr3t"))
    return b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"Secret")) + field(2, raw)


def write_secrets(bed, key, directory):
    """SECRETS Secrets under /registry/secrets/team-a/, encrypted with aescbc key1 as kube-apiserver writes them."""
    for number in range(SECRETS):
        etcd_key = f"/registry/secrets/team-a/db-{number}"
        value = encrypt_value("aescbc", kubeadm.ENCRYPTION_KEY_NAME, key, etcd_key, stored_secret(f"db-{number}"))
        with tempfile.TemporaryFile(dir=directory) as handle:
            handle.write(value)
            handle.seek(0)
            cluster.etcdctl(bed, "put", etcd_key, stdin=handle)
    cluster.etcdctl(bed, "put", "/registry/namespaces/team-a", "a namespace")


def bundle_checks(report):
    return {name: status for name, status in checks_of(report).items() if name.startswith("bundle")}


def test_the_drill_checks_the_bundles_and_fails_when_their_key_does_not_decrypt_the_secrets(
        restorable, store, ansible, tmp_path):
    bed = restorable
    key = kubeadm.make(bed)
    try:
        _drill_checks_bundles(bed, store, ansible, tmp_path, key)
    finally:
        kubeadm.remove(bed)
        for member in bed.members:
            empty(member.backup_dir)


def _drill_checks_bundles(bed, store, ansible, tmp_path, key):
    inventory = kubeadm.inventory(bed, tmp_path / "inventory.yml")
    private, public, key_id = key_pair(tmp_path, "drill-bundle")
    write_secrets(bed, key, tmp_path)
    backup = {"backup_encryption_recipients": [public], "backup_stores": [store]}
    assert ansible.playbook("etcdops.dr.backup", "-i", inventory, extra_vars=backup).rc == 0
    # The keys that must appear nowhere the drill writes, in plaintext: the bundled private keys and the aescbc key.
    needles = secret_bytes(bed)

    # From the store: the backup and every host's bundle brought to the controller (encrypted), checked there.
    run = ansible.playbook("etcdops.dr.drill", "-i", inventory, env=STATS, extra_vars={
        "drill_snapshot_from": store["url"], "drill_store": store, "drill_decryption_key": private})
    assert run.rc == 0, run.output
    stats, report = report_of(run)
    hosts = [m.name for m in bed.members]
    assert bundle_checks(report) == {f"bundle_{part}:{host}": "passed" for host in hosts
                                     for part in ("archive", "certificates", "secrets")}, report["checks"]
    section = report["bundles"]
    assert section["checked_on"] == "controller" and section["found"] == 3 and section["secrets_sampled"] == SECRETS
    for entry in section["bundles"]:
        assert entry["secrets_counts"] == {"samples": SECRETS, "decrypted": SECRETS, "unencrypted": 0, "kms": 0,
                                           "failed": 0, "stale": 0}, entry
        assert entry["secrets_config"]["writer"] == {"kind": "aescbc", "keys": [kubeadm.ENCRYPTION_KEY_NAME]}
        assert "chain to a bundled CA" in entry["certificates"]["detail"]
        chains = {c["path"].split("/kubernetes/pki/")[1]: c["chains"] for c in entry["certificates_list"]}
        assert chains == {"apiserver.crt": True, "ca.crt": True, "front-proxy-ca.crt": True, "etcd/ca.crt": True}
        assert all(0 < c["days_left"] <= 3660 for c in entry["certificates_list"])
    assert f"{SECRETS} of {SECRETS} sampled Secrets decrypted" in stats["summary"]
    markdown = open(stats["reports"]["markdown"], encoding="utf-8").read()
    assert "## Control-plane bundles" in markdown and "| bundle_secrets:%s | passed |" % hosts[0] in markdown
    downloads = bed.root / "drill-cache" / "downloads"
    assert {e["name"] for e in section["bundles"]} <= set(os.listdir(downloads))

    # The layout's EncryptionConfiguration now holds another key under the same name: the next bundles cannot read
    # the Secrets the cluster holds. Drilled on the host that has the backup: its own bundle checked there.
    wrong_key = os.urandom(32)
    needles += [wrong_key, base64.b64encode(wrong_key)]
    for member in bed.members:
        kubeadm.encryption_config(member).write_text(kubeadm.encryption_config_text(wrong_key))
    assert ansible.playbook("etcdops.dr.backup", "-i", inventory, extra_vars=backup).rc == 0
    failed = ansible.playbook("etcdops.dr.drill", "-i", inventory, env=STATS,
                              extra_vars={"drill_decryption_key": private})
    assert failed.rc != 0
    stats, report = report_of(failed)
    (host,) = report["drill_hosts"]
    assert report["result"] == "failed" and report["bundles"]["checked_on"] == host
    assert bundle_checks(report) == {f"bundle_archive:{host}": "passed", f"bundle_certificates:{host}": "passed",
                                     f"bundle_secrets:{host}": "failed"}, report["checks"]
    (entry,) = report["bundles"]["bundles"]
    message = f"{entry['name']}: its EncryptionConfiguration"
    assert message in failed.output and f"does not read {SECRETS} of {SECRETS} sampled Secrets" in failed.output
    assert "aescbc key key1" in failed.output and "take a new backup" in failed.output
    assert any(message in failure for failure in stats["failures"])
    # The drill itself (restore, serve, read) passed: only the bundle failed it.
    assert {k: v for k, v in checks_of(report).items() if k in ("sha256", "revision", "key_count")} == {
        "sha256": "passed", "revision": "passed", "key_count": "passed"}
    assert nothing_left(bed)["work_dir"] == [] and nothing_left(bed)["etcd_running"] == []

    written = [bed.report_dir, bed.root / "drill-cache", bed.drill_work_dir]
    assert holding([path for path in written if path.exists()], needles) == []
    for output in (run.output, failed.output):
        assert private not in output and not any(needle.decode("latin-1") in output for needle in needles)
    for path in bed.report_dir.glob("*.json"):
        doc = json.loads(path.read_text())
        assert base64.b64encode(key).decode() not in json.dumps(doc)
    assert yaml.safe_load(kubeadm.encryption_config(bed.members[0]).read_text())["kind"] == "EncryptionConfiguration"
