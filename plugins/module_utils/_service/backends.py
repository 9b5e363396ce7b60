# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How etcd is run on a host: a systemd unit, a kubeadm static pod, or a supervisor program.

Each backend answers whether the manager means etcd to run (`state()`), starts and stops it, and
finds the member's last log lines. Commands go through the one seam, _host.run.run; supervisord is asked over
its XML-RPC interface (_host.supervisor).
"""
from __future__ import annotations

import collections
import glob
import os
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import CommandError, run
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._service.supervisor import (
    ALREADY_STARTED, BAD_NAME, NOT_RUNNING, Supervisord, SupervisorError)
from ansible_collections.etcdops.dr.plugins.module_utils._host.member_config import default_conf

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

# Seconds a call to the manager may take, stop included, unless the module gives its own timeout.
DEFAULT_TIMEOUT = 120
# sd_booted(): systemd is the init system exactly when this directory exists.
SYSTEMD_RUN_DIR = "/run/systemd/system"

# running: the manager means etcd to run (or is starting it); failed: it gave up, waiting is pointless.
ServiceState = collections.namedtuple("ServiceState", "running failed detail")


class ServiceError(EtcdOpsError):
    """etcd's manager cannot be found, read or used; msg says which and how to fix it."""


def _last_lines(text: str | None, count: int) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()][-count:]


def tail_file(path: str, count: int, chunk: int = 65536) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - chunk))
            return _last_lines(handle.read().decode("utf-8", "replace"), count)
    except OSError:
        return []


class Supervisor:
    """A supervisord program, through supervisord's XML-RPC interface (_host.supervisor)."""

    name = "supervisor"

    def __init__(self, program: str, conf: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.program = program
        self.conf = conf
        self.supervisord = Supervisord(conf, timeout)
        # known() and the state() right after it share one answer.
        self._last_info: dict[str, Any] | None = None

    def describe(self) -> str:
        return "supervisor program %s" % self.program

    def _info(self, reuse: bool = False) -> dict[str, Any]:
        if not (reuse and self._last_info):
            self._last_info = self.supervisord.call("getProcessInfo", self.program, allowed=(BAD_NAME,)) or {}
        return self._last_info

    def known(self) -> bool:
        """Whether supervisord has the program; SupervisorError when it cannot be asked."""
        return bool(self._info())

    def state(self) -> ServiceState:
        info = self._info(reuse=True)
        self._last_info = None
        if not info:
            raise ServiceError("supervisor has no program %r (supervisord of %s): set name to the program that runs "
                               "etcd (`supervisorctl status` lists them)." % (self.program, self.conf))
        word = info.get("statename", "")
        detail = " ".join(part for part in (self.program, word, info.get("description") or "") if part)
        return ServiceState(running=word in ("RUNNING", "STARTING", "BACKOFF", "STOPPING"),
                            failed=word in ("FATAL", "EXITED"), detail=detail)

    def start(self) -> None:
        self._last_info = None
        # Not waiting for startsecs: the caller waits for what it needs. A spawn error shows in the state it polls,
        # with the member's log lines.
        self.supervisord.call("startProcess", self.program, False, allowed=(ALREADY_STARTED,))

    def stop(self) -> None:
        self._last_info = None
        self.supervisord.call("stopProcess", self.program, True, allowed=(NOT_RUNNING,))

    def log_tail(self, count: int) -> list[str]:
        for method in ("tailProcessStdoutLog", "tailProcessStderrLog"):
            try:
                text = self.supervisord.call(method, self.program, 0, 16000)[0]
            except (SupervisorError, TypeError, IndexError):
                continue
            if text.strip():
                return _last_lines(text, count)
        return []


class Systemd:
    name = "systemd"

    def __init__(self, host: HostContext, unit: str) -> None:
        self.host = host
        self.unit = unit if "." in unit else unit + ".service"

    def describe(self) -> str:
        return "systemd unit %s" % self.unit

    def systemctl(self) -> str:
        return self.host.get_bin_path("systemctl", required=True)

    def _show(self) -> dict[str, str]:
        done = run(self.host, [self.systemctl(), "show", "--property=LoadState,ActiveState,SubState,MainPID",
                               self.unit], why="reading the state of " + self.describe())
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

    def known(self) -> bool:
        try:
            return self._show().get("LoadState") not in (None, "not-found")
        except CommandError:
            return False

    def state(self) -> ServiceState:
        show = self._show()
        if show.get("LoadState") in (None, "not-found"):
            raise ServiceError("systemd has no unit %s: set name to the unit that runs etcd "
                               "(`systemctl list-units 'etcd*'`)." % self.unit)
        active = show.get("ActiveState")
        detail = "%s: %s (%s), main pid %s" % (self.unit, active, show.get("SubState"), show.get("MainPID"))
        return ServiceState(running=active in ("active", "activating", "reloading", "deactivating"),
                            failed=active == "failed", detail=detail)

    def start(self) -> None:
        # --no-block: a Type=notify etcd unit is "started" only once the member has joined a quorum,
        # which needs the other members started too; the wait that follows checks health instead.
        run(self.host, [self.systemctl(), "start", "--no-block", self.unit], why="starting " + self.describe())

    def stop(self) -> None:
        run(self.host, [self.systemctl(), "stop", self.unit], why="stopping " + self.describe())

    def log_tail(self, count: int) -> list[str]:
        journalctl = self.host.get_bin_path("journalctl")
        if not journalctl:
            return []
        done = run(self.host, [journalctl, "--unit", self.unit, "--lines", str(count), "--no-pager",
                               "--output", "cat"], check=False)
        return _last_lines(done.stdout, count) if done.rc == 0 else []


class StaticPod:
    """kubeadm: the kubelet runs every manifest in the manifests dir, so etcd is stopped by moving its
    manifest to a holding dir outside it, and started by moving it back."""

    name = "static_pod"

    def __init__(self, manifest_dir: str, manifest_name: str, held_dir: str, pod_log_dir: str | None) -> None:
        self.manifest = os.path.join(manifest_dir, manifest_name)
        self.held = os.path.join(held_dir, manifest_name)
        self.held_dir = held_dir
        self.pod_log_dir = pod_log_dir
        self.pod_name = os.path.splitext(manifest_name)[0]
        manifests = os.path.realpath(manifest_dir)
        held = os.path.realpath(held_dir)
        if held == manifests or held.startswith(manifests + os.sep):
            raise ServiceError("held_manifest_dir %s is inside manifest_dir %s, where the kubelet would still run "
                               "the manifest: choose a directory outside it." % (held_dir, manifest_dir))

    def describe(self) -> str:
        return "static pod manifest %s" % self.manifest

    def known(self) -> bool:
        return os.path.exists(self.manifest) or os.path.exists(self.held)

    def state(self) -> ServiceState:
        active, held = os.path.exists(self.manifest), os.path.exists(self.held)
        if active and held:
            raise ServiceError("%s and %s both exist: keep the right manifest in the manifests dir and remove the "
                               "other, then run again." % (self.manifest, self.held))
        if not active and not held:
            raise ServiceError("no etcd manifest at %s nor at %s: set manifest_dir, manifest_name and "
                               "held_manifest_dir to where the kubelet's etcd manifest is." % (self.manifest, self.held))
        where = self.manifest if active else self.held
        return ServiceState(running=active, failed=False, detail="manifest at %s" % where)

    def start(self) -> None:
        _files.move(self.held, self.manifest)

    def stop(self) -> None:
        if not os.path.isdir(self.held_dir):
            os.makedirs(self.held_dir, mode=0o700)
        _files.move(self.manifest, self.held)

    def log_tail(self, count: int) -> list[str]:
        # kubelet: <pod_log_dir>/<namespace>_<pod name>-<node>_<uid>/<container>/<restart count>.log
        if not self.pod_log_dir:
            return []
        logs = glob.glob(os.path.join(self.pod_log_dir, "*_%s-*" % self.pod_name, "*", "*.log"))
        if not logs:
            return []
        return tail_file(max(logs, key=os.path.getmtime), count)


def supervisorctl_path(host: HostContext, params: dict[str, Any]) -> str | None:
    """params['supervisorctl'] when given (it must be an executable file), else supervisorctl on PATH, or None."""
    given = params.get("supervisorctl")
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise ServiceError("supervisorctl %s is not an executable file: set supervisorctl (the roles: "
                               "etcd_supervisorctl) to the path of supervisorctl on this host." % given)
        return given
    return host.get_bin_path("supervisorctl")


def supervisor_conf(host: HostContext, params: dict[str, Any]) -> tuple[str | None, str | None]:
    """(supervisord's configuration or None, why none): params['supervisor_conf'], else where supervisorctl (when
    installed) looks without -c."""
    given = params.get("supervisor_conf")
    if given:
        return given, None
    supervisorctl = supervisorctl_path(host, params)
    if not supervisorctl:
        return None, "no supervisorctl on PATH (set supervisor_conf, or supervisorctl)"
    conf, looked = default_conf(supervisorctl)
    return conf, None if conf else "no supervisord configuration at %s (set supervisor_conf)" % ", ".join(looked)


def _supervisor(params: dict[str, Any], conf: str) -> Supervisor:
    return Supervisor(params["name"], conf, params.get("timeout") or DEFAULT_TIMEOUT)


def _static_pod(params: dict[str, Any]) -> StaticPod:
    return StaticPod(params["manifest_dir"], params["manifest_name"], params["held_manifest_dir"],
                     params.get("pod_log_dir"))


def select(host: HostContext, params: dict[str, Any]) -> Supervisor | Systemd | StaticPod:
    """The backend for params['manager']; for 'auto', the first that knows this member's etcd."""
    manager = params["manager"]
    if manager == "static_pod":
        return _static_pod(params)
    if manager == "supervisor":
        conf, why_none = supervisor_conf(host, params)
        if not conf:
            raise ServiceError("cannot find supervisord's configuration: %s." % why_none)
        return _supervisor(params, conf)
    if manager == "systemd":
        return Systemd(host, params["name"])
    looked = []
    static_pod = _static_pod(params)
    if static_pod.known():
        return static_pod
    looked.append("no %s in %s or %s" % (params["manifest_name"], params["manifest_dir"], params["held_manifest_dir"]))
    conf, why_none = supervisor_conf(host, params)
    if conf:
        try:
            supervisor = _supervisor(params, conf)
            if supervisor.known():
                return supervisor
            looked.append("supervisord of %s knows no program %s" % (conf, params["name"]))
        except SupervisorError as exc:
            looked.append(exc.msg.rstrip("."))
    elif why_none:
        looked.append(why_none)
    if os.path.isdir(SYSTEMD_RUN_DIR) and host.get_bin_path("systemctl"):
        systemd = Systemd(host, params["name"])
        if systemd.known():
            return systemd
        looked.append("systemd has no unit %s" % systemd.unit)
    else:
        looked.append("systemd is not the init system")
    raise ServiceError("cannot tell how etcd is run on this host (%s): set manager, and name or the manifest "
                       "paths." % "; ".join(looked))
