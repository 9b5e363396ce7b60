# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gather the state of an etcd cluster from each of its endpoints."""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.client import EtcdConnection, EtcdError, connect_all
from ansible_collections.etcdops.dr.plugins.module_utils._etcd import resources
from ansible_collections.etcdops.dr.plugins.module_utils._runner import ReadOnly

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = CONNECTION.merge(ArgumentSpec(dict(
    hash_kv=dict(type="bool", default=False),
    count_keys=dict(type="bool", default=False),
    count_keys_revision=dict(type="int", no_log=False),
    count_resources=dict(type="bool", default=False),
)))


def _endpoint_entry(url: str) -> dict[str, Any]:
    return dict(endpoint=url, reachable=False, cluster_id=None, member_id=None, name=None, version=None,
                db_size=None, db_size_in_use=None, leader_id=None, raft_index=None, raft_term=None,
                raft_applied_index=None, revision=None, is_learner=None, errors=[], hash_kv=None,
                key_count=None)


def gather(connections: Sequence[EtcdConnection], hash_kv: bool = False, count_keys: bool = False,
           count_keys_revision: int | None = None, count_resources: bool = False) -> dict[str, Any]:
    """Ask every endpoint for its status; members and alarms come from the first that answers.

    Raises EtcdError when no endpoint answers, with each endpoint's reason."""
    result: dict[str, Any] = dict(
        cluster_id=None, members=[], endpoints=[], leader=None, alarms=[], hash_kv_revision=None,
        hash_kv_consistent=None, key_count=None, key_count_revision=None, healthy=False, health_problems=[],
        quorum=False, missing_members=[], learners=[], resources=None, resources_revision=None)
    reachable: list[tuple[EtcdConnection, dict[str, Any]]] = []
    try:
        for conn in connections:
            entry = _endpoint_entry(conn.endpoint)
            result["endpoints"].append(entry)
            try:
                conn.open()
                status = conn.status()
                if not reachable:
                    result.update(members=conn.members(), alarms=conn.alarms(), cluster_id=status["cluster_id"])
                entry.update(status, reachable=True)
                reachable.append((conn, entry))
            except EtcdError as exc:
                entry["errors"].append(exc.msg)
        if not reachable:
            raise EtcdError("no etcd endpoint answered: " + " ".join(sorted({e["errors"][0] for e in result["endpoints"]})))
        names = {m["id"]: m["name"] for m in result["members"]}
        for dummy, entry in reachable:
            entry["name"] = names.get(entry["member_id"])
        leaders = Counter(entry["leader_id"] for dummy, entry in reachable)
        leader_id = leaders.most_common(1)[0][0]
        if leader_id:
            result["leader"] = dict(id=leader_id, name=names.get(leader_id))
        if hash_kv:
            _hash_kv(reachable, result)
        if count_keys:
            _count_keys(reachable, result, count_keys_revision)
        if count_resources:
            _count_resources(reachable, result)
    finally:
        for conn in connections:
            conn.close()
    result["health_problems"] = _problems(result, leaders)
    result["healthy"] = not result["health_problems"]
    _quorum(result)
    result["learners"] = learners(result)
    return result


def learners(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each learner with its progress: the raft index it has applied, the leader's, and how far it is behind (None
    where either did not answer). A learner can be promoted only once it has caught up with the leader."""
    reachable = {e["member_id"]: e for e in result["endpoints"] if e["reachable"]}
    leader = reachable.get((result["leader"] or {}).get("id"))
    found = []
    for member in result["members"]:
        if not member["is_learner"]:
            continue
        entry = reachable.get(member["id"])
        applied = entry["raft_applied_index"] if entry else None
        leader_applied = leader["raft_applied_index"] if leader else None
        found.append(dict(id=member["id"], name=member["name"], peer_urls=member["peer_urls"], reachable=bool(entry),
                          applied_index=applied, leader_applied_index=leader_applied,
                          # The members are read one after the other: a learner read later may be ahead.
                          behind=max(0, leader_applied - applied) if applied is not None
                          and leader_applied is not None else None))
    return found


def _quorum(result: dict[str, Any]) -> None:
    """quorum: a leader that more than half of the voting members follow, as the reachable endpoints tell (a cluster
    that runs without some members; learners do not vote); missing_members: the members whose endpoint did not
    answer."""
    leader = (result["leader"] or {}).get("id")
    answering = {e["member_id"] for e in result["endpoints"] if e["reachable"] and e["leader_id"] == leader}
    result["missing_members"] = sorted(m["name"] or m["id"] for m in result["members"] if m["id"] not in answering)
    voting = [m["id"] for m in result["members"] if not m.get("is_learner")]
    result["quorum"] = bool(leader) and len(answering.intersection(voting)) * 2 > len(voting)


def _each_member(reachable: list[tuple[EtcdConnection, dict[str, Any]]], ask: Callable[[EtcdConnection], Any],
                 field: str) -> None:
    """entry[field] = ask(connection) for every reachable member, the members asked at once (each computes its own
    answer: a KV hash or a key count of a large database takes the member a while); a member's error goes into its
    entry's errors."""
    def one(pair: tuple[EtcdConnection, dict[str, Any]]) -> None:
        conn, entry = pair
        try:
            entry[field] = ask(conn)
        except EtcdError as exc:
            entry["errors"].append(exc.msg)

    with ThreadPoolExecutor(max_workers=max(1, len(reachable))) as pool:
        list(pool.map(one, reachable))


def _hash_kv(reachable: list[tuple[EtcdConnection, dict[str, Any]]], result: dict[str, Any]) -> None:
    # HashKV at 0 means "latest", which differs per member while writes land: compare at the
    # newest revision that every reachable member has.
    revision = min(entry["revision"] for dummy, entry in reachable)
    result["hash_kv_revision"] = revision
    _each_member(reachable, lambda conn: conn.hash_kv(revision), "hash_kv")
    hashes = {entry["hash_kv"]["hash"] for dummy, entry in reachable if entry["hash_kv"]}
    result["hash_kv_consistent"] = len(hashes) == 1 and all(e["hash_kv"] for dummy, e in reachable)


def _count_keys(reachable: list[tuple[EtcdConnection, dict[str, Any]]], result: dict[str, Any],
                at_most: int | None = None) -> None:
    # Like the hashes, the counts are taken at the newest revision every reachable member has (or below).
    revision = min(entry["revision"] for dummy, entry in reachable)
    if at_most is not None:
        revision = min(revision, at_most)
    result["key_count_revision"] = revision
    _each_member(reachable, lambda conn: conn.count_keys(revision), "key_count")
    counts = {entry["key_count"] for dummy, entry in reachable if entry["key_count"] is not None}
    if len(counts) == 1:
        result["key_count"] = counts.pop()
    elif counts:
        result["key_count_problem"] = "members hold different numbers of keys at revision %s: %s" % (
            revision, ", ".join("%s %s" % (e["name"], e["key_count"]) for dummy, e in reachable))


def _count_resources(reachable: list[tuple[EtcdConnection, dict[str, Any]]], result: dict[str, Any]) -> None:
    # From the first member that answers, at the newest revision every reachable member has.
    revision = min(entry["revision"] for dummy, entry in reachable)
    for conn, entry in reachable:
        try:
            result["resources"] = resources.count_resources(resources.registry_keys(conn, revision))
            result["resources_revision"] = revision
            return
        except EtcdError as exc:
            entry["errors"].append(exc.msg)


def _problems(result: dict[str, Any], leaders: Counter[str | None]) -> list[str]:
    problems = ["%s is unreachable: %s" % (e["endpoint"], e["errors"][0]) for e in result["endpoints"]
                if not e["reachable"]]
    clusters = sorted({e["cluster_id"] for e in result["endpoints"] if e["reachable"]})
    if len(clusters) > 1:
        problems.append("the endpoints belong to different clusters: %s" % ", ".join(clusters))
    if not result["leader"]:
        problems.append("no member reports a leader")
    elif len(leaders) > 1:
        problems.append("members disagree about the leader: %s" % ", ".join(sorted(str(k) for k in leaders)))
    problems += ["alarm %s raised on member %s" % (a["alarm"], a["member_id"]) for a in result["alarms"]]
    problems += ["%s reports: %s" % (e["endpoint"], err) for e in result["endpoints"] if e["reachable"]
                 for err in e["errors"]]
    if "key_count_problem" in result:
        problems.append(result.pop("key_count_problem"))
    if result["hash_kv_consistent"] is False:
        problems.append("members' KV hashes differ at revision %s" % result["hash_kv_revision"])
    return problems


def read(params: dict[str, Any], **asked: Any) -> dict[str, Any]:
    """The cluster as gather() reads it through the connection options in `params`, with `answered` true; when no
    member answers (or the client cannot be used), the same shape with `answered` false, `msg` saying why, nothing
    healthy and every member missing - for callers that report a cluster that is down rather than fail."""
    try:
        return dict(gather(connect_all(dict(params)), **asked), answered=True)
    except EtcdError as exc:
        return dict(answered=False, msg=exc.msg, cluster_id=None, members=[], endpoints=[], leader=None, alarms=[],
                    healthy=False, health_problems=[exc.msg], quorum=False, missing_members=[], learners=[],
                    hash_kv_consistent=None, key_count=None, key_count_revision=None)


class ClusterInfo(ReadOnly):
    """The cluster as every endpoint sees it, as the etcd_cluster_info module returns it: asked in plan()."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.result: dict[str, Any] = dict(changed=False)

    def plan(self) -> None:
        """Raises EtcdError when no endpoint answers or the client cannot be loaded."""
        params = self.params
        connections = connect_all(params)
        info = gather(connections, hash_kv=params["hash_kv"], count_keys=params["count_keys"],
                      count_keys_revision=params["count_keys_revision"], count_resources=params["count_resources"])
        self.result.update(client_library=connections[0].library_name, **info)
        self.message = "cluster %s: %d members, leader %s, %s" % (
            info["cluster_id"], len(info["members"]), (info["leader"] or {}).get("name"),
            "healthy" if info["healthy"] else "unhealthy: " + "; ".join(info["health_problems"]))

    def failed(self, exc: Exception) -> str:
        # A failure returns its message alone.
        self.result.clear()
        return getattr(exc, "msg", None) or str(exc)
