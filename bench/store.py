"""Benchmark: sending a backup to the SFTP store - etcd_store_upload's code path (paramiko), run as Ansible runs it -
against OpenSSH's `sftp` client putting the same file to the same server, in one run; and the module's peak RSS.
Then the same module sending to the bed's S3 store (moto's server) against a plain boto3 `upload_file` of the same
file (its defaults: 8 MiB parts, 10 threads, boto3's default CRC32 per part), ratio boto3's time / the module's
(target >= 0.9), and against `upload_file` asking for the SHA-256 checksum per part that the module sends and S3
checks (the same verification work on both sides, which on this machine shares the cores with the S3 server).

Brings up a bed of its own under .bench/bed (the test bed's addresses: stop the test bed first, or run this in a
network namespace of its own: unshare -n), writes a file of --size-mb MB of random bytes (incompressible) with a
manifest, then --rounds times, alternating which goes first: the module sends it to the bed's SFTP store (written
under a temporary name, read back and hashed, renamed), and `sftp -b` puts it to the same dir. Prints each run, the
medians and the ratio of throughputs (OpenSSH's time / the module's sending time: >= 0.8 is the target), the
module's whole time (sending plus reading back) and its peak RSS, measured by the kernel (wait4 ru_maxrss).
With --rss-size-mb N, one more module run with an N MB file for the peak RSS (target: under 100 MB for 2000).

    .venv/bin/python bench/store.py [--size-mb 400] [--rounds 5] [--rss-size-mb 2000]
"""
import argparse
import hashlib
import json
import os
import pathlib
import shutil
import statistics
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testbed import cluster, layout  # noqa: E402  pylint: disable=wrong-import-position
from _timing import timed  # noqa: E402  pylint: disable=wrong-import-position

MODULE = REPO / "plugins" / "modules" / "etcd_store_upload.py"
MIB = 1024 * 1024


def write_backup(directory, size_mb):
    """A backup-like file of random bytes with a manifest beside it; returns its path."""
    path = directory / "etcd-snapshot-20261101T000000Z.db"
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for dummy in range(size_mb):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            handle.write(chunk)
    path.with_name(path.name + ".json").write_text(json.dumps({"sha256": digest.hexdigest(), "size": size_mb * MIB}))
    return path


def upload(store, path, work):
    """Run etcd_store_upload as Ansible runs it: (seconds, peak RSS in MiB, its result)."""
    args = work / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"path": str(path), "store": store}}))
    seconds, rss, out = timed([str(layout.VENV_PYTHON), str(MODULE), str(args)],
                              env=dict(os.environ, PYTHONPATH=str(layout.link_checkout())))
    result = json.loads(out)
    if result.get("failed"):
        raise RuntimeError(result["msg"])
    return seconds, rss, result


def run_module(bed, path, work):
    seconds, rss, result = upload(bed.sftp_store, path, work)
    empty_store(bed)
    return seconds, rss, result["send_seconds"], result["read_back_seconds"]


def run_openssh(bed, path, work):
    batch = work / "batch"
    batch.write_text(f"put {path} {bed.sftp_store_dir / 'openssh.db'}\n")
    store = bed.sftp_store
    seconds, dummy, dummy = timed(["sftp", "-q", "-b", str(batch), "-P", str(layout.SFTP_PORT), "-i",
                                   store["key_file"], "-o", f"UserKnownHostsFile={store['known_hosts']}", "-o",
                                   "StrictHostKeyChecking=yes", f"root@{layout.BACKUP_SERVER_ADDRESS}"])
    empty_store(bed)
    return seconds


PLAIN_BOTO3 = """
import boto3, json, sys
store = json.loads(sys.argv[1])
client = boto3.session.Session().client("s3", endpoint_url=store["endpoint_url"], region_name=store["region"],
                                        aws_access_key_id=store["access_key"], aws_secret_access_key=store["secret_key"])
extra = {"ChecksumAlgorithm": "SHA256"} if sys.argv[3:] == ["sha256"] else None
client.upload_file(sys.argv[2], "etcd-backups", "cluster-a/boto3.db", ExtraArgs=extra)
client.delete_object(Bucket="etcd-backups", Key="cluster-a/boto3.db")
"""


# boto3 runs in processes of its own: a child's peak RSS as the kernel counts it starts at what this process holds
# when it forks, so this one stays small.
S3_DELETE = """
import boto3, json, sys
store = json.loads(sys.argv[1])
client = boto3.session.Session().client("s3", endpoint_url=store["endpoint_url"], region_name=store["region"],
                                        aws_access_key_id=store["access_key"], aws_secret_access_key=store["secret_key"])
for name in sys.argv[2:]:
    client.delete_object(Bucket="etcd-backups", Key="cluster-a/" + name)
"""


def run_module_s3(bed, path, work):
    seconds, rss, result = upload(bed.s3_store, path, work)
    timed([str(layout.VENV_PYTHON), "-c", S3_DELETE, json.dumps(bed.s3_store), path.name, path.name + ".json"])
    return seconds, rss, result["send_seconds"] + result["read_back_seconds"], result["verified_by"]


def run_boto3(bed, path, *checksum):
    """boto3's upload_file of `path`; with "sha256", asking for the SHA-256 checksum per part that the module sends
    (and S3 checks) too."""
    seconds, rss, dummy = timed([str(layout.VENV_PYTHON), "-c", PLAIN_BOTO3, json.dumps(bed.s3_store), str(path),
                                 *checksum])
    return seconds, rss


def alternating(rounds, *tools):
    """(round number from 1, tool) for `rounds` rounds of every tool, a different one going first each round."""
    for number in range(rounds):
        first = number % len(tools)
        for tool in tools[first:] + tools[:first]:
            yield number + 1, tool


def empty_store(bed):
    for path in bed.sftp_store_dir.iterdir():
        path.unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rss-size-mb", type=int, default=0)
    options = parser.parse_args()
    bed = layout.bed(REPO / ".bench" / "bed")
    cluster.up(bed)
    work = bed.root / "store-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        path = write_backup(work, options.size_mb)
        size = path.stat().st_size / MIB
        module_send, module_whole, openssh, rss_seen = [], [], [], []
        for round_number, tool in alternating(options.rounds, "module", "openssh"):
            if tool == "module":
                whole, rss, send, read_back = run_module(bed, path, work)
                module_send.append(send)
                module_whole.append(whole)
                rss_seen.append(rss)
                print(f"round {round_number}: module  send {send:6.2f} s ({size / send:6.1f} MiB/s), read back "
                      f"{read_back:5.2f} s, whole run {whole:6.2f} s, peak RSS {rss:5.1f} MiB", flush=True)
            else:
                seconds = run_openssh(bed, path, work)
                openssh.append(seconds)
                print(f"round {round_number}: OpenSSH sftp put {seconds:6.2f} s ({size / seconds:6.1f} MiB/s)",
                      flush=True)
        send, whole, theirs = (statistics.median(v) for v in (module_send, module_whole, openssh))
        print(f"\n{size:.0f} MiB, {options.rounds} rounds, medians:")
        print(f"  OpenSSH sftp put            {theirs:6.2f} s ({size / theirs:6.1f} MiB/s)")
        print(f"  module, sending             {send:6.2f} s ({size / send:6.1f} MiB/s)")
        print(f"  module, whole run           {whole:6.2f} s (sending, reading back and hashing, renaming)")
        print(f"  ratio (OpenSSH time / module sending time): {theirs / send:.2f}")
        print(f"  module peak RSS: {min(rss_seen):.1f}-{max(rss_seen):.1f} MiB")
        mine, theirs_s3, theirs_sha256, mine_rss, theirs_rss = [], [], [], [], []
        for round_number, tool in alternating(options.rounds, "module", "boto3", "boto3 sha256"):
            if tool == "module":
                whole, rss, sending, verified_by = run_module_s3(bed, path, work)
                mine.append(whole)
                mine_rss.append(rss)
                print(f"round {round_number}: module to S3 {whole:6.2f} s ({size / whole:6.1f} MiB/s; sending "
                      f"and checking {sending:.2f} s, verified by {verified_by}), peak RSS {rss:5.1f} MiB",
                      flush=True)
            elif tool == "boto3":
                seconds, rss = run_boto3(bed, path)
                theirs_s3.append(seconds)
                theirs_rss.append(rss)
                print(f"round {round_number}: boto3 upload_file {seconds:6.2f} s ({size / seconds:6.1f} MiB/s),"
                      f" peak RSS {rss:5.1f} MiB", flush=True)
            else:
                seconds, dummy = run_boto3(bed, path, "sha256")
                theirs_sha256.append(seconds)
                print(f"round {round_number}: boto3 upload_file with SHA-256 per part {seconds:6.2f} s "
                      f"({size / seconds:6.1f} MiB/s)", flush=True)
        mine_median, theirs_median, sha256_median = (statistics.median(v) for v in (mine, theirs_s3, theirs_sha256))
        print(f"\nS3, {size:.0f} MiB, {options.rounds} rounds, medians (whole processes):")
        print(f"  boto3 upload_file           {theirs_median:6.2f} s ({size / theirs_median:6.1f} MiB/s)")
        print(f"  boto3, SHA-256 per part     {sha256_median:6.2f} s ({size / sha256_median:6.1f} MiB/s)")
        print(f"  module                      {mine_median:6.2f} s ({size / mine_median:6.1f} MiB/s)")
        print(f"  ratio (boto3 time / module time): {theirs_median / mine_median:.2f}")
        print(f"  ratio (boto3 with the module's SHA-256 per part / module): {sha256_median / mine_median:.2f}")
        print(f"  peak RSS: module {min(mine_rss):.1f}-{max(mine_rss):.1f} MiB, boto3 {min(theirs_rss):.1f}-"
              f"{max(theirs_rss):.1f} MiB")
        if options.rss_size_mb:
            big = write_backup(work, options.rss_size_mb)
            whole, rss, send, read_back = run_module(bed, big, work)
            print(f"  {options.rss_size_mb} MiB file to SFTP: send {send:.2f} s, read back {read_back:.2f} s, "
                  f"peak RSS {rss:.1f} MiB")
            whole, rss, sending, verified_by = run_module_s3(bed, big, work)
            print(f"  {options.rss_size_mb} MiB file to S3: {whole:.2f} s, peak RSS {rss:.1f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        cluster.down(bed)


if __name__ == "__main__":
    main()
