# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether one member may be replaced, from the cluster as its other members see it: pure functions, unit-tested.

A replacement removes the old member and adds a new one in its place, as a learner first. Both changes need the
votes of a majority of the voting members, without the old one: a cluster that has lost quorum cannot change its
membership, and is recovered from a survivor's data instead (etcdops.dr.recover_quorum)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._etcd.version import version_tuple


def member_healthy(cluster: Mapping[str, Any], member: Mapping[str, Any]) -> bool:
    """Whether `member` answered through its endpoint, follows the cluster's leader and reports no error."""
    leader = (cluster.get("leader") or {}).get("id")
    return any(entry["reachable"] and entry["member_id"] == member["id"] and leader
               and entry["leader_id"] == leader and not entry["errors"] for entry in cluster.get("endpoints", []))


def split_members(cluster: Mapping[str, Any], name: str, peer_url: str,
                  journal: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[str]]:
    """(old, new, problems): the member to remove (named `name`, or holding `peer_url`, and not the one this
    replacement added), the one this replacement added already (its id in the journal), and what stands in the way."""
    members = cluster.get("members") or []
    added_id = (journal or {}).get("new_member_id")
    new = next((m for m in members if added_id and m["id"] == added_id), None)
    others = [m for m in members if not new or m["id"] != new["id"]]
    by_name = [m for m in others if m["name"] == name]
    by_peer = [m for m in others if peer_url in m["peer_urls"]]
    problems = []
    old = (by_name or by_peer or [None])[0]
    if by_name and by_peer and by_name[0]["id"] != by_peer[0]["id"]:
        problems.append("member %s (%s) is named %s, but another member, %s (%s), has its peer URL %s: fix "
                        "etcd_member_name or etcd_peer_url, or remove that member first." % (
                            by_name[0]["id"], ", ".join(by_name[0]["peer_urls"]), name, by_peer[0]["name"] or "unnamed",
                            by_peer[0]["id"], peer_url))
    return old, new, problems


def decide(cluster: Mapping[str, Any], name: str, peer_url: str, journal: Mapping[str, Any] | None,
           force: bool) -> dict[str, Any]:
    """The replacement's plan and every problem with it; `cluster` is cluster_info.read() through every member's
    endpoint (the old member's too: whether it still answers)."""
    problems: list[str] = []
    notes: list[str] = []
    if not cluster.get("answered"):
        return dict(ok=False, problems=[
            "the cluster does not answer through any member (%s): a member can be replaced only while the others "
            "keep quorum. If most members are lost, recover the cluster from a survivor's data with "
            "etcdops.dr.recover_quorum (docs/runbook.md)." % cluster.get("msg")], notes=notes, old=None, new=None)
    old, new, problems = split_members(cluster, name, peer_url, journal)
    members = cluster["members"]
    voting = [m for m in members if not m["is_learner"]]
    rest = [m for m in voting if (not old or m["id"] != old["id"]) and (not new or m["id"] != new["id"])]
    healthy_rest = [m for m in rest if member_healthy(cluster, m)]
    if len(healthy_rest) * 2 <= len(voting):
        problems.append(
            "without %s the cluster has no quorum: %d of its %d voting members answer and follow a leader (%s). "
            "Removing and adding a member needs a majority, so a replacement cannot help: recover the cluster from "
            "the surviving member's data with etcdops.dr.recover_quorum (docs/runbook.md)." % (
                name, len(healthy_rest), len(voting), ", ".join(m["name"] or m["id"] for m in healthy_rest) or "none"))
    else:
        sick = [m["name"] or m["id"] for m in rest if m not in healthy_rest]
        if sick and not force:
            problems.append("members %s are not healthy too: replace one member at a time, while the rest of the "
                            "cluster is healthy (etcdops.dr.health tells what is wrong). When more members are lost "
                            "than this one and the cluster keeps quorum without all of them (2 of 5), replace them one "
                            "by one with replace_force=true." % ", ".join(sick))
        elif sick:
            notes.append("members %s are not healthy either; the cluster keeps quorum without them "
                         "(replace_force)." % ", ".join(sick))
    alarms = cluster.get("alarms") or []
    if alarms:
        problems.append("alarms are raised (%s): clear them first (a NOSPACE cluster takes no membership change)."
                        % ", ".join("%s on %s" % (a["alarm"], a["member_id"]) for a in alarms))
    if old and not (journal and journal.get("old_member_id") == old["id"]) and member_healthy(cluster, old) and not force:
        problems.append("member %s (%s) is healthy: replacing it throws away a working member. If that is meant (a "
                        "member to move, or data known bad), give replace_force=true." % (name, old["id"]))
    foreign_learners = [m for m in members if m["is_learner"] and (not new or m["id"] != new["id"])
                        and (not old or m["id"] != old["id"])]
    if foreign_learners:
        problems.append("the cluster has a learner already (%s): etcd takes one learner at a time; promote or remove "
                        "it first." % ", ".join("%s %s" % (m["name"] or "unnamed", m["id"]) for m in foreign_learners))
    if not old and not new:
        notes.append("%s is not a member of the cluster (removed already, or a new member): nothing is removed, a new "
                     "member is added." % name)
    return dict(ok=not problems, problems=problems, notes=notes, old=old, new=new,
                voting=len(voting), cluster_id=cluster.get("cluster_id"),
                leader=(cluster.get("leader") or {}).get("id"))


def version_problem(cluster: Mapping[str, Any], local_version: str | None, what: str) -> tuple[str | None, str | None]:
    """(problem, not checked): the etcd that will run the new member must be of the cluster's minor version."""
    versions = sorted({entry["version"] for entry in cluster.get("endpoints", [])
                       if version_tuple(entry.get("version"))}, key=lambda text: version_tuple(text) or ())
    if not versions:
        return None, "the etcd version was not compared: no member reported its version"
    local = version_tuple(local_version)
    if not local:
        return None, "the etcd version of %s was not compared: it could not be read" % what
    if local[:2] != (version_tuple(versions[0]) or ())[:2]:
        return ("%s is etcd %s, and the cluster runs etcd %s: a member joins only a cluster of its own minor version; "
                "install etcd %s there (etcdops.dr.prepare) or point the member's manager at it." % (
                    what, local_version, ", ".join(versions), versions[0])), None
    return None, None


def initial_cluster(members: list[dict[str, Any]], name: str, peer_url: str, new_id: str) -> str:
    """etcd's --initial-cluster for the new member: every member by name and peer URL, the new one (no name yet)
    by `name`, sorted by name."""
    parts = []
    for member in members:
        member_name = name if member["id"] == new_id else member["name"]
        for url in member["peer_urls"]:
            parts.append((member_name, url))
    if not any(member["id"] == new_id for member in members):
        parts.append((name, peer_url))
    return ",".join("%s=%s" % part for part in sorted(parts))
