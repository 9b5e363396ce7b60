# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube-apiserver stopped or started around a restore, as the kube_apiserver module does it: plan() asks its
manager what runs (check mode stops there); apply() acts and waits for its port to close or open."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._service.backends import select

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

# Reading the listening sockets is cheap: a start or stop is seen within a tenth of a second.
POLL_SECONDS = 0.1

ARGUMENT_SPEC = ArgumentSpec(dict(
    state=dict(type="str", required=True, choices=["started", "stopped"]),
    manager=dict(type="str", default="static_pod", choices=["static_pod", "supervisor", "systemd"]),
    manifest_dir=dict(type="path", default="/etc/kubernetes/manifests"),
    manifest_name=dict(type="str", default="kube-apiserver.yaml"),
    held_manifest_dir=dict(type="path", default="/etc/kubernetes/etcdops-held-manifests"),
    name=dict(type="str", default="kube-apiserver"),
    supervisor_conf=dict(type="path"),
    supervisorctl=dict(type="path"),
    address=dict(type="str"),
    port=dict(type="int", default=6443),
    timeout=dict(type="float", default=120),
))


class KubeApiserverError(EtcdOpsError):
    """kube-apiserver could not be controlled, or did not reach its state in time."""


def wait_for_port(addresses: list[tuple[str | None, int]], want_listening: bool, timeout: float) -> bool:
    """Whether something listens on `addresses` (or nothing does) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while bool(local_member.listeners_on(addresses)) != want_listening:
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


class KubeApiserver:
    """One stop or start; `result` is what the module returns."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.host = host
        self.params = params
        self.want_running = self.params["state"] == "started"
        self.addresses = [(self.params["address"], self.params["port"])]
        self.where = "%s:%s" % (self.params["address"] or "any address", self.params["port"])
        self.backend: Any = None
        self.result: dict[str, Any] = dict(changed=False, manager=self.params["manager"], found=None,
                                           listening=bool(local_member.listeners_on(self.addresses)))

    def plan(self) -> None:
        """Find the manager and whether it runs kube-apiserver. Raises EtcdOpsError; KubeApiserverError, with
        `found` false in the result, when the manager has no kube-apiserver (no manifest, program or unit)."""
        self.backend = select(self.host, self.params)
        self.result["found"] = bool(self.backend.known())
        if not self.result["found"]:
            raise KubeApiserverError(
                "no kube-apiserver found on this host: %s%s is not there (manager %s); set the manager, name or "
                "manifest dirs to what runs kube-apiserver here" % (
                    self.backend.describe(), " (nor held in %s)" % self.params["held_manifest_dir"]
                    if self.params["manager"] == "static_pod" else "", self.params["manager"]))
        self.result["changed"] = self.backend.state().running != self.want_running

    def would(self) -> str:
        return "kube-apiserver (%s) %s %s" % (
            self.backend.describe(), "would be" if self.result["changed"] else "is already", self.params["state"])

    def apply(self) -> None:
        """Start or stop, then wait for the port. Raises EtcdOpsError."""
        if not self.result["changed"]:
            return
        if self.want_running:
            self.backend.start()
        else:
            self.backend.stop()
        if not wait_for_port(self.addresses, self.want_running, self.params["timeout"]):
            self.result["listening"] = not self.want_running
            raise KubeApiserverError("kube-apiserver (%s) was %s, but after %ss %s" % (
                self.backend.describe(), self.params["state"], self.params["timeout"],
                "nothing listens on %s: see its log" % self.where if self.want_running else
                "%s still listens on %s" % (
                    local_member.describe_listeners(local_member.listeners_on(self.addresses)), self.where)))
        self.result["listening"] = self.want_running

    def failed(self, exc: Exception) -> str:
        if isinstance(exc, KubeApiserverError):
            return exc.msg
        return "kube-apiserver: %s" % (getattr(exc, "msg", None) or exc)

    def done(self) -> str:
        if not self.result["changed"]:
            return self.would()
        return "kube-apiserver (%s) %s; %s %s" % (
            self.backend.describe(), self.params["state"],
            "listening on" if self.want_running else "nothing listens on", self.where)
