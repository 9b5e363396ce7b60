# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore role's decisions across the hosts, on the controller: whether its options make sense (before any host
is touched), and, from every host's preflight (etcd_restore_phase phase=preflight), whether the restore may go on,
in which mode and to which revision, with every reason it may not. Each message says what is wrong and how to fix it;
the role adds "Nothing was stopped."."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._etcd.version import version_tuple
from ansible_collections.etcdops.dr.plugins.module_utils._restore.plan import expected_revisions, tool_problems

UNFINISHED = ("planned", "stopped", "staged", "swapped", "started")
MEMBER_VARS = ("etcd_member_name", "etcd_peer_url", "etcd_client_url")


def _from_store(snapshot_from: str) -> bool:
    return bool(re.match(r"[a-z0-9]+://", snapshot_from))


def option_problems(options: Mapping[str, Any], hosts: Sequence[str], hostvars: Mapping[str, Any],
                    forks: int, batch: Sequence[str]) -> list[str]:
    """What is wrong with the role's options and the inventory, before anything is done on any host."""
    problems = []
    snapshot, snapshot_from = options["restore_snapshot"], options["restore_snapshot_from"]
    from_store = _from_store(snapshot_from)
    if not snapshot:
        problems.append("restore_snapshot is empty: give the path of the snapshot to restore.")
    elif not os.path.isabs(snapshot) and not from_store:
        problems.append("restore_snapshot is %s, a relative path: give its absolute path." % snapshot)
    if from_store and "/" in snapshot:
        problems.append("restore_snapshot is %s: from a store give the file name there, or latest." % snapshot)
    if not os.path.isabs(options["restore_snapshot_dir"]):
        problems.append("restore_snapshot_dir is %s, a relative path: give an absolute one."
                        % options["restore_snapshot_dir"])
    if snapshot_from not in ["hosts", "controller"] + list(hosts) and not from_store:
        problems.append("restore_snapshot_from is %s: use hosts, controller, a host of this play or a store URL "
                        "(sftp://user@host[:port]/dir)." % snapshot_from)
    if str(options["restore_kubernetes"]).lower() not in ("auto", "true", "false"):
        problems.append("restore_kubernetes is %s: use auto, true or false." % options["restore_kubernetes"])
    if int(options["restore_bump_revision"]) < 0:
        problems.append("restore_bump_revision must be 0 or more.")
    group = options.get("restore_kube_apiserver_group") or ""
    if group and options.get("kube_apiserver_group_hosts") is None:
        problems.append("restore_kube_apiserver_group is %s, which is no group of the inventory: give the group of the "
                        "kube-apiserver hosts (see docs/hosts.md), or leave it empty when kube-apiserver runs on the "
                        "etcd hosts." % group)
    elif group and not options["kube_apiserver_group_hosts"]:
        problems.append("restore_kube_apiserver_group is %s, a group without hosts: give the group of the "
                        "kube-apiserver hosts (see docs/hosts.md), or leave it empty when kube-apiserver runs on the "
                        "etcd hosts." % group)
    if len(batch) != len(hosts):
        problems.append("this play runs in batches (serial): restore every member at once.")
    if int(forks) < len(hosts):
        problems.append("forks is %s, fewer than the %d members: a member that starts waits for quorum, so all must "
                        "start at once; run with --forks %d or more (ansible.cfg, or the AWX job template)."
                        % (forks, len(hosts), len(hosts)))
    members = {host: {name: hostvars[host][name] if name in hostvars[host] else "" for name in MEMBER_VARS}
               for host in hosts}
    problems += ["%s lacks etcd_member_name, etcd_peer_url or etcd_client_url: set them in the inventory (see "
                 "docs/hosts.md)." % host for host, member in members.items() if not all(member.values())]
    names = [member["etcd_member_name"] for member in members.values()]
    peers = [member["etcd_peer_url"] for member in members.values()]
    if len(set(names)) != len(names) or len(set(peers)) != len(peers):
        problems.append("member names (%s) and peer URLs (%s) must be unique across the hosts: fix etcd_member_name "
                        "and etcd_peer_url." % (", ".join(names), ", ".join(peers)))
    return problems


class Decision:
    """What the preflights of `hosts` add up to (see decide())."""

    def __init__(self, options: Mapping[str, Any], hosts: Sequence[str], preflights: Mapping[str, Any],
                 external: Mapping[str, Any] | None = None) -> None:
        self.options = options
        self.hosts = list(hosts)
        self.preflights = preflights
        # The check-mode kube_apiserver result of each kube-apiserver host outside `hosts`, by host.
        self.external = external or {}
        self.group = options.get("restore_kube_apiserver_group") or ""
        self.group_hosts = list(options.get("kube_apiserver_group_hosts") or []) if self.group else []
        # The etcd hosts whose kube-apiserver check found one (its manifest, program or unit).
        self.kube_found = [host for host in self.hosts
                           if (preflights[host].get("kube_apiserver_check") or {}).get("found")]
        self.kubernetes_reason = ""
        self.warnings: list[str] = []
        self.checks = {host: preflights[host].get("restore_check") or {} for host in hosts}
        self.members = {host: preflights[host]["member"] for host in hosts}
        self.cluster = preflights[hosts[0]].get("cluster") or dict(answered=False, msg="not read", members=[],
                                                                   endpoints=[])
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.checks_not_run: list[str] = []

    def decide(self) -> dict[str, Any]:
        self._cluster_members()
        self._restore_checks()
        first = self.checks[self.hosts[0]]
        snapshot = first.get("snapshot") or {}
        kubernetes = self._kubernetes(snapshot)
        bump = int(self.options["restore_bump_revision"]) if kubernetes else 0
        server_version = self._running_version() or first.get("server_version")
        expected: tuple[int | None, int | None] = (None, None)
        if snapshot.get("revision") is not None:
            low, high, bump_problems = expected_revisions(snapshot, bump, server_version)
            expected = (low, high)
            self.problems += [problem.replace("bump_revision", "restore_bump_revision", 1) for problem in bump_problems]
        for host in self.hosts:
            check = self.checks[host]
            if check.get("tool") and bump:
                self.problems += ["%s: %s" % (host, problem) for problem in tool_problems(
                    check["tool"], version_tuple(check.get("tool_version")), dict(bump_revision=bump))]
        self._same_cluster(snapshot)
        interrupted = self._interrupted()
        live_revision = self._live_revision(interrupted)
        if kubernetes and expected[0] is not None:
            if live_revision is None:
                self.checks_not_run.append("the bumped revision was not compared with the running cluster's: the "
                                           "cluster does not answer and no journal recorded its revision")
            elif expected[0] <= live_revision:
                self.problems.append(
                    "restore_bump_revision %d is too small: the running cluster is at revision %d, and the restored "
                    "cluster would start at %d, which kube-apiserver and its clients may have seen already (a restore "
                    "of an older snapshot, or of the same one again, after an earlier restore?). Give "
                    "restore_bump_revision at least %d." % (bump, live_revision, expected[0],
                                                            live_revision - expected[0] + bump + 1))
        self._services()
        kube_hosts, external = self._kube_apiserver_hosts(kubernetes, bump) if kubernetes else ([], [])
        return dict(
            ok=not self.problems, problems=self.problems, notes=self.notes, checks_not_run=self.checks_not_run,
            warnings=self.warnings, kubernetes=kubernetes, kubernetes_reason=self.kubernetes_reason,
            kube_apiserver_hosts=kube_hosts, kube_apiserver_external=external,
            bump=bump, snapshot=snapshot, sha256=snapshot.get("sha256"),
            server_version=server_version, expected_revision=expected[0], expected_revision_max=expected[1],
            live_revision=live_revision, interrupted=interrupted, leader=self._leader(),
            tool=first.get("tool"), tool_version=first.get("tool_version"),
            cluster_answered=bool(self.cluster.get("answered")))

    def _cluster_members(self) -> None:
        """The running cluster's members must be the play's hosts, names and peer URLs alike."""
        if not self.cluster.get("answered"):
            self.notes.append("the cluster does not answer (%s); the members' names and URLs are checked against "
                              "etcd's configuration on each host only." % self.cluster.get("msg"))
            return
        names = {member["name"] for member in self.members.values()}
        self.notes += ["%s is a learner of the running cluster now: the restore brings it back as a voting member, "
                       "as every member of the play." % member["name"] for member in self.cluster["members"]
                       if member.get("is_learner") and member["name"] in names]
        running = sorted("%s=%s" % (member["name"], ",".join(sorted(member["peer_urls"])))
                         for member in self.cluster["members"])
        inventory = sorted("%s=%s" % (member["name"], member["peer_url"]) for member in self.members.values())
        if self.options["restore_require_cluster_match"] and running and running != inventory:
            self.problems.append(
                "the inventory does not match the members of the running cluster: the cluster has %s; the play's hosts "
                "give %s. Restore the whole cluster, with each host's etcd_member_name and etcd_peer_url as the cluster "
                "has them (or set restore_require_cluster_match=false to rename members on purpose)."
                % (", ".join(running), ", ".join(inventory)))

    def _restore_checks(self) -> None:
        """Each host's own check of its copy; then the copies must be one file."""
        for host in self.hosts:
            problem = self.preflights[host]["problems"].get("restore_check")
            if problem:
                self.problems.append("%s: %s" % (host, re.sub(r" Nothing was changed\.$", "", problem).replace(
                    "(option sha256)", "(restore_sha256)")))
        sums = [(host, self.checks[host].get("sha256")) for host in self.hosts if self.checks[host].get("sha256")]
        if len({digest for dummy, digest in sums}) > 1:
            self.problems.append("the snapshot differs between the hosts: %s. Every member must be restored from the "
                                 "same file: copy the right one to every host." % ", ".join(
                                     "%s has sha256 %s" % pair for pair in sums))

    def _kubernetes(self, snapshot: Mapping[str, Any]) -> bool:
        """Kubernetes mode: restore_kubernetes when it is true or false; with auto, whether the snapshot holds keys
        under /registry/ (kube-apiserver's objects), wherever kube-apiserver runs. Where the keys were not counted,
        whether a kube-apiserver host is known (restore_kube_apiserver_group, or one found on the etcd hosts)."""
        mode = str(self.options["restore_kubernetes"]).lower()
        if mode != "auto":
            self.kubernetes_reason = "restore_kubernetes is %s" % mode
            return mode == "true"
        under = snapshot.get("kubernetes_key_count")
        if under is None:
            kubernetes = bool(self.group or self.kube_found)
            if snapshot:
                self.checks_not_run.append(
                    "the snapshot's keys were not read, so whether it is a Kubernetes cluster's (keys under /registry/) "
                    "is not known: Kubernetes mode is %s, as kube-apiserver hosts are %s; set restore_kubernetes to "
                    "decide it" % ("on" if kubernetes else "off", "known" if kubernetes else "not known"))
            self.kubernetes_reason = "kube-apiserver hosts are %s" % ("known" if kubernetes else "not known")
            return kubernetes
        if under:
            self.kubernetes_reason = "the snapshot holds %d keys under /registry/ (a Kubernetes cluster's)" % under
            return True
        self.kubernetes_reason = "the snapshot holds no key under /registry/"
        if self.group:
            self.problems.append(
                "restore_kube_apiserver_group is %s, but the snapshot holds no key under /registry/, where "
                "kube-apiserver keeps its objects: is this etcd theirs? Set restore_kubernetes=true if they keep "
                "their data in it under another --etcd-prefix (they are stopped and the revision bumped), or "
                "restore_kubernetes=false to restore without touching them." % self.group)
        elif self.kube_found:
            self.notes.append(
                "kube-apiserver is configured on %s, but the snapshot holds no key under /registry/: this etcd is not "
                "taken for kube-apiserver's - it is left running and the revision is not bumped (set "
                "restore_kubernetes=true if it keeps its data in this etcd under another --etcd-prefix)."
                % ", ".join(self.kube_found))
        return False

    def _kube_apiserver_hosts(self, kubernetes: bool, bump: int) -> tuple[list[str], list[str]]:
        """In Kubernetes mode, the hosts whose kube-apiserver is stopped before any etcd and started after the
        verify, and those of them outside the play's etcd hosts: restore_kube_apiserver_group's hosts, or where it is
        not set, the etcd hosts where kube-apiserver was found (stacked etcd). A kube-apiserver host that cannot be
        reached, or whose kube-apiserver cannot be found, is refused; none at all is a warning."""
        if self.group:
            for host in self.hosts:
                problem = self.preflights[host]["problems"].get("kube_apiserver_check")
                if host in self.group_hosts and problem:
                    self.problems.append("%s (in restore_kube_apiserver_group %s): %s; set restore_kube_apiserver_manager, "
                                         "_name or restore_kube_manifest_dir for it in the inventory."
                                         % (host, self.group, problem.rstrip(".")))
            left = [host for host in self.kube_found if host not in self.group_hosts]
            if left:
                self.notes.append("kube-apiserver on %s is not in restore_kube_apiserver_group %s: it is left running."
                                  % (", ".join(left), self.group))
            external = [host for host in self.group_hosts if host not in self.hosts]
            for host in external:
                self._external_check(host)
            return [host for host in self.hosts if host in self.group_hosts] + external, external
        for host in self.hosts:
            check = self.preflights[host].get("kube_apiserver_check") or {}
            problem = self.preflights[host]["problems"].get("kube_apiserver_check")
            if problem and check.get("found") is not False:
                self.problems.append("%s: %s" % (host, problem))
        missing = [host for host in self.hosts if host not in self.kube_found]
        if self.kube_found and missing:
            self.notes.append("kube-apiserver is stopped on %s only: none was found on %s." % (
                ", ".join(self.kube_found), ", ".join(missing)))
        if not self.kube_found:
            self.warnings.append(
                "WARNING: Kubernetes mode (%s), but no kube-apiserver host is known: none was found on the etcd hosts "
                "and restore_kube_apiserver_group is not set. A kube-apiserver that uses this etcd keeps running "
                "through the restore; the revision is still bumped by %d. With etcd apart from the kube-apiservers "
                "(external etcd), set restore_kube_apiserver_group to their group (docs/hosts.md)."
                % (self.kubernetes_reason, bump))
        return list(self.kube_found), []

    def _external_check(self, host: str) -> None:
        """A kube-apiserver host outside the etcd hosts, as its check-mode kube_apiserver run found it."""
        result = self.external.get(host)
        where = "%s (kube-apiserver host, in restore_kube_apiserver_group %s)" % (host, self.group)
        if not result:
            self.problems.append("%s was not checked: its preflight did not run; run the restore with its preflight."
                                 % where)
        elif result.get("unreachable"):
            self.problems.append("%s cannot be reached: %s. Make it reachable, or take it out of the group if it runs "
                                 "no kube-apiserver of this cluster." % (where, str(result.get("msg") or "").strip()))
        elif result.get("failed"):
            self.problems.append("%s: %s; set restore_kube_apiserver_manager, _name or restore_kube_manifest_dir for "
                                 "it in the inventory." % (where, str(result.get("msg") or "").strip().rstrip(".")))

    def _running_version(self) -> str | None:
        versions = sorted(entry["version"] for entry in self.cluster.get("endpoints", []) if entry.get("version"))
        return versions[0] if versions else None

    def _same_cluster(self, snapshot: Mapping[str, Any]) -> None:
        """A snapshot of another cluster would replace this cluster's data with that cluster's. A restore gives the
        cluster a new id, so an older snapshot of the same cluster may record an id the cluster no longer has: the
        members in the snapshot's own database decide too."""
        members = snapshot.get("members") or []
        if not snapshot:
            return
        if not members:
            self.checks_not_run.append("the snapshot was not checked to be of this cluster: its database lists no "
                                       "members")
            return
        cluster_id = (snapshot.get("manifest") or {}).get("cluster_id") or ""
        names = [member["name"] for member in self.members.values()]
        peers = [member["peer_url"] for member in self.members.values()]
        same = ((cluster_id and cluster_id == self.cluster.get("cluster_id"))
                or any(member["name"] in names for member in members)
                or any(url in peers for member in members for url in member["peer_urls"]))
        if same or self.options["restore_allow_foreign_snapshot"]:
            return
        self.problems.append(
            "the snapshot is of another cluster: its members are %s (cluster id %s), none of them a member of this "
            "inventory (%s%s). Restoring it would replace this cluster's data with that cluster's. If that is meant "
            "(a migration), set restore_allow_foreign_snapshot=true." % (
                ", ".join("%s at %s" % (member["name"], " ".join(member["peer_urls"])) for member in members),
                cluster_id or "not recorded",
                ", ".join("%s at %s" % pair for pair in zip(names, peers)),
                ", cluster id %s" % self.cluster["cluster_id"] if self.cluster.get("cluster_id") else ""))

    def _interrupted(self) -> list[tuple[str, dict[str, Any]]]:
        """(host, journal) of every member whose journal holds a restore that did not finish: this run takes it
        over (etcd_restore and the rollback read where the pre-restore data is from it)."""
        found = [(host, self.checks[host]["journal"]) for host in self.hosts
                 if (self.checks[host].get("journal") or {}).get("step") in UNFINISHED]
        if found:
            kept = [entry["kept_data_dir"] for dummy, entry in found if entry.get("kept_data_dir")]
            self.notes.append(
                "the members' journals record a restore that did not finish: %s (of %s), which reached %s. This run "
                "takes it over: each member's pre-restore data stays where that run kept it%s, and a restored copy it "
                "left is moved aside as <data_dir>.failed-restore-%s." % (
                    ", ".join(sorted({entry["run_id"] for dummy, entry in found})),
                    ", ".join(sorted({str(entry.get("snapshot")) for dummy, entry in found})),
                    ", ".join("%s: %s" % (host, entry["step"]) for host, entry in found),
                    " (%s)" % ", ".join(kept) if kept else "", self.options["run_id"]))
        return found

    def _live_revision(self, interrupted: list[tuple[str, dict[str, Any]]]) -> int | None:
        """The newest revision the cluster is known to have served. Kubernetes' watch caches and clients resume from
        revisions they have seen: the restored cluster must start above it. Over an interrupted restore, the revision
        that run recorded before its stop stands in: the cluster may be down, or running on that run's unverified
        restored data, which kube-apiserver (stopped before etcd, started only after the verify) never served."""
        recorded = [int(entry["live_revision"]) for dummy, entry in interrupted if entry.get("live_revision")]
        served = recorded or [int(entry["revision"]) for entry in self.cluster.get("endpoints", [])
                              if entry.get("revision")]
        return max(served) if served else None

    def _services(self) -> None:
        """etcd's manager known on every host, with what a start needs; every source of etcd's configuration names
        the member as the inventory does (a source that cannot be read is a check not run, never a pass)."""
        for host in self.hosts:
            preflight = self.preflights[host]
            problem = preflight["problems"].get("service_check")
            if problem and self.options.get("restore_new_hosts_pending"):
                self.checks_not_run.append("%s: etcd's manager not checked: %s - the rebuild puts its definition in "
                                           "place first (check mode: not yet)" % (host, problem))
            elif problem:
                self.problems.append("%s: %s" % (host, problem))
            self._member_config(host, preflight.get("service_check") or {})

    def _member_config(self, host: str, service: Mapping[str, Any]) -> None:
        member = self.members[host]
        wanted = dict(name=member["name"], initial_advertise_peer_urls=[member["peer_url"]],
                      data_dir=member["data_dir"])
        wrong = []
        for source in service.get("member_config") or []:
            self.notes.append("%s: etcd's configuration checked: %s" % (host, source["source"]))
            if any(source.get(field) not in (None, value) for field, value in wanted.items()):
                wrong.append("%s: %s says name %s, peer URLs %s, data dir %s; the inventory says %s, %s, %s." % (
                    host, source["source"], source.get("name") or "(not set)",
                    ",".join(source.get("initial_advertise_peer_urls") or ["(not set)"]),
                    source.get("data_dir") or "(not set)", member["name"], member["peer_url"], member["data_dir"]))
        if wrong and self.options.get("restore_new_hosts_pending"):
            self.checks_not_run.append("%s: etcd's configuration names the lost member still; the rebuild rewrites "
                                       "it for this host (check mode: not yet)" % host)
        elif wrong:
            self.problems += wrong
            self.problems.append("A restored member with another name or peer URL would not join its cluster, and a "
                                 "restore into another data dir is not what etcd starts: fix the inventory "
                                 "(etcd_member_name, etcd_peer_url, etcd_data_dir) or etcd's configuration.")
        if service.get("member_config_missing"):
            self.checks_not_run.append("%s: member configuration not checked: %s" % (
                host, service["member_config_missing"]))
        elif service:
            self.checks_not_run += ["%s: not checked: %s" % (host, unread)
                                    for unread in service.get("member_config_unread") or []]

    def _leader(self) -> str | None:
        """The host whose member leads, stopped last (a leader stopped while its peers stop waits for a leadership
        transfer that cannot finish); None when no leader is known (every member then stops at once)."""
        leader = (self.cluster.get("leader") or {}).get("id")
        endpoint = next((entry["endpoint"] for entry in self.cluster.get("endpoints", [])
                         if leader and entry.get("member_id") == leader), None)
        return next((host for host in self.hosts if endpoint and self.members[host]["client_url"] == endpoint), None)


def external_checks(hosts: Sequence[str], hostvars: Mapping[str, Any], registered: str) -> dict[str, Any]:
    """{kube-apiserver host: its check-mode kube_apiserver result} from the looped task each of `hosts` registered as
    `registered` (each delegated its share of the kube-apiserver hosts outside the play)."""
    found: dict[str, Any] = {}
    for host in hosts:
        loop = hostvars[host][registered] if registered in hostvars[host] else None
        for result in (loop or {}).get("results") or []:
            found[result[result.get("ansible_loop_var") or "item"]] = result
    return found


def decide(options: Mapping[str, Any], hosts: Sequence[str], hostvars: Mapping[str, Any],
           registered: str = "__restore_preflight",
           external_registered: str = "__restore_kube_apiserver_preflight") -> dict[str, Any]:
    """The decision from the preflight each host registered as `registered`, and the kube-apiserver hosts outside
    the play as checked in `external_registered`."""
    return Decision(options, hosts, {host: hostvars[host][registered] for host in hosts},
                    external_checks(hosts, hostvars, external_registered)).decide()
