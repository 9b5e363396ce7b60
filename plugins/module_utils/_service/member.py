# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd on one host stopped, started or restarted, as the etcd_service module does it: plan() checks what a start
needs, finds the manager, reads etcd's configuration and decides the actions (check mode stops there); apply()
acts and waits until the process is gone and the ports are free, or the member is healthy."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._host import member_config
from ansible_collections.etcdops.dr.plugins.module_utils._runner import planned
from ansible_collections.etcdops.dr.plugins.module_utils._service.backends import select, tail_file
from ansible_collections.etcdops.dr.plugins.module_utils._service.waits import (
    HealthProbe, WaitTimeout, member_addresses, plan, wait_started, wait_stopped)

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

SERVICE_OPTIONS = dict(
    state=dict(type="str", required=True, choices=["started", "stopped", "restarted"]),
    manager=dict(type="str", default="auto", choices=["auto", "systemd", "static_pod", "supervisor"]),
    name=dict(type="str", default="etcd"),
    supervisor_conf=dict(type="path"),
    manifest_dir=dict(type="path", default="/etc/kubernetes/manifests"),
    manifest_name=dict(type="str", default="etcd.yaml"),
    held_manifest_dir=dict(type="path", default="/etc/kubernetes/etcdops-held-manifests"),
    pod_log_dir=dict(type="path", default="/var/log/pods"),
    log_file=dict(type="path"),
    log_lines=dict(type="int", default=40),
    timeout=dict(type="float", default=120),
    endpoint=dict(type="str", default="https://127.0.0.1:2379"),
    peer_url=dict(type="str"),
    supervisorctl=dict(type="path"),
    config_file=dict(type="path"),
)
ARGUMENT_SPEC = CONNECTION.merge(ArgumentSpec(SERVICE_OPTIONS))


class MemberService:
    """One stop, start or restart; `result` is what the module returns."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.host = host
        self.params = params
        self.backend: Any = None
        self.probe: HealthProbe | None = None
        self.addresses: list[tuple[str | None, int | None]] = []
        self.result: dict[str, Any] = dict(
            changed=False, manager=None, manager_auto=self.params["manager"] == "auto", service=None, before=None,
            actions=[], stopped_processes=[], healthy=None, waited_seconds=0.0, log_tail=[], member_config=[],
            member_config_missing="not read: the module failed before it looked", member_config_unread=[])

    def plan(self) -> None:
        """Everything a start needs is checked before anything is stopped. Raises EtcdOpsError, OSError."""
        self.addresses = member_addresses(self.params)
        self.probe = HealthProbe(self.params) if self.params["state"] != "stopped" else None
        self.backend = select(self.host, self.params)
        self.result.update(manager=self.backend.name, service=self.backend.describe())
        # Read before any action: a stop ends the process that tells how the member runs now.
        self._read_member_config()
        before = self.backend.state()
        actions = plan(self.params["state"], before.running)
        self.result.update(before=before.detail, actions=actions, changed=bool(actions))

    def _read_member_config(self) -> None:
        """Fill member_config*: the running etcd that listens on the member's client URL (and peer URL, when
        given), what the backend starts, and config_file."""
        addresses = [local_member.url_address(self.params["endpoint"])]
        if self.params["peer_url"]:
            addresses.append(local_member.url_address(self.params["peer_url"]))
        sources, missing, unread = member_config.collect(self.host, self.backend, addresses,
                                                         self.params["config_file"])
        self.result.update(member_config=sources, member_config_missing=missing, member_config_unread=unread)

    def would(self) -> str:
        return "%s: would %s" % (self.result["service"], " then ".join(self.result["actions"]) or "change nothing")

    def apply(self) -> None:
        """Act, then wait for the stop and/or the start to be proven. Raises WaitTimeout, EtcdOpsError, OSError."""
        actions = self.result["actions"]
        began = time.monotonic()
        if self.params["state"] in ("stopped", "restarted"):
            listeners = local_member.listeners_on(self.addresses)
            pids = sorted({pid for dummy, dummy2, pid in listeners if pid})
            described = [local_member.describe_process(pid) for pid in pids]
            if "stop" in actions:
                self.backend.stop()
            wait_stopped(self.backend, self.addresses, pids, self.params["timeout"])
            self.result["stopped_processes"] = described
        if self.params["state"] in ("started", "restarted"):
            if "start" in actions:
                self.backend.start()
            wait_started(self.backend, planned(self.probe), self.params["timeout"])
            self.result["healthy"] = True
        self.result["waited_seconds"] = round(time.monotonic() - began, 3)

    def _log_tail(self) -> list[str]:
        if self.params["log_file"]:
            return tail_file(self.params["log_file"], self.params["log_lines"])
        try:
            return self.backend.log_tail(self.params["log_lines"])
        except (EtcdOpsError, OSError):
            return []

    def failed(self, exc: Exception) -> str:
        """The message for a failure of plan() or apply(); a start that timed out comes with the member's log."""
        service = self.result["service"]
        if isinstance(exc, WaitTimeout):
            logs = ""
            if exc.starting:
                self.result["log_tail"] = self._log_tail()
                logs = ("; last %d lines of the member's log:\n%s" % (len(self.result["log_tail"]),
                                                                      "\n".join(self.result["log_tail"]))
                        if self.result["log_tail"] else "; no log of the member found (set log_file)")
            return "%s: %s%s" % (service, exc, logs)
        if isinstance(exc, EtcdOpsError):
            return "%s%s" % (service + ": " if service else "", exc.msg)
        return "%s: %s" % (service, exc)

    def done(self) -> str:
        done = " then ".join({"stop": "stopped", "start": "started"}[a] for a in self.result["actions"]) or "no change"
        return "%s: %s; %s after %.1fs" % (
            self.result["service"], done, "healthy" if self.result["healthy"] else "process gone and ports free",
            self.result["waited_seconds"])
