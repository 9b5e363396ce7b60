"""The demo's disaster: write marker keys, back up, write more keys, destroy every member's data dir, restore the
cluster with the collection, and prove that exactly the backed-up keys came back. Prints each phase's time."""
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

    began = time.monotonic()
    backup = playbook(bed, "etcdops.dr.backup")["etcd_backup"]
    times["online backup"] = time.monotonic() - began

    for number in range(50):
        cluster.etcdctl(bed, "put", f"demo/later/{number:03d}", "lost-in-the-disaster")
    began = time.monotonic()
    for member in bed.members:
        services.supervisorctl(bed, "stop", member.service)
        shutil.rmtree(member.data_dir)
    times["destroy every data dir"] = time.monotonic() - began

    began = time.monotonic()
    restored = playbook(
        bed, "etcdops.dr.restore", "-e", f"restore_snapshot={backup['file']}",
        "-e", f"restore_snapshot_from={backup['source_host']}",
        "-e", "restore_snapshot_dir={{ etcd_backup_dir }}/restore")["etcd_restore"]
    times["restore (playbook)"] = time.monotonic() - began

    back = keys(bed)
    if back != marked:
        sys.exit(f"the restored keys differ: {len(back)} keys, expected the {len(marked)} marker keys")
    print(f"\nRestored {len(restored['members'])} members from {backup['file']}")
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
