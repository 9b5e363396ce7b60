"""Benchmark: a rebuild on new hosts (etcdops.dr.restore with restore_new_hosts: every machine lost, the snapshot and
its control-plane bundles from the controller) against a restore of the same snapshot onto hosts that still have their
files (the same restore, without the bundles' placement, renames and certificates), side by side in one run, on a
database of at least --min-mb MB.

Brings up a test bed of its own under .bench/ (the test bed's addresses: stop the test bed first, or run it in a
network namespace of its own), runs its members as static pods with a kubeadm-like layout, loads incompressible 1 MiB
values until node1's database holds the size, takes an encrypted backup with bundles, then --rounds times each,
alternating which goes first: for the rebuild, every machine's data, configuration, certificates and layout are
destroyed first (testbed/rebuild.py) and rebuilt on new1..3 (other addresses, other names); the restore goes onto
new1..3 as they run. Prints each run's wall time and the whole machine's CPU time (/proc/stat) while it ran, the
medians, and the ratio rebuild / restore.

    .venv/bin/python bench/rebuild.py [--min-mb 100] [--rounds 3] [--keep]
"""
import argparse
import json
import os
import pathlib
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testbed import cluster, kubeadm, layout, playbook, rebuild  # noqa: E402  pylint: disable=wrong-import-position
from _baseline import side_by_side  # noqa: E402  pylint: disable=wrong-import-position

BENCH = REPO / ".bench"


def key_pair():
    private = x25519.X25519PrivateKey.generate()
    return (private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode(),
            private.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode())


def restore(inventory, snapshot, **extra):
    def run(bed):
        options = dict({"restore_snapshot": str(snapshot), "restore_snapshot_from": "controller",
                        "restore_snapshot_dir": "{{ etcd_backup_dir }}/restore"}, **extra)
        stats = playbook.run_with_stats(bed, "etcdops.dr.restore", "-i", inventory, "-e", json.dumps(options))
        summary = stats["etcd_restore"]
        if sorted(summary["members"]) != ["new1", "new2", "new3"] or summary["key_count"] < 100:
            raise RuntimeError(summary)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the bench bed running")
    args = parser.parse_args()
    bed = layout.bed(root=BENCH / "rebuild-bed", size=3)
    work = BENCH / "rebuild-work"
    try:
        cluster.up(bed)
        cluster.install_collection(bed)
        work.mkdir(parents=True, exist_ok=True)
        kubeadm.make(bed)
        cluster.run_as_static_pods(bed)
        cluster.fill(bed, bed.members[0], args.min_mb * 1000 * 1000)
        print("database: %.0f MB" % (cluster.db_size(bed, bed.members[0]) / 1e6))
        private, public = key_pair()
        stats = playbook.run_with_stats(bed, "etcdops.dr.backup", "-i", rebuild.backup_inventory(
            bed, work / "backup-inventory.yml"), "-e", json.dumps({
                "backup_fetch_dir": str(work / "controller"), "backup_encryption_recipients": [public]}))
        snapshot = work / "controller" / os.path.basename(stats["etcd_backup"]["file"])
        inventory = rebuild.new_inventory(bed, work / "new-inventory.yml", private)
        rebuild_run = restore(inventory, snapshot, restore_new_hosts=True)
        runners = {"rebuild on new hosts": lambda: rebuild_run(bed),
                   "restore onto the same hosts": lambda: restore(inventory, snapshot,
                                                                  restore_allow_foreign_snapshot=True)(bed)}

        def prepare(name):
            if name == "rebuild on new hosts":
                rebuild.lose_every_machine(bed)
                rebuild.new_machines(bed)

        # The rebuild first: the restore goes onto the hosts a rebuild made.
        medians = side_by_side(runners, args.rounds, prepare=prepare,
                               first=["rebuild on new hosts", "restore onto the same hosts"])
        built, restored = medians["rebuild on new hosts"], medians["restore onto the same hosts"]
        print("ratio rebuild / restore: wall %.2f, CPU %.2f" % (built[0] / restored[0], built[1] / restored[1]))
    finally:
        if not args.keep:
            cluster.purge(bed)


if __name__ == "__main__":
    main()
