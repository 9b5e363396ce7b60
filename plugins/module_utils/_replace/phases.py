# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replacement of one member in phases, one module run each (etcd_member_replace) on the replaced member's host,
in etcd's documented order (runtime reconfiguration: remove the old member, add the new one, start it with
initial-cluster-state=existing):

    preflight  every check, changing nothing: the cluster through its other members (quorum without this one, healthy,
               no alarm, no other learner), whether the old member still works, this host's etcd manager and
               configuration, the new member's TLS files, the etcd version, free disk; the configuration edits.
    remove     the plan recorded in the journal, etcd stopped here, the old member removed by id, its data dir kept
               aside under <data_dir>.pre-replace-<run id> (for a data dir that is a mount point, its member dir under
               <data_dir>/member.pre-replace-<run id>, inside the mount)
    add        the new member added as a learner, its configuration changed where it lives (the previous kept)
    start      etcd started here, running with its peer port open
    promote    the learner promoted once the leader counts it in sync (etcd refuses before), the cluster verified
    undo       an unpromoted learner removed again, the previous configuration put back, etcd stopped here

Every step reads the cluster and the journal first, so a run that died is resumed by running the replacement again:
what is done already is not done twice."""
from __future__ import annotations

import difflib
import os
import re
import time
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION, MEMBER_SERVICE, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd import cluster_info
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.client import EtcdError, connect_all
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member, member_config_edit
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import nearest_existing_dir
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import run
from ansible_collections.etcdops.dr.plugins.module_utils._replace import decide as _decide
from ansible_collections.etcdops.dr.plugins.module_utils._replace import journal
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import (
    free_name, is_mount_point, swap_path)
from ansible_collections.etcdops.dr.plugins.module_utils._restore.phases import StepFailed, connection, service_params
from ansible_collections.etcdops.dr.plugins.module_utils._runner import Runner
from ansible_collections.etcdops.dr.plugins.module_utils._service import member as member_service
from ansible_collections.etcdops.dr.plugins.module_utils._service.waits import wait_started

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

PHASES = ("preflight", "remove", "add", "start", "promote", "undo")
KEPT_INFIX = ".pre-replace-"
FAILED_INFIX = ".failed-replace-"
CONFIG_INFIX = ".replace-config-"
# etcd preallocates a 64 MiB WAL segment; the learner receives the leader's whole database.
WAL_SEGMENT = 64 * 1024 * 1024

ARGUMENT_SPEC = CONNECTION.merge(MEMBER_SERVICE).merge(ArgumentSpec(dict(
    phase=dict(type="str", required=True, choices=list(PHASES)),
    run_id=dict(type="str", required=True),
    name=dict(type="str", required=True),
    peer_url=dict(type="str", required=True),
    client_url=dict(type="str", required=True),
    data_dir=dict(type="path", required=True),
    wal_dir=dict(type="path"),
    force=dict(type="bool", default=False),
    timeout=dict(type="float", default=120),
    catchup_timeout=dict(type="float", default=300),
    health_retries=dict(type="int", default=60),
    health_delay=dict(type="float", default=2),
)))


class PeerListening:
    """A wait_started() probe: something listens on the member's peer address."""

    def __init__(self, peer_url: str) -> None:
        self.addresses = [local_member.url_address(peer_url)]
        self.last_error: str | None = None

    def __call__(self, time_left: float) -> bool:
        if local_member.listeners_on(self.addresses):
            return True
        self.last_error = "nothing listens on %s:%s yet" % self.addresses[0]
        return False


def _member_ids(members: list[dict[str, Any]]) -> set[str]:
    return {member["id"] for member in members}


class _Cluster:
    """Membership changes through the first other member that answers."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def call(self, action: Any, change: bool = False) -> Any:
        """action(connection) through the first other member that takes it. A membership change (`change`) goes to
        the next member only when the connection failed: a change whose answer was lost (a timeout) may have been
        applied, and sent again it would remove or add a second time."""
        errors = []
        others = [url for url in self.params["endpoints"] if url != self.params["client_url"]]
        retry = (None, "UNAVAILABLE") if change else (None, "UNAVAILABLE", "DEADLINE_EXCEEDED")
        for connection in connect_all(dict(self.params, endpoints=others or self.params["endpoints"])):
            opened = False
            try:
                connection.open()
                opened = True
                return action(connection)
            except EtcdError as exc:
                if exc.code not in retry or (change and opened and exc.code is None):
                    raise
                errors.append(exc.msg)
            finally:
                connection.close()
        raise EtcdOpsError("no other member answered: %s" % " ".join(errors))

    def members(self) -> list[dict[str, Any]]:
        return self.call(lambda connection: connection.members())

    def change(self, action: Any) -> Any:
        return self.call(action, change=True)


class Replace:
    """One phase; `result` is what the module returns, with the journal as it is at the end."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.phase = params["phase"]
        self.entry: dict[str, Any] | None = None
        self.said: list[str] = []
        self.would_do: list[str] = []
        self.edits: list[member_config_edit.Edit] = []
        self.service: member_service.MemberService | None = None
        self.result: dict[str, Any] = dict(changed=False, phase=self.phase, failed_step=None, journal=None,
                                           problems=[], notes=[], checks_not_run=[], config_changes=[],
                                           config_diff="")

    # ---- the Runner protocol --------------------------------------------------------------------------------------

    def plan(self) -> None:
        self.entry = self._step("journal_read", lambda: journal.read(self.params["data_dir"]))
        if self.entry and self.entry.get("member") not in (None, self.params["name"]):
            raise StepFailed("journal_read", "the replacement journal %s is of member %s, not %s: look at it, then "
                             "move it away" % (journal.path_of(self.params["data_dir"]), self.entry["member"],
                                               self.params["name"]))
        self.result["journal"] = self.entry
        if self.phase == "preflight":
            self._preflight()
        elif self.phase == "undo":
            self.would_do = ["undo the unfinished replacement"] if journal.unfinished(self.entry) else []
        else:
            if not journal.unfinished(self.entry) and self.phase != "remove":
                raise StepFailed("journal_read", "no unfinished replacement of %s is recorded in %s: run the whole "
                                 "replacement (etcdops.dr.replace_member)" % (
                                     self.params["name"], journal.path_of(self.params["data_dir"])))
            self.would_do = [self.phase]
        self.result["changed"] = bool(self.would_do) and self.phase != "preflight"

    def would(self) -> str:
        return "%s (check mode): %s" % (self.phase, "; ".join(self.would_do) or "nothing to do")

    def apply(self) -> None:
        if self.phase != "preflight":
            getattr(self, "_" + self.phase)()

    def done(self) -> str:
        return "%s: %s" % (self.phase, "; ".join(self.said) or "nothing to do")

    def failed(self, exc: Exception) -> str:
        step = getattr(exc, "step", None) or self.phase
        self.result["failed_step"] = step
        msg = getattr(exc, "msg", None) or str(exc)
        if journal.unfinished(self.entry) and self.phase != "preflight":
            try:
                self.entry = journal.record(self.params["data_dir"], self.entry or {}, self.entry["step"],  # type: ignore[index]
                                            failure=dict(step=step, msg=msg))
            except journal.JournalError:
                pass
        self.result["journal"] = self.entry
        return msg

    # ---- helpers --------------------------------------------------------------------------------------------------

    def _step(self, step: str, action: Any) -> Any:
        try:
            return action()
        except StepFailed:
            raise
        except (EtcdOpsError, OSError) as exc:
            raise StepFailed(step, "%s: %s" % (step.replace("_", " "), getattr(exc, "msg", None) or exc)) from None

    def _record(self, step: str, **fields: Any) -> None:
        self.entry = journal.record(self.params["data_dir"], self.entry or {}, step, **fields)
        self.result["journal"] = self.entry
        self.result["changed"] = True

    def _service(self, state: str) -> member_service.MemberService:
        service = member_service.MemberService(service_params(self.params, state), self.host)
        service.plan()
        return service

    def _control(self, state: str, service: member_service.MemberService | None = None) -> None:
        """etcd brought to `state` here, with the stop or start planned already (`service`) or planned now."""
        step = "etcd_stop" if state == "stopped" else "etcd_start"
        if service is None:
            service = self._step(step, lambda: self._service(state))
        self._step(step, service.apply)
        self.said.append(service.done())

    def _initial_cluster(self, members: list[dict[str, Any]], new_id: str | None) -> str:
        return _decide.initial_cluster(members, self.params["name"], self.params["peer_url"], new_id or "")

    def _edit_values(self, initial: str) -> dict[str, str]:
        return {"initial-cluster-state": "existing", "initial-cluster": initial}

    # ---- preflight ------------------------------------------------------------------------------------------------

    def _preflight(self) -> None:
        params = self.params
        problems: list[str] = []
        not_run: list[str] = []
        resume = self.entry if journal.unfinished(self.entry) else None
        cluster = cluster_info.read(connection(params))
        decision = _decide.decide(cluster, params["name"], params["peer_url"], resume, params["force"])
        problems += decision["problems"]
        self.result.update(cluster=dict((k, cluster.get(k)) for k in (
            "cluster_id", "members", "leader", "healthy", "health_problems", "quorum", "learners")),
            old_member=decision["old"], new_member=decision["new"], resume=bool(resume))
        self.result["notes"] += decision["notes"]
        try:
            self.service = member_service.MemberService(service_params(params, "started"), self.host.checking())
            self.service.plan()
        except (EtcdOpsError, OSError) as exc:
            problems.append("etcd's manager: %s" % (getattr(exc, "msg", None) or exc))
        definitions = []
        if self.service is not None and self.service.backend is not None:
            sources = self.service.result["member_config"]
            definitions = [source for source in sources if source["kind"] != "process"]
            problems += self._config_problems(definitions)
            not_run += ["member configuration not read: %s" % unread
                        for unread in self.service.result["member_config_unread"]]
            if not definitions:
                problems.append("etcd's configuration on this host could not be read (%s), so it cannot be changed "
                                "to join the cluster: set etcd_config_file, or fix what is named." % (
                                    self.service.result["member_config_missing"] or "; ".join(
                                        self.service.result["member_config_unread"])))
        if decision["ok"] and self.service is not None and self.service.backend is not None and definitions:
            members = [m for m in cluster["members"] if not decision["old"] or m["id"] != decision["old"]["id"]]
            initial = self._initial_cluster(members, (decision["new"] or {}).get("id"))
            try:
                self.edits = member_config_edit.plan(self.host, self.service.backend, params["config_file"],
                                                     self._edit_values(initial))
                self.result["config_changes"] = [edit.describe() for edit in self.edits]
                self.result["config_diff"] = "".join("".join(difflib.unified_diff(
                    edit.before.splitlines(True), edit.after.splitlines(True), edit.path + " (now)",
                    edit.path + " (replaced)")) for edit in self.edits if edit.changed)
            except (EtcdOpsError, OSError) as exc:
                problems.append("the member's configuration cannot be changed here: %s" % (
                    getattr(exc, "msg", None) or exc))
        for source in definitions[:1]:
            for flag, path in sorted((source.get("tls_files") or {}).items()):
                if not os.path.isfile(path):
                    problems.append("the new member's TLS file %s (--%s, from %s) does not exist on this host: issue "
                                    "its certificates first." % (path, flag, source["source"]))
            problem, skipped = _decide.version_problem(cluster, self._local_version(source), "the etcd of %s"
                                                       % source["source"])
            problems += [problem] if problem else []
            not_run += [skipped] if skipped else []
        problems += self._disk_problems(cluster)
        if resume:
            self.result["notes"].append("an unfinished replacement (%s) reached step %s: this run takes it over."
                                        % (resume["run_id"], resume["step"]))
        self.result.update(problems=problems, checks_not_run=not_run)
        self.would_do = self._plan_steps(decision, resume)
        self.result["steps"] = self.would_do
        if problems:
            raise StepFailed("preflight", "%s cannot be replaced: %s Nothing was changed." % (
                params["name"], " ".join(problems)))

    def _plan_steps(self, decision: dict[str, Any], resume: dict[str, Any] | None) -> list[str]:
        old, new = decision["old"], decision["new"]
        steps = ["stop etcd here"]
        steps.append("remove member %s (%s)" % (old["name"] or "unnamed", old["id"]) if old
                     else "remove nothing (no old member in the cluster)")
        if not journal.reached(resume, "kept") and os.path.lexists(self._data_swap()):
            steps.append("keep %s aside as %s%s%s" % (self._data_swap(), self._data_swap(), KEPT_INFIX,
                                                      self.params["run_id"]))
        steps.append("add %s at %s as a learner" % (self.params["name"], self.params["peer_url"]) if not new
                     else "keep the added member %s" % new["id"])
        changed = [edit.path for edit in self.edits if edit.changed]
        steps.append("change %s (initial-cluster-state=existing, initial-cluster)" % ", ".join(changed) if changed
                     else "leave etcd's configuration as it is (it is right already)")
        steps += ["start etcd here", "promote the learner once the leader counts it in sync, verify the cluster"]
        return steps

    def _config_problems(self, definitions: list[dict[str, Any]]) -> list[str]:
        params = self.params
        wanted = dict(name=params["name"], initial_advertise_peer_urls=[params["peer_url"]],
                      data_dir=params["data_dir"], wal_dir=params["wal_dir"])
        return ["%s says name %s, peer URLs %s, data dir %s, WAL dir %s; the inventory says %s, %s, %s, %s: fix "
                "etcd's configuration for the new member, or the inventory (etcd_member_name, etcd_peer_url, "
                "etcd_data_dir, etcd_wal_dir: a WAL dir left in place would make the new member the old one)." % (
                    source["source"], source.get("name") or "(not set)",
                    ",".join(source.get("initial_advertise_peer_urls") or ["(not set)"]),
                    source.get("data_dir") or "(not set)", source.get("wal_dir") or "(not set)", params["name"],
                    params["peer_url"], params["data_dir"], params["wal_dir"] or "(not set)")
                for source in definitions if any(source.get(field) not in (None, value)
                                                 for field, value in wanted.items())]

    def _local_version(self, source: dict[str, Any]) -> str | None:
        program = source.get("program")
        path = program if program and os.path.isabs(program) else self.host.get_bin_path(program or "etcd")
        if not path or not os.access(path, os.X_OK):
            return None
        done = run(self.host, [path, "--version"], check=False)
        found = re.search(r"etcd Version:\s*(\S+)", done.stdout or "")
        return found.group(1) if found else None

    def _disk_problems(self, cluster: dict[str, Any]) -> list[str]:
        sizes = [entry["db_size"] for entry in cluster.get("endpoints", []) if entry.get("db_size")]
        needed = (max(sizes) if sizes else 0) + WAL_SEGMENT
        where = nearest_existing_dir(self.params["data_dir"])
        stat = os.statvfs(where)
        free = stat.f_bavail * stat.f_frsize
        self.result.update(free_bytes=free, required_bytes=needed)
        problems = []
        if free < needed:
            problems.append("%s has %d bytes free, and the new member needs about %d (the leader's database and a WAL "
                            "segment): free disk there first." % (where, free, needed))
        mount_problem = self._mount_problem()
        if mount_problem:
            problems.append(mount_problem + ".")
        if self.params["wal_dir"] and is_mount_point(self.params["wal_dir"]):
            problems.append("the WAL dir %s is a mount point, which cannot be kept aside by a rename: give etcd a WAL "
                            "dir inside it (etcd_wal_dir)." % self.params["wal_dir"])
        return problems

    def _data_swap(self) -> str:
        """What is kept aside for the data dir: the dir itself, or, when it is a mount point (which cannot be renamed),
        its member dir, inside the mount; the new member then starts in the empty mount point."""
        return swap_path(self.params["data_dir"], is_mount_point(self.params["data_dir"]))

    def _mount_problem(self) -> str | None:
        """Why an unfinished replacement cannot go on here: its journal says the data dir was a mount point when it
        began, and it is not one now, or the other way round (the kept data is then out of sight)."""
        recorded = (self.entry or {}).get("data_dir_mount") if journal.unfinished(self.entry) else None
        mounted = is_mount_point(self.params["data_dir"])
        if recorded is None or bool(recorded) == mounted:
            return None
        return ("the replacement journal %s says %s was %sa mount point when run %s began, and it is %s now: %s" % (
            journal.path_of(self.params["data_dir"]), self.params["data_dir"], "" if recorded else "not ",
            self.entry["run_id"], "not one" if recorded else "one",  # type: ignore[index]
            "mount it there again, then run again" if recorded else "unmount it, then run again"))

    # ---- the phases -----------------------------------------------------------------------------------------------

    def _remove(self) -> None:
        params = self.params
        if journal.reached(self.entry, "added"):
            # A run that died later: its old member is gone and the new one may run already; nothing to stop here.
            self.said.append("the old member was removed by run %s already" % self.entry["run_id"])  # type: ignore[index]
            return
        # The last look before the first change: the cluster must still keep quorum without this member.
        cluster = cluster_info.read(connection(params))
        decision = _decide.decide(cluster, params["name"], params["peer_url"], self.entry if journal.unfinished(
            self.entry) else None, force=True)
        if not decision["ok"]:
            raise StepFailed("member_remove", "nothing was changed: %s" % " ".join(decision["problems"]))
        service = self._step("etcd_stop", lambda: self._service("stopped"))
        if not journal.unfinished(self.entry):
            self.entry = None
            self._record("planned", run_id=params["run_id"], member=params["name"], peer_url=params["peer_url"],
                         client_url=params["client_url"], cluster_id=decision["cluster_id"],
                         keep_dir=params["data_dir"].rstrip("/") + CONFIG_INFIX + params["run_id"], config_kept={},
                         data_dir_mount=is_mount_point(params["data_dir"]),
                         config_kinds=[], was_running="stop" in service.result["actions"])
        old = decision["old"]
        if old and journal.reached(self.entry, "removed") and old["id"] != self.entry.get("old_member_id"):  # type: ignore[union-attr]
            if not (old["is_learner"] and not old["name"]):
                raise StepFailed("member_remove", "member %s (%s) holds this member's name or peer URL, and the "
                                 "journal says the old member (%s) was removed already: look at the cluster's members "
                                 "(etcdops.dr.health) before running again" % (
                                     old["name"], old["id"], self.entry.get("old_member_id")))  # type: ignore[union-attr]
            # A learner the died run added before it could record it: removed, the journal's old member kept.
            self._step("member_remove", lambda: _Cluster(params).change(
                lambda connection: connection.member_remove(old["id"])))
            self.said.append("removed the learner %s an earlier run added" % old["id"])
            old = None
        self._control("stopped", service)
        if old:
            self._step("member_remove", lambda: _Cluster(params).change(
                lambda connection: connection.member_remove(old["id"])))
            self.said.append("removed member %s (%s)" % (old["name"] or "unnamed", old["id"]))
            self._record("removed", old_member_id=old["id"], old_client_urls=old["client_urls"])
        elif self.entry["step"] == "planned":  # type: ignore[index]
            self._record("removed")
        if not journal.reached(self.entry, "kept"):
            kept = self._step("keep_aside", self._keep_aside)
            self._record("kept", **kept)

    def _keep_aside(self) -> dict[str, Any]:
        kept: dict[str, Any] = dict(kept_data_dir=None, kept_wal_dir=None)
        for option, field in (("data_dir", "kept_data_dir"), ("wal_dir", "kept_wal_dir")):
            path = self._data_swap() if option == "data_dir" else self.params[option]
            if path and os.path.lexists(path):
                kept[field] = free_name(path.rstrip("/") + KEPT_INFIX + self.params["run_id"])
                os.rename(path, kept[field])
                self.said.append("kept %s aside as %s" % (path, kept[field]))
        return kept

    def _add(self) -> None:
        params = self.params
        cluster = _Cluster(params)
        members = self._step("member_list", cluster.members)
        new_id = (self.entry or {}).get("new_member_id")
        if not (new_id and new_id in _member_ids(members)):
            added = self._step("member_add", lambda: cluster.change(
                lambda connection: connection.member_add([params["peer_url"]], learner=True)))
            new_id = added["member"]["id"]
            members = added["members"]
            self.said.append("added %s at %s as learner %s" % (params["name"], params["peer_url"], new_id))
        initial = self._initial_cluster(members, new_id)
        self._record("added", new_member_id=new_id, initial_cluster=initial)
        service = self._step("configure", lambda: self._service("stopped"))
        edits = self._step("configure", lambda: member_config_edit.plan(
            self.host, service.backend, params["config_file"], self._edit_values(initial)))
        changed = [edit for edit in edits if edit.changed]
        keep_dir = self.entry["keep_dir"]  # type: ignore[index]
        # Where each file's previous version goes is recorded before the first write: an undo after a failure half-way
        # puts back every file that was copied (a copy is taken before its file is written).
        self._record("added", config_kept=dict(
            {edit.path: member_config_edit.kept_name(keep_dir, edit.path) for edit in changed},
            **(self.entry or {}).get("config_kept") or {}), config_kinds=sorted(
                set((self.entry or {}).get("config_kinds") or []) | {edit.kind for edit in changed}))
        self._step("configure", lambda: member_config_edit.apply(self.host, service.backend, edits, keep_dir))
        self.result["config_changes"] = [edit.describe() for edit in edits]
        if changed:
            self.said.append("changed %s (previous kept in %s)" % (", ".join(e.path for e in changed), keep_dir))
        self._record("configured")
        # supervisord re-reading a changed program may start it (autostart): the start phase waits for it.

    def _start(self) -> None:
        """etcd started, and running with its peer port open. A learner serves clients only once it has published
        itself through raft, which etcd may retry for seconds; the leader, not the learner, says when it may be
        promoted."""
        service = self._step("etcd_start", lambda: self._service("started"))

        def start() -> None:
            if "start" in service.result["actions"]:
                service.backend.start()
            wait_started(service.backend, PeerListening(self.params["peer_url"]), self.params["timeout"])
        self._step("etcd_start", start)
        self.said.append("%s: started, listening on %s" % (service.result["service"], self.params["peer_url"]))
        self._record("started")

    def _promote(self) -> None:
        params = self.params
        new_id = self.entry["new_member_id"]  # type: ignore[index]
        cluster = _Cluster(params)
        members = self._step("member_list", cluster.members)
        member = next((m for m in members if m["id"] == new_id), None)
        if member is None:
            raise StepFailed("promote", "member %s, added by this replacement, is not in the cluster any more: run "
                             "the replacement again" % new_id)
        if member["is_learner"]:
            self._step("catch_up", lambda: self._promote_when_in_sync(cluster, new_id))
            self.said.append("promoted %s after %.1f s" % (new_id, self.result["catch_up"]["waited_seconds"]))
        self._record("promoted")
        verified = self._step("verify", self._verify)
        self.said.append(verified)
        self._record("verified")

    def _promote_when_in_sync(self, cluster: _Cluster, new_id: str) -> None:
        """Ask for the promotion until the leader counts the learner in sync (etcd refuses before), for at most
        catchup_timeout seconds."""
        began = time.monotonic()
        running = PeerListening(self.params["peer_url"])
        while True:
            # Never a learner that does not run here: the leader may still count it in sync, and a promoted member
            # that is down takes a vote the cluster needs.
            if running(0):
                try:
                    cluster.change(lambda connection: connection.member_promote(new_id))
                    self.result["catch_up"] = dict(waited_seconds=round(time.monotonic() - began, 3))
                    return
                except EtcdError as exc:
                    if "in sync" not in (exc.msg or "") and not self._votes(cluster, new_id):
                        raise
                    if "in sync" not in (exc.msg or ""):
                        # A promotion whose answer was lost, asked again: it took.
                        self.result["catch_up"] = dict(waited_seconds=round(time.monotonic() - began, 3))
                        return
                except EtcdOpsError:
                    pass  # no other member answered this time: asked again until catchup_timeout
            if time.monotonic() - began >= self.params["catchup_timeout"]:
                break
            time.sleep(0.2)
        read = cluster_info.read(connection(self.params))
        progress: dict[str, Any] = next((entry for entry in read.get("learners") or [] if entry["id"] == new_id), {})
        self.result["catch_up"] = dict(progress, waited_seconds=round(time.monotonic() - began, 3))
        raise EtcdOpsError(
            "the learner did not catch up with the leader within catchup_timeout (%ss): %s; it has applied %s of the "
            "leader's %s entries%s" % (
                self.params["catchup_timeout"], "etcd does not run here (%s)" % running.last_error
                if not running(0) else "the leader does not count it in sync", progress.get("applied_index"),
                progress.get("leader_applied_index"), "" if progress.get("reachable") else " (it does not answer)"))

    @staticmethod
    def _votes(cluster: _Cluster, member_id: str) -> bool:
        """Whether `member_id` is a voting member now (False when the cluster cannot tell)."""
        try:
            return any(m["id"] == member_id and not m["is_learner"] for m in cluster.members())
        except EtcdOpsError:
            return False

    def _verify(self) -> str:
        params = self.params
        entry = self.entry or {}

        def settled(cluster: dict[str, Any]) -> bool:
            ids = _member_ids(cluster["members"])
            return bool(cluster["healthy"] and cluster.get("hash_kv_consistent") and entry["new_member_id"] in ids
                        and entry.get("old_member_id") not in ids and not cluster["learners"])
        for attempt in range(max(1, params["health_retries"])):
            if attempt:
                time.sleep(params["health_delay"])
            # The members' own endpoints: a host of the group that is not a member (yet) is no part of the cluster.
            members = _Cluster(params).members()
            urls = sorted({url for member in members for url in member["client_urls"]} | {params["client_url"]})
            cluster = cluster_info.read(dict(connection(params), endpoints=urls), hash_kv=True)
            if settled(cluster):
                break
        self.result["cluster"] = dict((k, cluster.get(k)) for k in (
            "cluster_id", "members", "leader", "healthy", "health_problems", "hash_kv_consistent", "learners"))
        if not settled(cluster):
            raise EtcdOpsError("the cluster did not become healthy with %s as a voting member and KV hashes that agree: "
                               "%s" % (params["name"], "; ".join(cluster.get("health_problems") or [])
                                       or "learners %s" % cluster.get("learners")))
        if entry.get("cluster_id") and cluster["cluster_id"] != entry["cluster_id"]:
            raise EtcdOpsError("the cluster id changed from %s to %s" % (entry["cluster_id"], cluster["cluster_id"]))
        return "the cluster is healthy with %d members, %s (%s) voting, KV hashes agree" % (
            len(cluster["members"]), params["name"], entry["new_member_id"])

    def _undo(self) -> None:
        params = self.params
        entry = self.entry
        if not journal.unfinished(entry):
            self.said.append("no unfinished replacement of %s to undo" % params["name"])
            return
        mount_problem = self._mount_problem()
        if mount_problem:
            raise StepFailed("undo", "%s; nothing was changed" % mount_problem)
        cluster = _Cluster(params)
        members = self._step("member_list", cluster.members)
        new_id = entry.get("new_member_id")  # type: ignore[union-attr]
        voter = next((m for m in members if new_id and m["id"] == new_id and not m["is_learner"]), None)
        if journal.reached(entry, "promoted") or voter:
            raise StepFailed("undo", "the new member %s votes already, so there is nothing to undo (nothing was "
                             "stopped): run the replacement again, which verifies the cluster" % new_id)
        if not journal.reached(entry, "removed"):
            # The old member was not removed: the cluster is as it was. etcd is started again where it ran.
            if entry.get("was_running"):  # type: ignore[union-attr]
                self._control("started")
            self._record("rolled_back")
            self.said.append("nothing was removed from the cluster; %s" % (
                "etcd was started again" if entry.get("was_running") else "etcd was not running"))  # type: ignore[union-attr]
            return
        self._control("stopped")
        learner = next((m for m in members if m["is_learner"] and (
            (new_id and m["id"] == new_id) or params["peer_url"] in m["peer_urls"])), None)
        if learner is not None:
            self._step("member_remove", lambda: cluster.change(
                lambda connection: connection.member_remove(learner["id"])))
            self.said.append("removed the learner %s again" % learner["id"])
        service = self._step("config_put_back", lambda: self._service("stopped"))
        restored = self._step("config_put_back", lambda: member_config_edit.put_back(
            self.host, service.backend, entry.get("config_kept") or {}, entry.get("config_kinds") or []))  # type: ignore[union-attr]
        if restored:
            self.said.append("put back %s" % ", ".join(restored))
            # A manager that re-read its program may have started it.
            self._control("stopped")
        failed = None
        # From the step "kept" on, a data dir here is the new member's (the old one was moved aside, or was gone).
        if journal.reached(entry, "kept") and os.path.lexists(self._data_swap()):
            failed = free_name(self._data_swap() + FAILED_INFIX + entry["run_id"])  # type: ignore[index]
            os.rename(self._data_swap(), failed)
            self.said.append("moved the learner's data dir to %s" % failed)
        self._record("rolled_back", failed_data_dir=failed)
        self.said.append("the cluster runs without %s; its old data stays at %s; run the replacement again to add it"
                         % (params["name"], entry.get("kept_data_dir") or "(there was none)"))  # type: ignore[union-attr]


def make(params: dict[str, Any], host: HostContext) -> Runner:
    return Replace(params, host)
