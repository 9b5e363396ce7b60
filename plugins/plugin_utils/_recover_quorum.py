# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recover_quorum role's decision, on the controller: from every member's data dir as etcd_data_dir_info read it,
and the cluster as etcd_cluster_info found it, which member's data the cluster is rebuilt from - the one that got
furthest (highest consistent index, then revision) - or why it may not be."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


# Why a cluster that lost quorum does not answer; any other reason (TLS, authentication, a missing client library, a
# wrong option) means its quorum could not be checked at all.
NO_ANSWER = ("connection refused", "no TCP connection within dial_timeout", "context deadline exceeded",
             "DEADLINE_EXCEEDED", "unreachable", "sees no leader")
NOT_CHECKED = ("certificate", "TLS", "authentication", "rejected user", "permission", "refused the request",
               "cacert", "required Python library", "not usable", "is not a valid URL", "must start with",
               "does not exist on this host", "not readable")


def quorum_unknown(cluster: Mapping[str, Any]) -> str | None:
    """Why the cluster's quorum could not be checked, or None: it answered, or none of its members did for a reason
    a cluster without quorum gives."""
    if cluster.get("quorum") is not None or not cluster.get("msg"):
        return None
    msg = str(cluster["msg"])
    if msg.startswith("no etcd endpoint answered") and any(reason in msg for reason in NO_ANSWER) \
            and not any(reason in msg for reason in NOT_CHECKED):
        return None
    return msg


def _progress(info: Mapping[str, Any]) -> tuple[int, int, int]:
    return (info.get("consistent_index") or 0, info.get("revision") or 0, info.get("term") or 0)


def choose(hosts: Sequence[str], data: Mapping[str, Mapping[str, Any]], cluster: Mapping[str, Any],
           source: str = "", force: bool = False) -> dict[str, Any]:
    """`data`: each host's etcd_data_dir_info result; `cluster`: etcd_cluster_info's (failed when nothing answers)."""
    problems: list[str] = []
    notes: list[str] = []
    unknown = quorum_unknown(cluster)
    if unknown and not force:
        problems.append("whether the cluster still has quorum could not be checked (%s): fix the connection options "
                        "(etcd_cacert, etcd_cert, etcd_key...) so that a working cluster is never rebuilt, or give "
                        "recover_quorum_force=true." % unknown)
    if cluster.get("quorum") and not force:
        problems.append(
            "the cluster has quorum (%s answer and follow leader %s): recovering it from one member's data stops a "
            "working cluster. Replace the lost members one at a time with etcdops.dr.replace_member; if this is "
            "meant, give recover_quorum_force=true." % (
                ", ".join(e["name"] or e["endpoint"] for e in cluster.get("endpoints", []) if e.get("reachable")),
                (cluster.get("leader") or {}).get("name")))
    readable = [host for host in hosts if data[host].get("readable")]
    for host in hosts:
        if not data[host].get("readable"):
            notes.append("%s: its data is not used: %s." % (host, data[host].get("error") or data[host].get("msg")))
    if not readable:
        problems.append("no member's data dir holds a readable etcd database (%s): there is nothing newer than the "
                        "backups to recover. Restore the newest backup with etcdops.dr.restore." % "; ".join(
                            "%s: %s" % (host, data[host].get("error") or data[host].get("msg")) for host in hosts))
        return dict(ok=False, problems=problems, notes=notes, source=None, consistent_index=None, revision=None,
                    newest_backup=None, revisions_beyond_backup=None, candidates={})
    furthest = max(readable, key=lambda host: (_progress(data[host]), -hosts.index(host)))
    chosen: str | None = furthest
    if source:
        if source not in readable:
            problems.append("recover_quorum_source %s has no readable database: choose one of %s." % (
                source, ", ".join(readable)))
            chosen = None
        else:
            chosen = source
            if _progress(data[source]) < _progress(data[furthest]):
                notes.append("%s was chosen, though %s got further (consistent index %s, revision %s): the entries in "
                             "between are lost." % (source, furthest, data[furthest].get("consistent_index"),
                                                    data[furthest].get("revision")))
    backups = [data[host]["newest_backup"] for host in hosts if data[host].get("newest_backup")]
    newest = max(backups, key=lambda entry: (entry["revision"], entry.get("created") or "")) if backups else None
    revision = data[chosen]["revision"] if chosen else None
    if newest and revision is not None and revision < newest["revision"] and not force:
        problems.append("the newest backup (%s, revision %s) is newer than %s's data (revision %s): the member was "
                        "behind when the cluster was lost. Restore that backup with etcdops.dr.restore instead, or "
                        "give recover_quorum_force=true to keep this member's data." % (
                            newest["path"], newest["revision"], chosen, revision))
    return dict(ok=not problems, problems=problems, notes=notes, source=chosen,
                consistent_index=data[chosen]["consistent_index"] if chosen else None, revision=revision,
                newest_backup=newest,
                revisions_beyond_backup=revision - newest["revision"] if newest and revision is not None else None,
                candidates={host: dict(consistent_index=data[host].get("consistent_index"),
                                       revision=data[host].get("revision"), term=data[host].get("term"))
                            for host in readable})
