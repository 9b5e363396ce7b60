"""Benchmark: etcd_snapshot encrypting as it streams (backup_encryption_recipients) against the plain etcd_snapshot,
on the same database of at least --min-mb MB, in one run; and decryption as the restore does it (every chunk
checked, the plaintext written to a 0600 file, the trailer checked) against a plain `cp` of the plain snapshot.

Brings up a bench bed of its own under .bench/bed (the test bed's addresses: stop the test bed first), loads it to the
size, then runs the plain and the encrypted module --rounds times each, alternating which goes first, against the
same member (the module run as Ansible runs it, fsync included). Prints each run, the medians, the ratio (plain time /
encrypted time: target >= 0.9) and each one's peak RSS (kernel, wait4 ru_maxrss; target < 100 MiB). Then decrypts
the last encrypted snapshot --rounds times, alternating with `cp` of a plain one, and prints both throughputs.

    .venv/bin/python bench/encrypt.py [--min-mb 400] [--rounds 5] [--keep]
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from testbed import cluster, layout  # noqa: E402  pylint: disable=wrong-import-position
from _timing import timed  # noqa: E402  pylint: disable=wrong-import-position
from snapshot import run_module  # noqa: E402  pylint: disable=wrong-import-position

MIB = 1024 * 1024
# Run in a process of its own, so that its peak RSS is the decryption's alone.
DECRYPT = """
import sys
from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope, stream
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import decrypt_to_file
with stream.open_file(sys.argv[1], envelope.private_key(open(sys.argv[2]).read())) as opened:
    print(decrypt_to_file(opened, sys.argv[3]))
"""


def key_pair(out_dir):
    private, public = out_dir / "bench-key.pem", out_dir / "bench-key.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "X25519", "-out", str(private)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True)
    return private, public.read_text()


def alternate(runners, rounds):
    rows = {name: [] for name in runners}
    for number in range(rounds):
        order = list(runners) if number % 2 == 0 else list(reversed(list(runners)))
        for name in order:
            rows[name].append(runners[name]())
            seconds, rss, size = rows[name][-1][:3]
            print("round %d  %-30s %6.2f s  %7.1f MiB/s  peak RSS %6.1f MiB  %d bytes" % (
                number + 1, name, seconds, size / MIB / seconds, rss, size))
    return rows


def summary(rows):
    medians = {}
    for name, runs in rows.items():
        medians[name] = statistics.median(run[0] for run in runs)
        print("median  %-30s %6.2f s  %7.1f MiB/s  peak RSS max %6.1f MiB" % (
            name, medians[name], runs[0][2] / MIB / medians[name], max(run[1] for run in runs)))
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mb", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the bench bed running and its data")
    args = parser.parse_args()

    bed = layout.bed(root=REPO / ".bench" / "bed")
    member = bed.member("node1")
    out_dir = REPO / ".bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    private, public = key_pair(out_dir)
    cluster.up(bed)
    try:
        began = time.monotonic()
        cluster.fill(bed, member, args.min_mb * 1000 * 1000)
        size = cluster.db_size(bed, member)
        print("database: %.0f MB on %s (loaded in %.0f s)" % (size / 1e6, member.client_url, time.monotonic() - began))
        kept = {}

        def snapshot(name, extra):
            def run():
                seconds, rss, written, path = run_module(bed, member, out_dir, extra=extra, keep=True)
                for old in (kept.get(name), kept.get(name, "") + ".json"):
                    if old and os.path.exists(old):
                        os.unlink(old)
                kept[name] = path
                return seconds, rss, written
            return run
        rows = alternate({"etcd_snapshot, plain": snapshot("plain", {}),
                          "etcd_snapshot, encrypted": snapshot("encrypted", {"recipients": [public]})}, args.rounds)
        print()
        medians = summary(rows)
        print("ratio (plain time / encrypted time): %.2f  (target >= 0.9)" % (
            medians["etcd_snapshot, plain"] / medians["etcd_snapshot, encrypted"]))
        print("encrypted peak RSS: %.1f MiB  (target < 100 MiB)" % max(r[1] for r in rows["etcd_snapshot, encrypted"]))
        print()
        env = dict(os.environ, PYTHONPATH=str(layout.link_checkout()))
        plaintext = out_dir / "decrypted.db"
        copied = out_dir / "copied.db"

        def decrypt():
            seconds, rss, dummy = timed([str(layout.VENV_PYTHON), "-c", DECRYPT, kept["encrypted"], str(private),
                                         str(plaintext)], env=env)
            written = plaintext.stat().st_size
            plaintext.unlink()
            return seconds, rss, written

        def copy():
            seconds, rss, dummy = timed(["cp", kept["plain"], str(copied)])
            written = copied.stat().st_size
            copied.unlink()
            return seconds, rss, written
        summary(alternate({"decrypt to a file (restore)": decrypt, "cp of the plain snapshot": copy}, args.rounds))
    finally:
        if not args.keep:
            cluster.purge(bed)
            shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
