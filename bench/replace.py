"""Benchmark: the etcdops.dr.replace_member playbook against the same steps by hand (etcdctl member remove, etcdctl
member add --learner, the member's config file changed, a start, a wait until the learner has caught up, etcdctl
member promote, a wait until every member is healthy), side by side in one run, on a database of at least --min-mb MB.

Brings up a test bed of its own under .bench/ (the test bed's addresses: stop the test bed first), loads incompressible
1 MiB values until node1's database holds the size, then --rounds times each, alternating which goes first: node3's
etcd is stopped and its data dir deleted (a lost disk), and node3 is replaced. Prints each run's wall time and the
whole machine's CPU time (/proc/stat) while it ran, the medians, and the ratio playbook / by hand.

    .venv/bin/python bench/replace.py [--min-mb 100] [--rounds 3] [--keep]
"""
import argparse
import json
import pathlib
import shutil
import sys
import time

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testbed import cluster, layout, playbook, services  # noqa: E402  pylint: disable=wrong-import-position
from _baseline import side_by_side  # noqa: E402  pylint: disable=wrong-import-position

BENCH = REPO / ".bench"
NODE = "node3"


def lose(bed, member):
    services.supervisorctl(bed, "stop", member.service)
    shutil.rmtree(member.data_dir, ignore_errors=True)
    for path in member.root.glob("data.*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def member_list(bed):
    out = cluster.etcdctl(bed, "member", "list", "-w", "json", endpoints=bed.client_urls[:2]).stdout
    return json.loads(out)["members"]


def by_hand(bed):
    """The documented steps, as an operator would type them (runtime reconfiguration guide)."""
    member = bed.member(NODE)
    others = bed.client_urls[:2]
    old = next(m for m in member_list(bed) if m.get("name") == NODE)
    cluster.etcdctl(bed, "member", "remove", "%x" % old["ID"], endpoints=others)
    added = cluster.etcdctl(bed, "member", "add", NODE, f"--peer-urls={member.peer_url}", "--learner",
                            endpoints=others).stdout
    initial = next(line.split("=", 1)[1].strip('"') for line in added.splitlines()
                   if line.startswith("ETCD_INITIAL_CLUSTER="))
    config = yaml.safe_load(member.config_file.read_text())
    config.update({"initial-cluster": initial, "initial-cluster-state": "existing"})
    member.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    services.supervisorctl(bed, "start", member.service)
    new_id = next(m["ID"] for m in member_list(bed) if m.get("isLearner"))
    while True:
        done = cluster.etcdctl(bed, "member", "promote", "%x" % new_id, endpoints=others, check=False)
        if done.returncode == 0:
            break
        if "in sync" not in done.stderr:
            raise RuntimeError(done.stderr)
        time.sleep(0.2)
    cluster.wait_healthy(bed)


def with_playbook(bed):
    stats = playbook.run_with_stats(bed, "etcdops.dr.replace_member", "-e", f"replace_member={NODE}")
    if stats["etcd_replace_member"]["member"] != NODE:
        raise RuntimeError(stats)
    cluster.wait_healthy(bed)


RUNNERS = {"by hand (etcdctl)": by_hand, "replace_member playbook": with_playbook}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the bench bed running")
    args = parser.parse_args()
    bed = layout.bed(root=BENCH / "replace-bed", size=3)
    try:
        cluster.up(bed)
        cluster.install_collection(bed)
        cluster.fill(bed, bed.members[0], args.min_mb * 1000 * 1000)
        print("database: %.0f MB" % (cluster.db_size(bed, bed.members[0]) / 1e6))
        medians = side_by_side({name: (lambda run=run: run(bed)) for name, run in RUNNERS.items()}, args.rounds,
                               prepare=lambda name: lose(bed, bed.member(NODE)))
        hand, book = medians["by hand (etcdctl)"], medians["replace_member playbook"]
        print("ratio playbook / by hand: wall %.2f, CPU %.2f" % (book[0] / hand[0], book[1] / hand[1]))
    finally:
        if not args.keep:
            cluster.purge(bed)


if __name__ == "__main__":
    main()
