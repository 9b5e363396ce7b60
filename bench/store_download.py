"""Benchmark: a restore's snapshot from a store to every member - downloaded once on the controller and copied to the
hosts (the restore role's default), against each host downloading it itself (restore_store_download_on: hosts), in
one run on the same store object.

Brings up a bed of its own under .bench/bed (the test bed's addresses: stop the test bed first, or run this in a
network namespace of its own: unshare -n), puts a backup of --size-mb MB of random bytes (incompressible) with its
manifest on the bed's SFTP store, then --rounds times, alternating which goes first, runs two playbooks over SSH on
the three hosts, each ending with a copy verified against the manifest's sha256 on every host:

- once and spread: etcd_store_download on the controller (verified as it arrives), ansible.builtin.copy to every
  host (0600), and the host's sha256 of its copy (ansible.builtin.stat);
- on every host: etcd_store_download on each host at once (each verified as it arrives).

Prints each run, the medians, and the ratio (each host downloading / once and spread: above 1 means the controller's
way is faster here). All hosts, the controller and the store are this one machine: the ratio weighs the CPU both
ways cost, not a network where the hosts sit nearer the store than the controller does, or farther.

    .venv/bin/python bench/store_download.py [--size-mb 400] [--rounds 3]
"""
import argparse
import os
import shutil
import statistics

import yaml

from store import REPO, alternating, upload, write_backup  # noqa: E402  pylint: disable=wrong-import-position
from testbed import cluster, layout  # noqa: E402  pylint: disable=wrong-import-position
from _timing import timed  # noqa: E402  pylint: disable=wrong-import-position

HOST_DIR = "{{ etcd_backup_dir }}/bench-download"


def playbooks(work):
    once = [{
        "name": "Once on the controller, then copied to every host", "hosts": "etcd", "gather_facts": False,
        "tasks": [
            {"name": "Download on the controller", "etcdops.dr.etcd_store_download": {
                "store": "{{ bench_store }}", "name": "{{ bench_name }}", "dest_dir": str(work / "controller")},
             "register": "got", "run_once": True, "delegate_to": "localhost"},
            {"name": "Copy to every host", "ansible.builtin.copy": {
                "src": "{{ got.dest }}", "dest": HOST_DIR + "/", "mode": "0600", "directory_mode": "0700"}},
            {"name": "Hash every copy", "ansible.builtin.stat": {
                "path": HOST_DIR + "/{{ bench_name }}", "checksum_algorithm": "sha256"}, "register": "copy"},
            {"name": "Compare", "ansible.builtin.assert": {"that": "copy.stat.checksum == got.sha256", "quiet": True}},
        ]}]
    each = [{
        "name": "Each host downloads", "hosts": "etcd", "gather_facts": False,
        "tasks": [{"name": "Download on every host", "etcdops.dr.etcd_store_download": {
            "store": "{{ bench_store }}", "name": "{{ bench_name }}", "dest_dir": HOST_DIR}}]}]
    paths = {}
    for name, plays in (("once and spread", once), ("on every host", each)):
        paths[name] = work / (name.replace(" ", "_") + ".yml")
        paths[name].write_text(yaml.safe_dump(plays, sort_keys=False))
    return paths


def clean(bed, work):
    shutil.rmtree(work / "controller", ignore_errors=True)
    for member in bed.members:
        shutil.rmtree(member.backup_dir / "bench-download", ignore_errors=True)


def run(bed, playbook, extra_vars, work):
    clean(bed, work)
    env = {"ANSIBLE_CONFIG": str(bed.ansible_cfg), "PATH": "/usr/bin:/bin", "HOME": os.path.expanduser("~")}
    seconds, dummy, dummy = timed([str(layout.VENV_PYTHON.parent / "ansible-playbook"), str(playbook), "-e",
                                   "@" + str(extra_vars)], env=env)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    bed = layout.bed(REPO / ".bench" / "bed")
    cluster.up(bed)
    cluster.install_collection(bed)
    work = bed.root / "download-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        path = write_backup(work, options.size_mb)
        upload(bed.sftp_store, path, work)
        extra_vars = work / "vars.yml"
        extra_vars.write_text(yaml.safe_dump({"bench_store": bed.sftp_store, "bench_name": path.name}))
        path.unlink()
        books = playbooks(work)
        times = {name: [] for name in books}
        for round_number, name in alternating(options.rounds, *books):
            seconds = run(bed, books[name], extra_vars, work)
            times[name].append(seconds)
            print(f"round {round_number}: {name:16} {seconds:6.2f} s", flush=True)
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"\n{options.size_mb} MiB from the SFTP store to 3 hosts, {options.rounds} rounds, medians:")
        for name, seconds in medians.items():
            print(f"  {name:16} {seconds:6.2f} s")
        print(f"  ratio (on every host / once and spread): {medians['on every host'] / medians['once and spread']:.2f}")
    finally:
        clean(bed, work)
        shutil.rmtree(work, ignore_errors=True)
        for stored in bed.sftp_store_dir.iterdir():
            stored.unlink()
        cluster.down(bed)


if __name__ == "__main__":
    main()
