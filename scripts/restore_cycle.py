"""The demo's disaster: write marker keys, back up, write more keys, destroy every member's data dir, restore the
cluster with the collection, and prove that exactly the backed-up keys came back. Prints each phase's time."""
import json
import os
import shutil
import subprocess
import sys
import time

from testbed import cluster, layout, services

PLAYBOOK_BIN = str(layout.VENV_PYTHON.parent / "ansible-playbook")


def playbook(name, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(layout.bed().ansible_cfg), ANSIBLE_SHOW_CUSTOM_STATS="1")
    proc = subprocess.run([PLAYBOOK_BIN, name, *extra], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{name} failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    stats = proc.stdout[proc.stdout.index("CUSTOM STATS"):]
    return json.loads(next(line for line in stats.splitlines() if "RUN:" in line).split("RUN:", 1)[1])


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
    backup = playbook("etcdops.dr.backup")["etcd_backup"]
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
        "etcdops.dr.restore", "-e", f"restore_snapshot={backup['file']}",
        "-e", f"restore_snapshot_from={backup['source_host']}",
        "-e", "restore_snapshot_dir={{ etcd_backup_dir }}/restore")["etcd_restore"]
    times["restore (playbook)"] = time.monotonic() - began

    back = keys(bed)
    if back != marked:
        sys.exit(f"the restored keys differ: {len(back)} keys, expected the {len(marked)} marker keys")
    print(f"\nRestored {len(restored['members'])} members from {backup['file']}")
    print(f"  sha256 {backup['sha256']}, snapshot revision {restored['snapshot_revision']}, now revision "
          f"{restored['revision']}, {restored['key_count']} live keys; kept dirs: {restored['kept']}")
    print(f"  proof: all {len(marked)} marker keys are back with their values, none of the 50 later keys is")
    print("Phase times:")
    for phase, seconds in times.items():
        print(f"  {phase:<28}{seconds:7.1f} s")
    print(f"  {'  of which stop':<28}{restored['stop_seconds']:7.1f} s")
    print(f"  {'  of which etcdutl restore':<28}{restored['restore_seconds']:7.1f} s")
    print(f"  {'  of which start and verify':<28}{restored['start_and_verify_seconds']:7.1f} s")


if __name__ == "__main__":
    main()
