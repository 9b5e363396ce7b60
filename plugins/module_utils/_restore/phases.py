# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore of one member in phases, one module run each (etcd_restore_phase), as the restore role runs them
across the inventory with Ansible's barrier between them:

    preflight  every check, changing nothing: the snapshot, the tool and the disk (etcd_restore's plan), etcd's
               manager and configuration (etcd_service's), kube-apiserver's, the restore journal; on one host the
               running cluster. The role decides across the hosts (plugin_utils._restore_preflight).
    stop       the plan recorded in the journal, kube-apiserver stopped (Kubernetes mode), etcd stopped
    restore    the member's data dir restored from the snapshot and swapped in (etcd_restore)
    start      etcd started and healthy, the start recorded in the journal; on one host then the restored cluster
               verified: healthy, with one revision, one KV hash and the snapshot's keys
    finish     kube-apiserver started again, the verified restore recorded, what earlier restores left removed
    undo       the rollback: etcd stopped where a restore is unfinished, the previous data put back, etcd and
               kube-apiserver started again

Each phase runs its steps with the same runners as the standalone modules (etcd_service, kube_apiserver,
etcd_restore, etcd_restore_journal, etcd_restore_leftovers, etcd_restore_rollback) and names the step that failed by
its id (`failed_step`); after the plan is recorded, the failure is written into the member's journal too."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION, MEMBER_SERVICE, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd import cluster_info
from ansible_collections.etcdops.dr.plugins.module_utils._host import files
from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal, leftovers, member, rollback
from ansible_collections.etcdops.dr.plugins.module_utils._runner import Runner, failure_message
from ansible_collections.etcdops.dr.plugins.module_utils._service import kube_apiserver
from ansible_collections.etcdops.dr.plugins.module_utils._service import member as member_service
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import BackupFileError, copy_hashed

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

PHASES = ("preflight", "stop", "restore", "start", "finish", "undo")
# What each step is called in messages; the ids are what results and the role key on.
STEP_LABELS = dict(
    restore_check="check the snapshot, the tool and the disk",
    service_check="check etcd's manager", kube_apiserver_check="check kube-apiserver's manager",
    journal_planned="record the plan in the journal", kube_apiserver_stop="stop kube-apiserver",
    etcd_stop="stop etcd", restore="restore", etcd_start="start etcd",
    journal_started="record the start in the journal", verify="verify the restored cluster",
    kube_apiserver_start="start kube-apiserver", journal_verified="record the verified restore in the journal",
    leftovers="remove older kept dirs and snapshot copies", rollback="put the previous data back",
    cluster_wait="wait for the cluster",
)

# etcd_restore's own options, passed on to it as they are.
RESTORE_OPTIONS = ("snapshot", "sha256", "manifest", "checked_file", "initial_cluster", "bump_revision", "server_version",
                   "initial_memory_map_size", "etcdutl", "etcdctl", "owner", "group", "mode", "decryption_key",
                   "count_keys")

ARGUMENT_SPEC = CONNECTION.merge(MEMBER_SERVICE).merge(ArgumentSpec(dict(
    member.ARGUMENT_SPEC.options(*RESTORE_OPTIONS),
    phase=dict(type="str", required=True, choices=list(PHASES)),
    run_id=dict(type="str"),
    # The member, as the inventory names it.
    name=dict(type="str", required=True),
    peer_url=dict(type="str", required=True),
    client_url=dict(type="str", required=True),
    data_dir=dict(type="path", required=True),
    wal_dir=dict(type="path"),
    timeout=dict(type="float", default=120),
    # kube-apiserver: kube_apiserver's options. kubernetes: auto (preflight: check it, and say whether it is found
    # here), true or false.
    kubernetes=dict(type="raw", default="false"),
    kube_apiserver_manager=dict(type="str", default="static_pod", choices=["static_pod", "supervisor", "systemd"]),
    kube_manifest_dir=dict(type="path", default="/etc/kubernetes/manifests"),
    kube_held_manifest_dir=dict(type="path", default="/etc/kubernetes/etcdops-held-manifests"),
    kube_apiserver_name=dict(type="str", default="kube-apiserver"),
    kube_apiserver_address=dict(type="str"),
    kube_apiserver_port=dict(type="int", default=6443),
    start_kube_apiserver=dict(type="bool"),
    # stop: false stops only kube-apiserver (the leader's first stop: every kube-apiserver stops before any etcd).
    stop_etcd=dict(type="bool", default=True),
    # A name the members share, not a secret.
    cluster_token=dict(type="str", no_log=False),
    # preflight: the snapshot as the action plugin sent it from the controller, to put at `snapshot`, and its sha256
    # there.
    src=dict(type="path"),
    src_sha256=dict(type="str"),
    # The journal's record of the plan.
    live_revision=dict(type="int"),
    # Reading the cluster: in preflight (the running one), the verify, and undo (with hosts lost, a quorum is enough).
    read_cluster=dict(type="bool", default=False),
    accept_quorum=dict(type="bool", default=False),
    health_retries=dict(type="int", default=60),
    health_delay=dict(type="float", default=2),
    # start with verify: what the restored cluster must hold.
    verify=dict(type="bool", default=False),
    expected_revision=dict(type="int"),
    expected_revision_max=dict(type="int"),
    key_count=dict(type="int"),
    member_count=dict(type="int"),
    # Leftovers, once the restore is verified.
    keep_previous=dict(type="int", default=1),
    remove_files=dict(type="list", elements="path", default=[]),
), required_if=[
    ("phase", "stop", ["run_id", "snapshot", "cluster_token"]),
    ("phase", "restore", ["run_id", "snapshot", "initial_cluster", "cluster_token", "sha256"]),
    ("phase", "start", ["run_id"]),
    ("phase", "finish", ["run_id"]),
    ("phase", "preflight", ["snapshot", "initial_cluster", "cluster_token", "run_id"]),
    ("verify", True, ["expected_revision", "expected_revision_max", "key_count", "member_count"]),
], required_together=[("src", "src_sha256")]))


class StepFailed(EtcdOpsError):
    """Step `step` of a phase failed; msg is its runner's own account."""

    def __init__(self, step: str, msg: str) -> None:
        super().__init__(msg)
        self.step = step


def kubernetes_mode(params: dict[str, Any]) -> str:
    """auto, true or false, from the option as YAML and Jinja may give it (a bool, or its text)."""
    mode = str(params["kubernetes"]).lower()
    if mode not in ("auto", "true", "false"):
        raise EtcdOpsError("kubernetes is %r: give auto, true or false" % params["kubernetes"])
    return mode


def is_kubernetes(params: dict[str, Any]) -> bool:
    return kubernetes_mode(params) == "true"


def connection(params: dict[str, Any]) -> dict[str, Any]:
    return {name: params[name] for name in CONNECTION.argument_spec}


def service_params(params: dict[str, Any], state: str) -> dict[str, Any]:
    """etcd_service's options for this member."""
    options = member_service.ARGUMENT_SPEC.defaults()
    options.update(connection(params), state=state, manager=params["service_manager"], name=params["service_name"],
                   supervisor_conf=params["supervisor_conf"], supervisorctl=params["supervisorctl"],
                   config_file=params["config_file"], manifest_dir=params["manifest_dir"],
                   held_manifest_dir=params["held_manifest_dir"], pod_log_dir=params["pod_log_dir"],
                   log_file=params["log_file"], endpoint=params["client_url"], peer_url=params["peer_url"],
                   timeout=params["timeout"])
    return options


def kube_params(params: dict[str, Any], state: str) -> dict[str, Any]:
    """kube_apiserver's options for this host."""
    options = kube_apiserver.ARGUMENT_SPEC.defaults()
    options.update(state=state, manager=params["kube_apiserver_manager"], manifest_dir=params["kube_manifest_dir"],
                   held_manifest_dir=params["kube_held_manifest_dir"], name=params["kube_apiserver_name"],
                   supervisor_conf=params["supervisor_conf"], supervisorctl=params["supervisorctl"],
                   address=params["kube_apiserver_address"], port=params["kube_apiserver_port"],
                   timeout=params["timeout"])
    return options


def restore_params(params: dict[str, Any], bump_revision: int | None = None) -> dict[str, Any]:
    """etcd_restore's options for this member."""
    options = member.ARGUMENT_SPEC.defaults()
    options.update({name: params[name] for name in RESTORE_OPTIONS + ("data_dir", "wal_dir")})
    options.update(name=params["name"], initial_advertise_peer_urls=[params["peer_url"]],
                   initial_cluster_token=params["cluster_token"], client_urls=[params["client_url"]],
                   stamp=params["run_id"],
                   bump_revision=params["bump_revision"] if bump_revision is None else bump_revision)
    return options


def journal_params(params: dict[str, Any], step: str, **fields: Any) -> dict[str, Any]:
    """etcd_restore_journal's options: `step` of this run, with `fields`."""
    options = {name: fields.get(name) for name in journal.FIELDS}
    options.update(data_dir=params["data_dir"], run_id=params["run_id"], step=step)
    return options


def wait_for_cluster(params: dict[str, Any], settled: Callable[[dict[str, Any]], bool],
                     **asked: Any) -> tuple[dict[str, Any], bool]:
    """(the cluster as last read, whether it `settled`), read up to health_retries times health_delay apart."""
    for attempt in range(max(1, params["health_retries"])):
        if attempt:
            time.sleep(params["health_delay"])
        cluster = cluster_info.read(connection(params), **asked)
        if settled(cluster):
            return cluster, True
    return cluster, False


def revisions_of(cluster: dict[str, Any]) -> list[int]:
    return [entry["revision"] for entry in cluster["endpoints"]]


class Phase:
    """The steps of one phase, each a runner of a standalone module: plan() plans them all, before anything
    changes; apply() applies them in order. A failure names its step (StepFailed), and once this run is in the
    member's journal, the journal records it too."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.result: dict[str, Any] = dict(changed=False, phase=params["phase"], failed_step=None,
                                           began_at=time.time(), ended_at=None)
        self.said: list[str] = []
        self.planned: list[tuple[str, Runner]] = []

    def steps(self) -> list[tuple[str, Runner]]:
        """[(step id, runner)] in order."""
        raise NotImplementedError

    def call(self, step: str, runner: Runner, action: str) -> None:
        """runner.plan() or .apply(), its result kept under `step`; a failure raised as StepFailed."""
        try:
            getattr(runner, action)()
        except (EtcdOpsError, OSError) as exc:
            raise StepFailed(step, failure_message(runner, exc)) from None
        finally:
            self.result[step] = runner.result
        self.result["changed"] = self.result["changed"] or bool(runner.result.get("changed"))

    def plan(self) -> None:
        self.planned = self.steps()
        for step, runner in self.planned:
            self.call(step, runner, "plan")

    def would(self) -> str:
        return self._say([runner.would() for dummy, runner in self.planned], "would")

    def apply(self) -> None:
        for step, runner in self.planned:
            self.call(step, runner, "apply")
            self.said.append(runner.done())

    def done(self) -> str:
        return self._say(self.said)

    def _say(self, said: list[str], mode: str = "") -> str:
        self.result["ended_at"] = time.time()
        return "%s%s: %s" % (self.params["phase"], " (check mode)" if mode else "",
                             "; ".join(text for text in said if text) or "nothing to do")

    def failed(self, exc: Exception) -> str:
        self.result["ended_at"] = time.time()
        step = getattr(exc, "step", None)
        self.result["failed_step"] = step
        msg = getattr(exc, "msg", None) or str(exc)
        if step and self.params["run_id"]:
            # Only where the journal holds this run (its plan is recorded): never another run's entry.
            self.result["failure_in_journal"] = journal.note_failure(self.params["data_dir"], self.params["run_id"],
                                                                     step, msg)
        return msg


class Preflight(Phase):
    """Every check of this member, changing nothing, in either mode. A check that finds a problem does not fail the
    module: its message is returned under `problems` (by step id) for the role to judge across the hosts."""

    def steps(self) -> list[tuple[str, Runner]]:
        params, checking = self.params, self.host.checking()
        # The bump depends on Kubernetes mode, which the role decides across the hosts; it checks the bump then.
        steps: list[tuple[str, Runner]] = [
            ("restore_check", member.MemberRestore(restore_params(params, bump_revision=0), checking)),
            ("service_check", member_service.MemberService(service_params(params, "started"), checking))]
        if kubernetes_mode(params) != "false":
            kube = kube_apiserver.KubeApiserver(kube_params(params, "started"), checking)
            steps.append(("kube_apiserver_check", kube))
        return steps

    def plan(self) -> None:
        params, result = self.params, self.result
        result.update(problems={}, cluster=None, placed=None, member={name: params[name] for name in (
            "name", "peer_url", "client_url", "data_dir")})
        if params["src"]:
            self._place(params["src"], params["snapshot"], params["src_sha256"])
        if params["read_cluster"]:
            # First: its gRPC channels are closed before any command runs.
            result["cluster"] = cluster_info.read(connection(params))
        self.planned = self.steps()
        for step, runner in self.planned:
            try:
                self.call(step, runner, "plan")
            except StepFailed as exc:
                result["problems"][step] = exc.msg
        # What the checks say would change is for the phases that follow.
        result["changed"] = bool(result["placed"])

    def _place(self, sent: str, snapshot: str, expected: str) -> None:
        """The snapshot the controller sent put at `snapshot` (0600, this user's, in a dir created 0700), once it is
        proven to have the controller's sha256 (`expected`): a transfer that was cut or corrupted replaces nothing; an
        older file of that name is replaced whole. Renamed there when it can be (this user's file, the same
        filesystem), else copied."""
        directory = os.path.dirname(snapshot)
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o700)
            if not self._renamed(sent, snapshot, expected):
                copy_hashed(sent, snapshot, expect_sha256=expected)
        except (OSError, BackupFileError) as exc:
            raise EtcdOpsError("putting the snapshot at %s failed: %s; give a restore_snapshot_dir with room for it, "
                               "and run again. Nothing was stopped." % (snapshot, getattr(exc, "msg", exc))) from None
        self.result.update(placed=snapshot, changed=True)

    @staticmethod
    def _renamed(sent: str, snapshot: str, expected: str) -> bool:
        """Whether the sent file took its place by a rename: it must be this user's (or this user root) and on the
        same filesystem; it is checked, made private and durable first."""
        if os.geteuid() not in (0, os.stat(sent).st_uid):
            return False
        actual = files.file_sha256(sent)
        if actual != expected:
            raise BackupFileError("the snapshot sent from the controller has sha256 %s, not %s: the transfer was cut "
                                  "or corrupted; nothing was replaced" % (actual, expected))
        os.chown(sent, os.geteuid(), os.getegid())
        os.chmod(sent, 0o600)
        with open(sent, "rb") as received:
            os.fsync(received.fileno())
        try:
            os.replace(sent, snapshot)
        except OSError:
            return False
        files.fsync_dir(os.path.dirname(snapshot))
        return True

    def apply(self) -> None:
        """Nothing more: the preflight changes nothing but the snapshot it was sent."""

    def would(self) -> str:
        return self.done()

    def done(self) -> str:
        problems = self.result["problems"]
        return self._say(["%s: %s" % (STEP_LABELS[step], problem) for step, problem in problems.items()]
                         or ["every check passed"])


class Stop(Phase):
    """The plan recorded in the journal (before anything stops), kube-apiserver stopped, etcd stopped (unless
    stop_etcd is false)."""

    def steps(self) -> list[tuple[str, Runner]]:
        params = self.params
        steps: list[tuple[str, Runner]] = [("journal_planned", journal.JournalStep(journal_params(
            params, "planned", snapshot=params["snapshot"], sha256=params["sha256"], member=params["name"],
            wal_dir=params["wal_dir"], cluster_token=params["cluster_token"], kubernetes=is_kubernetes(params),
            live_revision=params["live_revision"]), self.host))]
        if is_kubernetes(params):
            kube = kube_apiserver.KubeApiserver(kube_params(params, "stopped"), self.host)
            steps.append(("kube_apiserver_stop", kube))
        if params["stop_etcd"]:
            steps.append(("etcd_stop", member_service.MemberService(service_params(params, "stopped"), self.host)))
        return steps


class Restore(Phase):
    """The member's data dir restored from the snapshot and swapped in (etcd_restore, which journals its own steps)."""

    def steps(self) -> list[tuple[str, Runner]]:
        return [("restore", member.MemberRestore(restore_params(self.params), self.host))]


class Start(Phase):
    """etcd started and healthy, then the start recorded in the journal; with `verify` (one host), then the whole
    restored cluster verified, while the other members' starts end (no phase of its own: a module run less)."""

    def steps(self) -> list[tuple[str, Runner]]:
        steps: list[tuple[str, Runner]] = [
            ("etcd_start", member_service.MemberService(service_params(self.params, "started"), self.host)),
            ("journal_started", journal.JournalStep(journal_params(self.params, "started"), self.host))]
        if self.params["verify"]:
            steps.append(("verify", ClusterVerify(self.params)))
        return steps


class ClusterVerify:
    """The restored cluster, read until it is healthy with one revision and one KV hash (or the wait ends), then held
    against what the snapshot calls for: a runner of the start phase on one host, once its own member runs. Keys are
    counted at the restored revision: a lease in the snapshot that expires after the start, or a client, may already
    have written more."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.result: dict[str, Any] = dict(changed=False, cluster=None)
        self.message = ""

    def plan(self) -> None:
        """Nothing to plan: what the cluster must hold is required with verify (the module's spec)."""

    def would(self) -> str:
        return "would wait for a healthy cluster at revision %s with %s keys" % (
            self.params["expected_revision"], self.params["key_count"])

    def apply(self) -> None:
        params = self.params
        # A member's name is in the member list once its start has been applied (etcd publishes it through raft): until
        # then the list shows it unnamed, and the summary would too.
        cluster, settled = wait_for_cluster(params, lambda cluster: bool(
            cluster["healthy"] and cluster.get("hash_kv_consistent") and len(set(revisions_of(cluster))) == 1
            and all(member.get("name") for member in cluster["members"])),
            hash_kv=True, count_keys=True, count_keys_revision=params["expected_revision_max"])
        self.result["cluster"] = cluster
        revisions = revisions_of(cluster)
        if not settled:
            unnamed = [member.get("id") for member in cluster.get("members") or [] if not member.get("name")]
            raise EtcdOpsError("the restored cluster did not become healthy with one revision and one KV hash, every "
                               "member started: %s (revisions %s)%s" % (
                                   "; ".join(cluster.get("health_problems") or [cluster.get("msg", "")]),
                                   ", ".join(str(revision) for revision in revisions),
                                   "; members not started (no name published): %s" % ", ".join(
                                       str(ident) for ident in unnamed) if unnamed else ""))
        low, high = params["expected_revision"], params["expected_revision_max"]
        if not (min(revisions) >= low and cluster["key_count_revision"] >= low
                and cluster["key_count"] == params["key_count"] and len(cluster["members"]) == params["member_count"]):
            raise EtcdOpsError(
                "the restored cluster does not hold the snapshot's data: every member should start at revision %s "
                "(the snapshot's newest key revision + the bump, or its compaction) and is at %s; at revision %s it "
                "holds %s live keys, the snapshot %s; %d members for %d hosts." % (
                    low if low == high else "%s to %s" % (low, high), ", ".join(str(r) for r in revisions),
                    cluster["key_count_revision"], cluster["key_count"], params["key_count"], len(cluster["members"]),
                    params["member_count"]))
        self.message = "the restored cluster is healthy at revision %s with %s keys, KV hashes agree" % (
            max(revisions), cluster["key_count"])

    def done(self) -> str:
        return self.message


class Finish(Phase):
    """Once the restored cluster is proven: kube-apiserver started again, then the journal records the verified
    restore and what earlier restores left (and the snapshot copies given) is removed. The restore is done whatever
    happens here, and nothing rolls back: kube-apiserver that does not start fails the phase once the rest ran; a
    journal that cannot record the verified restore, or a leftover that cannot go, is reported in
    `leftovers_problem` (with `journal_recorded` false for the journal)."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        super().__init__(params, host)
        self.failure: StepFailed | None = None
        # Steps that failed (in plan or apply): not run again.
        self.failed_steps: set[str] = set()

    def steps(self) -> list[tuple[str, Runner]]:
        params = self.params
        steps: list[tuple[str, Runner]] = []
        if is_kubernetes(params):
            kube = kube_apiserver.KubeApiserver(kube_params(params, "started"), self.host)
            steps.append(("kube_apiserver_start", kube))
        steps.append(("journal_verified", journal.JournalStep(journal_params(params, "verified"), self.host)))
        steps.append(("leftovers", leftovers.Leftovers(dict(
            run_id=None, data_dir=params["data_dir"], wal_dir=params["wal_dir"], keep_previous=params["keep_previous"],
            remove_files=params["remove_files"]), self.host)))
        return steps

    def plan(self) -> None:
        self.result.update(leftovers_problem=None, journal_recorded=None)
        self.planned = self.steps()
        self._each("plan")
        if self.failure and self.host.check_mode:
            raise self.failure

    def apply(self) -> None:
        self._each("apply")
        self.result["journal_recorded"] = bool(self.result["journal_recorded"])
        if self.failure:
            raise self.failure

    def _each(self, action: str) -> None:
        """Each step that has not failed. A kube-apiserver that cannot be started stops nothing else (the journal
        must record the verified restore whatever becomes of kube-apiserver): it fails the phase at the end. Until the
        journal records the verified restore nothing is removed: a later rollback would still need what it keeps."""
        for step, runner in self.planned:
            if step in self.failed_steps or (step == "leftovers" and "journal_verified" in self.failed_steps):
                continue
            try:
                self.call(step, runner, action)
            except StepFailed as exc:
                self.failed_steps.add(step)
                if step == "kube_apiserver_start":
                    self.failure = exc
                else:
                    self.result["leftovers_problem"] = exc.msg + (
                        "; nothing was removed" if step == "journal_verified" else "")
                continue
            if action == "apply":
                self.said.append(runner.done())
                if step == "journal_verified":
                    self.result["journal_recorded"] = True


class Undo(Phase):
    """The rollback: where the journal holds an unfinished restore, etcd is stopped and the previous data put back
    (etcd_restore_rollback); then etcd is started (with the others, for a quorum) and waited for, and kube-apiserver
    started with start_kube_apiserver (unset: where the journal records Kubernetes mode). With read_cluster, the cluster is then
    read until it is healthy (or, with accept_quorum, works without the members lost). Whether etcd is stopped
    depends on what the journal holds, so the steps are planned as they come."""

    def plan(self) -> None:
        # Outside check mode apply() plans each step as it comes.
        if self.host.check_mode:
            self._run(apply=False)

    def apply(self) -> None:
        self._run(apply=True)

    def _run(self, apply: bool) -> None:
        params, result = self.params, self.result
        options = dict(data_dir=params["data_dir"], wal_dir=params["wal_dir"], previous_data_dir=None,
                       previous_wal_dir=None, stamp=params["run_id"], urls=[params["client_url"], params["peer_url"]])
        reading = rollback.Rollback(options, self.host.checking())
        self.call("rollback", reading, "plan")
        # Only a journal's unfinished restore is rolled back: without one the runner would take the live data dir
        # for a restored copy with nothing before it (its explicit mode, for previous dirs given by hand).
        result.update(rolls_back=bool(reading.result["unfinished"]), kubernetes=bool(reading.result["kubernetes"]),
                      rollback_msg=reading.would() if reading.result["unfinished"] else reading.nothing_to_do())
        steps: list[tuple[str, Runner]] = []
        if result["rolls_back"]:
            steps += [("etcd_stop", member_service.MemberService(service_params(params, "stopped"), self.host)),
                      ("rollback", rollback.Rollback(options, self.host) if apply else reading)]
        steps.append(("etcd_start", member_service.MemberService(service_params(params, "started"), self.host)))
        start_kube_apiserver = params["start_kube_apiserver"]
        if result["kubernetes"] if start_kube_apiserver is None else start_kube_apiserver:
            kube = kube_apiserver.KubeApiserver(kube_params(params, "started"), self.host)
            steps.append(("kube_apiserver_start", kube))
        self.planned = steps
        for step, runner in steps:
            if runner is not reading:
                self.call(step, runner, "plan")
            if apply:
                self.call(step, runner, "apply")
                self.said.append(runner.done())
                if step == "rollback":
                    result["rollback_msg"] = self.said[-1]
        if apply and params["read_cluster"]:
            result["cluster"], settled = wait_for_cluster(
                params, lambda cluster: cluster["healthy"] or (params["accept_quorum"] and cluster["quorum"]),
                count_keys=True)
            if not settled:
                cluster = result["cluster"]
                problems = cluster.get("health_problems") or [cluster.get("msg") or "no detail"]
                raise StepFailed("cluster_wait", "the members were put back and started, but the cluster did not "
                                 "become %s: %s" % ("healthy or reach quorum" if params["accept_quorum"] else "healthy",
                                                    "; ".join(problems)))


RUNNERS = dict(preflight=Preflight, stop=Stop, restore=Restore, start=Start, finish=Finish, undo=Undo)


def make(params: dict[str, Any], host: HostContext) -> Runner:
    """The runner of the phase `params` names (run_module's factory)."""
    return RUNNERS[params["phase"]](params, host)
