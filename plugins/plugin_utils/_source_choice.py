# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which member an online backup is taken from, and whether the cluster is fit for one."""
from __future__ import annotations

from collections.abc import Container
from typing import Any


def cluster_problems(cluster: dict[str, Any]) -> list[str]:
    """What makes a cluster unfit for a backup. Unreachable members are not among them: a backup is
    most needed when a member is down, and a leader means a quorum agrees on the data."""
    problems = []
    reachable = [e for e in cluster.get("endpoints", []) if e.get("reachable")]
    if not reachable:
        problems.append("no member answered")
    clusters = sorted({e["cluster_id"] for e in reachable})
    if len(clusters) > 1:
        problems.append("the endpoints belong to different clusters: %s" % ", ".join(clusters))
    leaders = sorted({str(e.get("leader_id")) for e in reachable})
    if not cluster.get("leader"):
        problems.append("no member reports a leader (no quorum?)")
    elif len(leaders) > 1:
        problems.append("members disagree about the leader: %s" % ", ".join(leaders))
    problems += ["alarm %s is raised on member %s" % (a["alarm"], a["member_id"]) for a in cluster.get("alarms", [])]
    return problems


def _newest_index(cluster: dict[str, Any]) -> int:
    leader_id = (cluster.get("leader") or {}).get("id")
    reachable = [e for e in cluster.get("endpoints", []) if e.get("reachable")]
    for entry in reachable:
        if entry["member_id"] == leader_id:
            return entry["raft_index"]
    return max([e["raft_index"] for e in reachable] or [0])


def _unfit(entry: dict[str, Any] | None, cluster: dict[str, Any], newest_index: int, max_raft_lag: int) -> str | None:
    """Why the member behind one endpoint cannot be the source, or None."""
    if entry is None:
        return "its client URL is not among the endpoints asked"
    if not entry.get("reachable"):
        return "it did not answer: %s" % "; ".join(entry.get("errors") or ["unknown error"])
    if entry["cluster_id"] != cluster.get("cluster_id"):
        return "it belongs to cluster %s, not %s" % (entry["cluster_id"], cluster.get("cluster_id"))
    if entry.get("is_learner"):
        return "it is a learner, which may not hold all the data yet"
    if entry.get("errors"):
        return "it reports errors: %s" % "; ".join(entry["errors"])
    applied = entry.get("raft_applied_index") or entry["raft_index"]
    if newest_index - applied > max_raft_lag:
        return "it is %d raft entries behind the leader (more than %d)" % (newest_index - applied, max_raft_lag)
    return None


def choose_source(cluster: dict[str, Any], host_urls: dict[str, str], source: str = "", prefer_follower: bool = True,
                  max_raft_lag: int = 1000, require_healthy: bool = True,
                  unreachable: Container[str] = ()) -> dict[str, Any]:
    """Pick the inventory host whose member is snapshotted.

    host_urls: {inventory host: its member's client URL}, in play order; hosts in `unreachable` (no SSH) cannot
    run the snapshot, whatever their member's state. Returns a dict with ok, host, endpoint,
    member_id, member_name, is_leader, why (the reason for the choice), skipped (each host passed over and why),
    problems (why there is no source) and cluster_unfit (the problems are the cluster's), so a role can assert on it
    with a clear message."""
    choice: dict[str, Any] = dict(ok=False, host=None, endpoint=None, member_id=None, member_name=None,
                                  is_leader=None, why=None, skipped=[], problems=[], cluster_unfit=False)
    if require_healthy:
        choice["problems"] = cluster_problems(cluster)
        if choice["problems"]:
            choice["cluster_unfit"] = True
            return choice
    leader_id = (cluster.get("leader") or {}).get("id")
    entries = {e["endpoint"]: e for e in cluster.get("endpoints", [])}
    newest_index = _newest_index(cluster)
    fit = []
    for host, url in host_urls.items():
        why_not: str | None
        if host in unreachable:
            why_not = "its host is not reachable over SSH"
        else:
            why_not = _unfit(entries.get(url), cluster, newest_index, max_raft_lag)
        if host == source and why_not:
            choice["problems"].append("backup_source %s (%s) cannot be the source: %s; choose another host or leave "
                                      "backup_source empty to choose one" % (host, url, why_not))
            return choice
        if why_not:
            choice["skipped"].append("%s (%s): %s" % (host, url, why_not))
        else:
            fit.append((host, entries[url]))
    if source:
        if source not in host_urls:
            choice["problems"].append("backup_source %s is not a host of this play (%s): set it to one of them, or "
                                      "leave it empty" % (source, ", ".join(host_urls)))
            return choice
        host, entry = [item for item in fit if item[0] == source][0]
        why = "backup_source names it"
    elif not fit:
        choice["problems"].append("no member can be the source: %s" % "; ".join(choice["skipped"] or ["no hosts"]))
        return choice
    else:
        followers = [item for item in fit if item[1]["member_id"] != leader_id]
        if prefer_follower and followers:
            (host, entry), why = followers[0], "the first up-to-date follower, sparing the leader"
        elif prefer_follower:
            (host, entry), why = fit[0], "no follower can be the source, so the leader is"
        else:
            (host, entry), why = fit[0], "the first member that can be the source"
    choice.update(ok=True, host=host, endpoint=entry["endpoint"], member_id=entry["member_id"],
                  member_name=entry.get("name"), is_leader=entry["member_id"] == leader_id, why=why)
    return choice
