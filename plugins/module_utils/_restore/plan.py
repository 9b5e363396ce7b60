# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which restore tool to use, whether it is new enough, and the exact restore command for one member."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._host.run import CommandError, Completed, etcd_tool_candidates, run
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import restored_revision
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.version import parse_version, version_text, version_tuple

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

# Oldest tool version that has a flag, from etcd's changelogs: --bump-revision and --mark-compacted came with
# etcd PR #16165 (3.5.10) and its 3.4 backport PR #16193 (3.4.27); --initial-memory-map-size with PR #17977
# (etcdutl 3.5.14 only).
FLAG_SINCE = {
    "bump_revision": {"etcdutl": (3, 5, 10), "etcdctl": (3, 4, 27)},
    "initial_memory_map_size": {"etcdutl": (3, 5, 14)},
}
FLAG_NAMES = {"bump_revision": "--bump-revision/--mark-compacted", "initial_memory_map_size": "--initial-memory-map-size"}
# `etcdctl snapshot restore` was removed in 3.6 (etcd PR #13809); etcdutl does it since 3.5.
ETCDCTL_RESTORE_UNTIL = (3, 6, 0)


class RestorePlanError(EtcdOpsError):
    """The restore cannot be planned as asked (tool, flags, members); msg says how to fix it."""


def _tool_version(host: HostContext, name: str, path: str) -> tuple[int, ...] | None:
    why = "%s at %s does not run; give the path of a working %s (option %s)" % (name, path, name, name)
    if not os.access(path, os.X_OK):
        raise CommandError(Completed([path, "version"], None, "", "not an executable file"), why)
    return parse_version(run(host, [path, "version"], why=why).stdout)


def find_restore_tool(host: HostContext, etcdutl: str | None = None,
                      etcdctl: str | None = None) -> tuple[str, str, tuple[int, ...] | None]:
    """(name, path, version) of the tool that restores: a given etcdutl, else a given etcdctl, else etcdutl on PATH,
    else etcdctl on PATH. etcdctl 3.6+ cannot restore and is refused."""
    for name, path in etcd_tool_candidates(host, etcdutl, etcdctl):
        if not path:
            continue
        version = _tool_version(host, name, path)
        if name == "etcdctl" and version and version >= ETCDCTL_RESTORE_UNTIL:
            raise RestorePlanError(
                "etcdctl %s at %s cannot restore: etcd 3.6 removed `etcdctl snapshot restore`. Give etcdutl (option "
                "etcdutl) of the etcd version the cluster runs." % (version_text(version), path))
        return name, path, version
    raise RestorePlanError(
        "no restore tool on this host: neither etcdutl nor etcdctl is on PATH. Install etcdutl of the etcd version "
        "the cluster runs (3.5+; etcdctl for 3.4) and give its path (option etcdutl or etcdctl).")


# How to go on when the tool is too old for a flag.
FLAG_WAYS_OUT = {
    "bump_revision": (
        "either give a newer etcdutl (option etcdutl; inventory etcd_etcdutl), of the cluster's etcd version or "
        "newer within 3.5/3.6, or restore without the bump (role: restore_bump_revision=0, or restore_kubernetes="
        "false): the restored revision then goes back to the snapshot's, below revisions kube-apiserver and its "
        "clients have seen, so their watch caches may serve stale data until every kube-apiserver, controller and "
        "operator that watches is restarted"),
    "initial_memory_map_size": "or leave initial_memory_map_size unset (role: restore_initial_memory_map_size=0)",
}


def tool_problems(name: str, version: tuple[int, ...] | None, options: dict[str, Any]) -> list[str]:
    """Why this tool cannot make the requested restore (flags newer than it), and how to go on."""
    problems = []
    for option, since in FLAG_SINCE.items():
        if not options.get(option):
            continue
        oldest = since.get(name)
        if oldest is None:
            problems.append("%s needs etcdutl %s or newer; %s cannot do it: %s" % (
                FLAG_NAMES[option], version_text(since["etcdutl"]), name, FLAG_WAYS_OUT[option]))
        elif version is None or version < oldest:
            problems.append("%s needs %s %s or newer; this one is %s: %s" % (
                FLAG_NAMES[option], name, version_text(oldest), version_text(version), FLAG_WAYS_OUT[option]))
    return problems


def restore_command(path: str, snapshot: str, data_dir: str, options: dict[str, Any],
                    wal_dir: str | None = None) -> list[str]:
    """The exact argv that restores `snapshot` into `data_dir` for the member in `options`."""
    cmd = [path, "snapshot", "restore", snapshot,
           "--name", options["name"],
           "--initial-cluster", options["initial_cluster"],
           "--initial-cluster-token", options["initial_cluster_token"],
           "--initial-advertise-peer-urls", ",".join(options["initial_advertise_peer_urls"]),
           "--data-dir", data_dir]
    if wal_dir:
        cmd += ["--wal-dir", wal_dir]
    if options.get("skip_hash_check"):
        cmd.append("--skip-hash-check")
    if options.get("bump_revision"):
        cmd += ["--bump-revision", str(options["bump_revision"]), "--mark-compacted"]
    if options.get("initial_memory_map_size"):
        cmd += ["--initial-memory-map-size", str(options["initial_memory_map_size"])]
    return cmd


def parse_initial_cluster(text: str | None) -> dict[str, list[str]]:
    """{name: [peer urls]} from etcd's `name=url,name=url` form; RestorePlanError names a malformed entry."""
    members: dict[str, list[str]] = {}
    for entry in (text or "").split(","):
        name, sep, url = entry.strip().partition("=")
        if not sep or not name or not url:
            raise RestorePlanError("initial_cluster entry %r is not name=peer-url: give every member as "
                                   "name=https://host:2380, separated by commas." % entry)
        members.setdefault(name, []).append(url)
    return members


def member_problems(options: dict[str, Any]) -> list[str]:
    """Why this member's name and peer URLs do not fit the initial cluster."""
    members = parse_initial_cluster(options["initial_cluster"])
    name = options["name"]
    if name not in members:
        return ["member %s is not in initial_cluster (%s): name and initial_cluster must use the same member "
                "names" % (name, ", ".join(sorted(members)))]
    if sorted(members[name]) != sorted(options["initial_advertise_peer_urls"]):
        return ["member %s has peer URLs %s in initial_cluster but initial_advertise_peer_urls is %s: they must "
                "be the same" % (name, ", ".join(members[name]), ", ".join(options["initial_advertise_peer_urls"]))]
    owners: dict[str, list[str]] = {}
    for member, urls in members.items():
        for url in urls:
            owners.setdefault(url, []).append(member)
    shared = ["%s (%s)" % (url, ", ".join(names)) for url, names in owners.items() if len(names) > 1]
    if shared:
        return ["initial_cluster gives one peer URL to several members: %s" % "; ".join(shared)]
    return []


def expected_revisions(report: dict[str, Any], bump: int,
                       server_version: str | None) -> tuple[int | None, int | None, list[str]]:
    """(low, high, problems): the revision members restored from the snapshot `report` describes will report when
    they start, restored with `bump` for an etcd `server_version` (both ends when it is not known); a bump too small
    to raise the revision above the snapshot's is a problem."""
    if report["revision"] is None:
        return None, None, []
    low, high = restored_revision(report, bump, version_tuple(server_version))
    problems = []
    if bump and low <= report["revision"]:
        problems.append(
            "bump_revision %d is too small for this snapshot: the tool adds it to the newest revision left in the "
            "key bucket (%d), so the restored cluster would start at revision %d, not above the snapshot's %d; give "
            "at least %d (the usual 1000000000 is far above)" % (
                bump, report["last_key_revision"], low, report["revision"],
                report["revision"] - report["last_key_revision"] + 1))
    return low, high, problems
