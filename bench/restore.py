"""Benchmark: the etcdops.dr.restore playbook on a whole cluster against one raw `etcdutl snapshot restore` of one
member, from the same snapshot of at least --min-mb MB, in one run, for each member count in --members.

Brings up a test bed of its own under .bench/ (the test bed's addresses: stop the test bed first; a 5-member bed also
uses 127.0.0.16-17), loads incompressible 1 MiB values into 3 members until the database reaches the size, and takes
one snapshot with the backup playbook (so it has its manifest with the key count). For each member count it then
runs, --rounds times each and rotating which goes first:
  - raw: etcdutl snapshot restore of node1 into a scratch dir, with the flags the playbook gives node1 (built by the
    collection's own restore_command), in Kubernetes mode (--bump-revision 1000000000 --mark-compacted);
  - raw, one after another: the same for every member, in turn: what a restore that is not parallel would take;
  - raw, all at once: the same for every member at the same time on this one machine (2 cores, one disk): the
    least the playbook's parallel restore phase can take here;
  - playbook: ansible-playbook etcdops.dr.restore over SSH on every member, Kubernetes mode, the snapshot already on
    every host: preflight (hashing the file on each host), stop, restore in parallel, start, wait for one revision
    and one KV hash, verify, and start the kube-apiserver stand-ins;
  - with --baseline REF, the same playbook of the collection as git revision REF has it (built and installed beside
    this checkout's), in the same rotation: both measured side by side in one run.
Each run's CPU time is the whole machine's (/proc/stat: the controller, the hosts' modules, etcd and the bed's
daemons) while it ran.
Prints each run, the medians and the ratio playbook wall time / raw restore of one member, and the playbook's own
restore phase (its set_stats) against the raw restores one after another and all at once, and the members'
etcd_restore times summed against that phase (a sum larger than the phase: they ran at the same time). A playbook
run with --forks 1 is no serial baseline: the restore refuses fewer forks than members, because a member that starts
waits for the others.

    .venv/bin/python bench/restore.py [--min-mb 400] [--rounds 3] [--members 3 5] [--baseline REF] [--keep]
"""
import argparse
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testbed import cluster, layout, services  # noqa: E402  pylint: disable=wrong-import-position
from testbed import playbook  # noqa: E402  pylint: disable=wrong-import-position
from _timing import timed  # noqa: E402  pylint: disable=wrong-import-position
from _baseline import Baseline, measured  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, str(layout.link_checkout()))
# pylint: disable-next=wrong-import-position,import-error
from ansible_collections.etcdops.dr.plugins.module_utils._restore.plan import restore_command  # noqa: E402

BENCH = REPO / ".bench"
BUMP = 1000000000
# Restore playbook runs so far, by bed.
RESTORES = {}
PHASES = ("preflight_and_rest", "stop", "restore", "start_and_verify")


def bed_of(size):
    return layout.bed(root=BENCH / f"restore-bed-{size}", size=size)


def start(bed):
    cluster.up(bed)
    cluster.install_collection(bed)


def take_snapshot(bed, min_bytes, snapshot_dir):
    """Fill the bed to min_bytes and back it up with the backup playbook; the snapshot and manifest go to
    snapshot_dir. Returns the snapshot's path."""
    began = time.monotonic()
    cluster.fill(bed, bed.members[0], min_bytes)
    print("database: %.0f MB on %d members (loaded in %.0f s)" % (
        cluster.db_size(bed, bed.members[0]) / 1e6, len(bed.members), time.monotonic() - began))
    backup = playbook.run_with_stats(bed, "etcdops.dr.backup")["etcd_backup"]
    snapshot_dir.mkdir(parents=True, exist_ok=True)
    snapshot = snapshot_dir / pathlib.Path(backup["file"]).name
    for suffix in ("", ".json"):
        shutil.move(backup["file"] + suffix, str(snapshot) + suffix)
    print("snapshot: %s, %.0f MB, revision %s, %s keys (backup playbook: %.1f s)" % (
        snapshot.name, int(backup["size"]) / 1e6, backup["revision"], backup["key_count"],
        float(backup["duration_seconds"])))
    return snapshot


def raw_command(bed, member, snapshot, target):
    options = {"name": member.name, "initial_cluster": bed.initial_cluster, "initial_cluster_token": "etcdops-bench",
               "initial_advertise_peer_urls": [member.peer_url], "bump_revision": BUMP}
    return restore_command(str(services.restore_etcdutl()), str(snapshot), str(target / member.name), options)


def run_raw(bed, snapshot):
    """etcdutl snapshot restore of node1 alone, into a scratch dir; seconds."""
    target = fresh_dir(BENCH / "raw-restore")
    seconds, dummy, dummy = timed(raw_command(bed, bed.members[0], snapshot, target))
    shutil.rmtree(target)
    return seconds, {}


def run_raw_serially(bed, snapshot):
    """etcdutl snapshot restore of every member, one after the other: what a restore phase that is not parallel
    would at least take; seconds."""
    target = fresh_dir(BENCH / "raw-restore")
    seconds = sum(timed(raw_command(bed, member, snapshot, target))[0] for member in bed.members)
    shutil.rmtree(target)
    return seconds, {}


def run_raw_all(bed, snapshot):
    """etcdutl snapshot restore of every member at once, into scratch dirs on this one machine: what the
    playbook's parallel restore phase can at best come to here; seconds."""
    target = fresh_dir(BENCH / "raw-restore")
    began = time.monotonic()
    procs = [subprocess.Popen(raw_command(bed, member, snapshot, target), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for member in bed.members]
    failed = [proc.stderr.read().decode()[-2000:] for proc in procs if proc.wait() != 0]
    seconds = time.monotonic() - began
    for proc in procs:
        proc.stderr.close()
    if failed:
        raise RuntimeError("etcdutl failed: %s" % failed)
    shutil.rmtree(target)
    return seconds, {}


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def run_playbook(bed, snapshot, env=None):
    """The restore playbook on every member; seconds and its phase times. The kept pre-restore dirs are removed
    afterwards (they are the bench's own data). Each run bumps by BUMP more than the one before: in Kubernetes mode
    the restore refuses to start the cluster at a revision the running one has reached."""
    RESTORES[bed.root] = RESTORES.get(bed.root, 0) + 1
    bump = BUMP * RESTORES[bed.root]
    began = time.monotonic()
    stats = playbook.run_with_stats(bed, "etcdops.dr.restore", "-e", f"restore_snapshot={snapshot}",
                                    "-e", "restore_kubernetes=true", "-e", f"restore_bump_revision={bump}",
                                    env=env)["etcd_restore"]
    seconds = time.monotonic() - began
    if int(stats["revision"]) != int(stats["snapshot_revision"]) + bump or len(stats["members"]) != len(bed.members):
        raise RuntimeError(f"the restore did not end as it should: {stats}")
    for member in bed.members:
        for kept in member.root.glob(member.data_dir.name + ".pre-restore-*"):
            shutil.rmtree(kept)
    phases = {name: float(stats[f"{name}_seconds"]) for name in PHASES[1:]}
    phases["preflight_and_rest"] = seconds - sum(phases.values())
    phases["members_summed"] = sum(float(value) for value in stats["member_restore_seconds"].values())
    return seconds, phases


RUNNERS = {"raw restore, node1": run_raw, "raw restore, one after another": run_raw_serially,
           "raw restore, all at once": run_raw_all, "restore playbook": run_playbook}
BASELINE = "restore playbook, baseline"


def measure(bed, snapshot, rounds, baseline=None):
    """Median seconds (and machine CPU seconds) of each runner and of the playbook's phases, over `rounds` rounds in
    rotating order."""
    runners = dict(RUNNERS)
    if baseline:
        runners[BASELINE] = lambda bed, snapshot: run_playbook(bed, snapshot, env=baseline.env_for(bed))
    rows = {name: [] for name in runners}
    for number in range(rounds):
        order = list(runners)[number % len(runners):] + list(runners)[:number % len(runners)]
        for name in order:
            dummy, cpu, (seconds, phases) = measured(lambda: runners[name](bed, snapshot))
            rows[name].append((seconds, phases, cpu))
            detail = "  ".join("%s %.1f s" % (phase.replace("_", " "), value) for phase, value in phases.items())
            print("  round %d  %-31s %6.2f s  CPU %6.1f s  %s" % (number + 1, name, seconds, cpu, detail))
    medians = {name: statistics.median(r[0] for r in runs) for name, runs in rows.items()}
    medians.update({name + " cpu": statistics.median(r[2] for r in runs) for name, runs in rows.items()})
    medians.update({name: statistics.median(r[1][name] for r in rows["restore playbook"])
                    for name in PHASES + ("members_summed",)})
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mb", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--members", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--keep", action="store_true", help="leave the last bench bed running and the snapshot")
    parser.add_argument("--baseline", help="also run the restore playbook of this git revision, side by side")
    args = parser.parse_args()

    snapshot_dir = BENCH / "restore-snapshot"
    bed = bed_of(3)
    summary = []
    baseline = None
    try:
        start(bed)
        if args.baseline:
            baseline = Baseline(args.baseline, BENCH)
            print("baseline: %s (%s)" % (args.baseline, baseline.commit))
        snapshot = take_snapshot(bed, args.min_mb * 1000 * 1000, snapshot_dir)
        for size in args.members:
            if size != len(bed.members):
                cluster.purge(bed)
                bed = bed_of(size)
                start(bed)
            print("\n%d members (%s):" % (size, ", ".join(m.address for m in bed.members)))
            summary.append((size, measure(bed, snapshot, args.rounds, baseline)))
        print("\nmedians over %d rounds; snapshot %.0f MB" % (args.rounds, snapshot.stat().st_size / 1e6))
        for size, m in summary:
            raw, whole = m["raw restore, node1"], m["restore playbook"]
            print("%d members: raw restore of one %.2f s, of all one after another %.2f s, of all at once %.2f s" % (
                size, raw, m["raw restore, one after another"], m["raw restore, all at once"]))
            print("  playbook %.1f s (preflight and rest %.1f, stop %.1f, restore %.1f, start and verify %.1f)" % (
                whole, *(m[name] for name in PHASES)))
            print("  the members' etcd_restore runs summed: %.1f s in a restore phase of %.1f s (%.1f at once)" % (
                m["members_summed"], m["restore"], m["members_summed"] / m["restore"]))
            print("  ratio playbook / raw restore of one: %.1f;  playbook restore phase / raw restore of all at "
                  "once: %.2f, / of all one after another: %.2f" % (
                      whole / raw, m["restore"] / m["raw restore, all at once"],
                      m["restore"] / m["raw restore, one after another"]))
            print("  machine CPU per playbook run %.1f s" % m["restore playbook cpu"])
            if baseline:
                print("  baseline %s: playbook %.1f s, machine CPU %.1f s; this checkout / baseline: wall %.2f, "
                      "CPU %.2f" % (baseline.commit, m[BASELINE], m[BASELINE + " cpu"], whole / m[BASELINE],
                                    m["restore playbook cpu"] / m[BASELINE + " cpu"]))
    finally:
        if baseline:
            baseline.remove()
        if not args.keep:
            cluster.purge(bed)
            shutil.rmtree(snapshot_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
