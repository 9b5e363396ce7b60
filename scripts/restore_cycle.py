"""The demo's disaster: write marker keys, back up to the backup server's SFTP store, write more keys, destroy every
member's data dir and every host's backups, restore the cluster from the store's newest backup with the collection,
and prove that exactly the backed-up keys came back. Prints each phase's time.

The backup is of a control plane: each member's host gets a kubeadm-like layout (testbed/kubeadm.py) whose
EncryptionConfiguration (aescbc) encrypted the Secrets written as kube-apiserver writes them, and the backup is
encrypted to a key pair made here, with a control-plane bundle per host - so the drill after it checks the bundles.
The drill's options (the store, the private key) go to <bed>/demo/drill-vars.json (0600)."""
import json
import os
import shutil
import sys
import tempfile
import time

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from testbed import cluster, kubeadm, layout, services
from testbed import playbook as playbook_runner

SECRETS = 12


def playbook(bed, name, *extra):
    try:
        return playbook_runner.run_with_stats(bed, name, *extra)
    except playbook_runner.PlaybookFailed as exc:
        sys.exit(str(exc))


def keys(bed):
    out = cluster.etcdctl(bed, "get", "demo/", "--prefix", "-w", "json").stdout
    return {kv["key"]: kv["value"] for kv in json.loads(out).get("kvs", [])}


def control_plane(bed):
    """The kubeadm layout on every member's host, Secrets encrypted with its key (aescbc key1) as kube-apiserver
    stores them, a key pair for the backup, and an inventory with the bundle's paths. Returns (inventory, recipient,
    private key PEM)."""
    sys.path.insert(0, str(bed.collections_path))
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.etcdops.dr.plugins.module_utils._bundle.stored_values import encrypt_value

    demo = bed.root / "demo"
    demo.mkdir(mode=0o700, exist_ok=True)
    aescbc_key = kubeadm.make(bed)
    # Secrets an earlier run left (a test, an earlier demo: another layout, another key) would be ciphertext this
    # layout's key cannot read - the drill would rightly fail its bundles, as a real cluster's whose EncryptionConfiguration
    # was lost. The demo's cluster starts its Secrets afresh.
    cluster.etcdctl(bed, "del", "--prefix", "/registry/secrets/")
    for number in range(SECRETS):
        etcd_key = f"/registry/secrets/demo/app-{number:02d}"
        with tempfile.TemporaryFile(dir=demo) as value:
            value.write(encrypt_value("aescbc", kubeadm.ENCRYPTION_KEY_NAME, aescbc_key, etcd_key,
                                      protobuf_secret(f"app-{number:02d}")))
            value.seek(0)
            cluster.etcdctl(bed, "put", etcd_key, stdin=value)
    private = x25519.X25519PrivateKey.generate()
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    doc = yaml.safe_load(bed.inventory.read_text())
    for member in bed.members:
        doc["all"]["children"]["etcd"]["hosts"][member.name].update(kubeadm.bundle_vars(member))
    inventory = demo / "inventory.yml"
    inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(inventory), public_pem, private_pem


def protobuf_secret(name):
    """A Secret as kube-apiserver's protobuf serializer stores it: k8s\\x00, then runtime.Unknown{typeMeta{v1,
    Secret}, raw}."""
    def field(number, data):
        return bytes([number << 3 | 2, len(data)]) + data
    raw = field(1, field(1, name.encode()) + field(3, b"demo")) + field(2, field(1, b"token") + field(2, os.urandom(16)))
    return b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"Secret")) + field(2, raw)


def main():
    bed = layout.bed()
    times = {}
    began = time.monotonic()
    inventory, recipient, private_pem = control_plane(bed)
    times["control plane, 12 Secrets"] = time.monotonic() - began
    began = time.monotonic()
    for number in range(100):
        cluster.etcdctl(bed, "put", f"demo/marker/{number:03d}", f"kept-{number}")
    marked = keys(bed)
    times["write 100 marker keys"] = time.monotonic() - began

    store = bed.sftp_store
    began = time.monotonic()
    backup = playbook(bed, "etcdops.dr.backup", "-i", inventory, "-e", json.dumps({
        "backup_stores": [store], "backup_encryption_recipients": [recipient]}))["etcd_backup"]
    times["online backup, to the store"] = time.monotonic() - began
    (stored,) = backup["stores"]

    for number in range(50):
        cluster.etcdctl(bed, "put", f"demo/later/{number:03d}", "lost-in-the-disaster")
    began = time.monotonic()
    for member in bed.members:
        services.supervisorctl(bed, "stop", member.service)
        shutil.rmtree(member.data_dir)
        shutil.rmtree(member.backup_dir)
        member.backup_dir.mkdir()
    times["destroy data and backups"] = time.monotonic() - began

    began = time.monotonic()
    restored = playbook(bed, "etcdops.dr.restore", "-e", json.dumps({
        "restore_snapshot_from": store["url"], "restore_snapshot": "latest", "restore_store": store,
        "restore_snapshot_dir": "{{ etcd_backup_dir }}/restore", "restore_decryption_key": private_pem}))["etcd_restore"]
    times["restore from the store"] = time.monotonic() - began

    back = keys(bed)
    if back != marked:
        sys.exit(f"the restored keys differ: {len(back)} keys, expected the {len(marked)} marker keys")
    if restored["sha256"] != stored["sha256"]:
        sys.exit(f"restored sha256 {restored['sha256']}, but the store holds {stored['sha256']}")
    drill_vars = bed.root / "demo" / "drill-vars.json"
    with open(os.open(drill_vars, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump({"drill_snapshot_from": store["url"], "drill_store": store, "drill_decryption_key": private_pem},
                  handle)
    name = stored["path"].rsplit("/", 1)[1]
    print(f"\nRestored {len(restored['members'])} members from {stored['store']}/{name} (latest), the backup the"
          f" source host sent there and read back")
    print(f"  sha256 {backup['sha256']}, snapshot revision {restored['snapshot_revision']}, now revision "
          f"{restored['revision']}, {restored['key_count']} live keys; previous data dirs kept: "
          f"{', '.join(kept for kept in restored['kept'] if kept) or 'none (the disaster removed them)'}")
    print(f"  proof: all {len(marked)} marker keys are back with their values, none of the 50 later keys is")
    print(f"  the backup is encrypted, with a control-plane bundle of each host beside it ({SECRETS} Secrets encrypted "
          "with aescbc in it)")
    print("Phase times:")
    for phase, seconds in times.items():
        print(f"  {phase:<28}{seconds:7.1f} s")
    print(f"  {'  of which stop':<28}{restored['stop_seconds']:7.1f} s")
    print(f"  {'  of which etcdutl restore':<28}{restored['restore_seconds']:7.1f} s")
    print(f"  {'  of which start and verify':<28}{restored['start_and_verify_seconds']:7.1f} s")


if __name__ == "__main__":
    main()
