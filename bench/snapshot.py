"""Benchmark: etcd_snapshot (the module's own code path, run as Ansible runs it, fsync included)
against `etcdctl snapshot save`, on the same database of at least --min-mb MB, in one run; and the
backup playbook (with a copy to the controller) against `etcdctl snapshot save` plus `scp` of the file.

Brings up a test bed of its own under .bench/bed (the test bed's addresses: stop the test bed
first), loads incompressible 1 MiB values until the database reaches the size, then runs both
tools --rounds times each, alternating which goes first, against the same member. Prints each
run's throughput, the medians, their ratio (etcdctl time / module time: >= 1.0 means the module is
at least as fast) and the module's peak RSS, measured by the kernel (wait4 ru_maxrss).

Then, --rounds times each, alternating: the etcdops.dr.backup playbook over SSH on the 3 hosts with
backup_fetch_dir set (preflight, snapshot on the source host, verify, copy to the controller, verify
the copy, retention), against the least a backup with a controller copy takes by hand: `etcdctl
snapshot save` on node1 then `scp` of the file from node1 to the controller over the bed's SSH.
The playbook runs twice per round: with Ansible's default ssh_args (which hold -C: zlib compression
of the SSH stream, the same for the copy to the controller) and with ssh_args without -C, as scp
runs. Prints the medians and each playbook's time over that (target: at most 4 s more).

With --baseline REF the backup playbook of the collection as git revision REF has it (built and installed beside this
checkout's) runs in the same rotation, ssh without -C; each playbook run's machine CPU time is printed too (/proc/stat:
the controller, the hosts' modules, etcd and the bed). --only-backup leaves out the module against etcdctl.

With --throttle-mib-s N, the module also runs --rounds times behind a destination that takes
N MiB/s (a slow or busy disk; emulated inside the module's process by a write that sleeps, loaded
through sitecustomize), and its peak RSS is printed: the stream must apply back-pressure, not
buffer what the disk has not taken. A 2 GB database: --min-mb 2000 (under etcd's default 2 GiB quota).

    .venv/bin/python bench/snapshot.py [--min-mb 400] [--rounds 5] [--baseline REF] [--only-backup] [--keep]
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testbed import cluster, layout, playbook, services  # noqa: E402  pylint: disable=wrong-import-position
from _timing import timed  # noqa: E402  pylint: disable=wrong-import-position
from _baseline import Baseline, measured  # noqa: E402  pylint: disable=wrong-import-position

MODULE = REPO / "plugins" / "modules" / "etcd_snapshot.py"
MIB = 1024 * 1024


def run_etcdctl(bed, member, out_dir):
    path = out_dir / "etcdctl.db"
    seconds, rss, dummy = timed([str(services.etcd_bin_dir() / "etcdctl"), "--endpoints", member.client_url,
                                 "--cacert", str(bed.cacert), "--cert", str(bed.client_cert), "--key",
                                 str(bed.client_key), "snapshot", "save", str(path)],
                                env=dict(os.environ, ETCDCTL_API="3"))
    size = path.stat().st_size
    path.unlink()
    return seconds, rss, size


# Loaded by the module's interpreter when the bench throttles the destination: every temp file the snapshot is
# written to takes at most BENCH_THROTTLE_MIB_S MiB/s.
THROTTLE = """
import os, time
from ansible_collections.etcdops.dr.plugins.module_utils._host import files

RATE = float(os.environ["BENCH_THROTTLE_MIB_S"]) * 1048576
real_temp_file_in = files.temp_file_in


class Throttled:
    def __init__(self, handle):
        self.handle = handle
        self.began = time.monotonic()
        self.written = 0

    def write(self, data):
        self.written += len(data)
        ahead = self.written / RATE - (time.monotonic() - self.began)
        if ahead > 0:
            time.sleep(ahead)
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)


def temp_file_in(directory, name, mode=0o600):
    handle, path = real_temp_file_in(directory, name, mode)
    return Throttled(handle), path


files.temp_file_in = temp_file_in
"""


def run_module(bed, member, out_dir, check_mode=False, throttle=None, extra=None, keep=False):
    """(seconds, peak RSS MiB, bytes written) of one etcd_snapshot run with `extra` module args; with `keep`, the
    result's path is the 4th item and the file stays."""
    dest = out_dir / "module"
    args = out_dir / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict({
        "endpoint": member.client_url, "cacert": str(bed.cacert), "cert": str(bed.client_cert),
        "key": str(bed.client_key), "dest_dir": str(dest), "_ansible_check_mode": check_mode}, **(extra or {}))}))
    env = dict(os.environ, PYTHONPATH=str(layout.link_checkout()))
    if throttle:
        hooks = out_dir / "throttle"
        hooks.mkdir(exist_ok=True)
        (hooks / "sitecustomize.py").write_text(THROTTLE)
        env.update(PYTHONPATH="%s:%s" % (hooks, env["PYTHONPATH"]), BENCH_THROTTLE_MIB_S=str(throttle))
    seconds, rss, out = timed([str(layout.VENV_PYTHON), str(MODULE), str(args)], env=env)
    result = json.loads(out)
    if result.get("failed"):
        raise RuntimeError(result["msg"])
    if keep:
        return seconds, rss, result["size"], result["path"]
    shutil.rmtree(dest, ignore_errors=check_mode)
    return seconds, rss, result["size"]


def run_save_and_scp(bed, member, out_dir):
    """etcdctl snapshot save into the member's backup dir, then scp to the controller: seconds."""
    saved = member.backup_dir / "bench-etcdctl.db"
    copy = out_dir / "controller" / "bench-etcdctl.db"
    copy.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    timed([str(services.etcd_bin_dir() / "etcdctl"), "--endpoints", member.client_url, "--cacert", str(bed.cacert),
           "--cert", str(bed.client_cert), "--key", str(bed.client_key), "snapshot", "save", str(saved)],
          env=dict(os.environ, ETCDCTL_API="3"))
    timed(["scp", "-q", "-P", str(layout.SSH_PORT), "-i", str(bed.ssh_key), "-o",
           f"UserKnownHostsFile={bed.known_hosts}", "-o", "StrictHostKeyChecking=yes",
           f"root@{member.address}:{saved}", str(copy)])
    seconds = time.monotonic() - began
    saved.unlink()
    copy.unlink()
    return seconds


# Ansible's default ssh_args without -C: no zlib compression of the SSH stream.
SSH_ARGS_WITHOUT_COMPRESSION = "-o ControlMaster=auto -o ControlPersist=60s"


def run_backup_playbook(bed, out_dir, ssh_args=None, env=None):
    """The backup playbook with a controller copy: seconds. Its files are removed afterwards. SSH control masters
    are closed first: a master keeps the compression it was started with for every later session."""
    fetch_dir = out_dir / "fetched"
    cluster.close_ssh_masters(bed)
    began = time.monotonic()
    stats = playbook.run_with_stats(bed, "etcdops.dr.backup", "-e", f"backup_fetch_dir={fetch_dir}",
                                    env=dict({"ANSIBLE_SSH_ARGS": ssh_args} if ssh_args else {}, **(env or {})))[
                                        "etcd_backup"]
    seconds = time.monotonic() - began
    for path in (stats["file"], stats["file"] + ".json"):
        os.unlink(path)
    shutil.rmtree(fetch_dir)
    return seconds


def compare_backup(bed, member, out_dir, rounds, baseline=None):
    cluster.install_collection(bed)
    runners = {"etcdctl save + scp": lambda: run_save_and_scp(bed, member, out_dir),
               "backup playbook": lambda: run_backup_playbook(bed, out_dir),
               "backup playbook, ssh without -C": lambda: run_backup_playbook(bed, out_dir,
                                                                              SSH_ARGS_WITHOUT_COMPRESSION)}
    if baseline:
        runners["baseline %s, ssh without -C" % baseline.commit] = lambda: run_backup_playbook(
            bed, out_dir, SSH_ARGS_WITHOUT_COMPRESSION, env=baseline.env_for(bed))
    rows = {name: [] for name in runners}
    for number in range(rounds):
        order = list(runners) if number % 2 == 0 else list(reversed(list(runners)))
        for name in order:
            dummy, cpu, seconds = measured(runners[name])
            rows[name].append((seconds, cpu))
            print("round %d  %-32s %6.2f s  machine CPU %6.1f s" % (number + 1, name, seconds, cpu))
    raw = statistics.median(seconds for seconds, dummy in rows["etcdctl save + scp"])
    for name in list(runners)[1:]:
        played = statistics.median(seconds for seconds, dummy in rows[name])
        cpu = statistics.median(cpu for dummy, cpu in rows[name])
        print("median  etcdctl save + scp %.2f s, %s %.2f s (machine CPU %.1f s): the playbook takes %.2f s more "
              "(target: at most 4 s more)" % (raw, name, played, cpu, played - raw))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mb", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the bench bed running and its data")
    parser.add_argument("--throttle-mib-s", type=float, help="also run the module behind a destination this slow")
    parser.add_argument("--no-backup", action="store_true", help="leave out the backup playbook comparison")
    parser.add_argument("--baseline", help="also run the backup playbook of this git revision, side by side")
    parser.add_argument("--only-backup", action="store_true", help="leave out the module against etcdctl")
    args = parser.parse_args()

    bed = layout.bed(root=REPO / ".bench" / "bed")
    member = bed.member("node1")
    out_dir = REPO / ".bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    cluster.up(bed)
    baseline = Baseline(args.baseline, REPO / ".bench") if args.baseline else None
    try:
        began = time.monotonic()
        cluster.fill(bed, member, args.min_mb * 1000 * 1000)
        size = cluster.db_size(bed, member)
        print("database: %.0f MB on %s (loaded in %.0f s)" % (size / 1e6, member.client_url, time.monotonic() - began))
        if not args.only_backup:
            compare_module(bed, member, out_dir, args)
        if not args.no_backup:
            print()
            compare_backup(bed, member, out_dir, args.rounds, baseline)
    finally:
        if baseline:
            baseline.remove()
        if not args.keep:
            cluster.purge(bed)
            shutil.rmtree(out_dir, ignore_errors=True)


def compare_module(bed, member, out_dir, args):
    """etcd_snapshot against etcdctl snapshot save, alternating; its fixed cost; behind a slow destination."""
    rows = {"etcdctl snapshot save": [], "etcd_snapshot module": []}
    runners = {"etcdctl snapshot save": run_etcdctl, "etcd_snapshot module": run_module}
    for number in range(args.rounds):
        order = list(runners) if number % 2 == 0 else list(reversed(list(runners)))
        for name in order:
            seconds, rss, written = runners[name](bed, member, out_dir)
            rows[name].append((seconds, rss, written))
            print("round %d  %-22s %6.2f s  %7.1f MiB/s  peak RSS %6.1f MiB  %d bytes" % (
                number + 1, name, seconds, written / MIB / seconds, rss, written))
    medians = {name: statistics.median(r[0] for r in runs) for name, runs in rows.items()}
    written = rows["etcd_snapshot module"][0][2]
    print()
    for name, seconds in medians.items():
        print("median  %-22s %6.2f s  %7.1f MiB/s  peak RSS max %6.1f MiB" % (
            name, seconds, written / MIB / seconds, max(r[1] for r in rows[name])))
    ratio = medians["etcdctl snapshot save"] / medians["etcd_snapshot module"]
    print("ratio (etcdctl time / module time): %.2f  (>= 1.0: the module is at least as fast)" % ratio)
    print("module peak RSS: %.1f MiB  (target < 100 MiB)" % max(r[1] for r in rows["etcd_snapshot module"]))
    fixed = statistics.median(run_module(bed, member, out_dir, check_mode=True)[0] for dummy in range(3))
    print("module fixed cost (Python start, imports, connect, status; check mode, no stream): %.2f s" % fixed)
    if args.throttle_mib_s:
        print()
        for number in range(args.rounds):
            seconds, rss, written = run_module(bed, member, out_dir, throttle=args.throttle_mib_s)
            print("round %d  module, destination at %.0f MiB/s  %6.2f s  %7.1f MiB/s  peak RSS %6.1f MiB" % (
                number + 1, args.throttle_mib_s, seconds, written / MIB / seconds, rss))


if __name__ == "__main__":
    main()
