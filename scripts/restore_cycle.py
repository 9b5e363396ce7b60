"""The demo's disaster: write marker keys, back up to the backup server's SFTP store, write more keys, destroy every
member's data dir and every host's backups, restore the cluster from the store's newest backup with the collection,
and prove that exactly the backed-up keys came back. Prints each phase's time."""
import json
import shutil
import sys
import time

from testbed import cluster, layout, services
from testbed import playbook as playbook_runner


def playbook(bed, name, *extra):
    try:
        return playbook_runner.run_with_stats(bed, name, *extra)
    except playbook_runner.PlaybookFailed as exc:
        sys.exit(str(exc))


def keys(bed):
    out = cluster.etcdctl(bed, "get", "demo/", "--prefix", "-w", "json").stdout
    return {kv["key"]: kv["value"] for kv in json.loads(out).get("kvs", [])}


def main():
    bed = layout.bed()
    times = {}
    began = time.monotonic()
    for number in range(100):
        cluster.etcdctl(bed, "put", f"demo/marker/{number:03d}", f"kept-{number}")
    marked = keys(bed)
    times["write 100 marker keys"] = time.monotonic() - began

    store = bed.sftp_store
    began = time.monotonic()
    backup = playbook(bed, "etcdops.dr.backup", "-e", json.dumps({"backup_stores": [store]}))["etcd_backup"]
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
        "restore_snapshot_dir": "{{ etcd_backup_dir }}/restore"}))["etcd_restore"]
    times["restore from the store"] = time.monotonic() - began

    back = keys(bed)
    if back != marked:
        sys.exit(f"the restored keys differ: {len(back)} keys, expected the {len(marked)} marker keys")
    if restored["sha256"] != stored["sha256"]:
        sys.exit(f"restored sha256 {restored['sha256']}, but the store holds {stored['sha256']}")
    name = stored["path"].rsplit("/", 1)[1]
    print(f"\nRestored {len(restored['members'])} members from {stored['store']}/{name} (latest), the backup the"
          f" source host sent there and read back")
    print(f"  sha256 {backup['sha256']}, snapshot revision {restored['snapshot_revision']}, now revision "
          f"{restored['revision']}, {restored['key_count']} live keys; previous data dirs kept: "
          f"{', '.join(kept for kept in restored['kept'] if kept) or 'none (the disaster removed them)'}")
    print(f"  proof: all {len(marked)} marker keys are back with their values, none of the 50 later keys is")
    print("Phase times:")
    for phase, seconds in times.items():
        print(f"  {phase:<28}{seconds:7.1f} s")
    print(f"  {'  of which stop':<28}{restored['stop_seconds']:7.1f} s")
    print(f"  {'  of which etcdutl restore':<28}{restored['restore_seconds']:7.1f} s")
    print(f"  {'  of which start and verify':<28}{restored['start_and_verify_seconds']:7.1f} s")


if __name__ == "__main__":
    main()
