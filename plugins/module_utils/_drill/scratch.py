# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scratch drill on one host: the snapshot restored by the restore's own code (MemberRestore) into a private run
dir, a throwaway single etcd member started from it on a loopback port with no peers, read, stopped and removed.

Nothing of the production member is touched: the run dir is under work_dir, the ports are free ones (refused when
given and taken), and the throwaway member is this module's own child, never a service."""
from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._drill.bundles import SAMPLE, bundles_beside, check_bundles
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.client import EtcdError, connect_all
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.cluster_info import gather
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member, run as command_seam
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import utc_stamp
from ansible_collections.etcdops.dr.plugins.module_utils._runner import planned
from ansible_collections.etcdops.dr.plugins.module_utils._service.backends import tail_file
from ansible_collections.etcdops.dr.plugins.module_utils._restore.member import Failed, MemberRestore, Refused

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = ArgumentSpec(dict(
    snapshot=dict(type="path", required=True),
    sha256=dict(type="str"),
    manifest=dict(type="dict"),
    decryption_key=dict(type="str", no_log=True),
    server_version=dict(type="str"),
    work_dir=dict(type="path", default="/var/tmp/etcdops-drill"),
    address=dict(type="str", default="127.0.0.1"),
    client_port=dict(type="int", default=0),
    peer_port=dict(type="int", default=0),
    etcd=dict(type="path"),
    etcdutl=dict(type="path"),
    etcdctl=dict(type="path"),
    start_timeout=dict(type="float", default=60),
    count_resources=dict(type="bool", default=True),
    bundles=dict(type="bool", default=False),
    bundle_host=dict(type="str"),
    bundles_sample=dict(type="int", default=SAMPLE),
), required_if=[("bundles", True, ["bundle_host"])])
RUN_PREFIX = "run-"
MEMBER_NAME = "drill"
# etcd's default backend quota; a larger database gets room above its size, or the member would raise NOSPACE.
DEFAULT_QUOTA = 2 * 1024 ** 3


class DrillError(EtcdOpsError):
    """The drill failed; msg says why and that nothing was left behind (or what was)."""


def free_port(address: str) -> int:
    """A port nothing listens on at `address` now (the kernel's choice)."""
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def stale_runs(work_dir: str) -> list[str]:
    """Run dirs an earlier drill left (its module was killed): their owner pid, the name's last part, is gone."""
    stale = []
    for name in sorted(os.listdir(work_dir)) if os.path.isdir(work_dir) else []:
        pid = name.rsplit("-", 1)[-1]
        if name.startswith(RUN_PREFIX) and pid.isdigit() and not local_member.alive(int(pid)):
            stale.append(os.path.join(work_dir, name))
    return stale


def processes_of(run_dir: str, proc: str = "/proc") -> list[int]:
    """Pids of the processes whose command line names `run_dir` (a throwaway member a killed drill left running: it
    runs in a session of its own, so it outlives its module)."""
    needle = os.fsencode(run_dir.rstrip("/") + "/")
    found = []
    for name in os.listdir(proc):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(os.path.join(proc, name, "cmdline"), "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if any(arg.startswith(needle) for arg in argv):
            found.append(int(name))
    return found


class CleanupFailed(DrillError):
    """The drill ran, but the throwaway member or its run dir could not be removed."""


class ScratchDrill:
    """plan() checks everything and decides ports and paths (check mode stops there); apply() does the drill and
    always cleans up. `result` holds every return value at any point."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.host = host
        self.params = params
        self.began = time.monotonic()
        self.stamp = utc_stamp()
        self.run_dir = os.path.join(params["work_dir"], "%s%s-%d" % (RUN_PREFIX, self.stamp, os.getpid()))
        self.process: subprocess.Popen[bytes] | None = None
        self.restore: MemberRestore | None = None
        self.result: dict[str, Any] = dict(
            changed=False, run_dir=self.run_dir, client_url=None, etcd=None, etcd_version=None, cmd=[],
            snapshot=None, sha256=None, expected_revision=None, expected_revision_max=None, restored_revision=None,
            tool=None, tool_version=None, member=None, phases={}, removed_stale=[], left_behind=[], log_tail=[],
            bundles=None)

    # -- plan -----------------------------------------------------------------------------------------------------
    def plan(self) -> None:
        params, result = self.params, self.result
        problems = []
        try:
            if not ipaddress.ip_address(params["address"]).is_loopback:
                problems.append("address %s is not a loopback address: the throwaway member must never be reachable "
                                "from other hosts (it serves the snapshot's Secrets); give one in 127.0.0.0/8 or ::1"
                                % params["address"])
        except ValueError:
            problems.append("address %r is not an IP address: give a loopback address such as 127.0.0.1"
                            % params["address"])
        parent = os.path.dirname(params["work_dir"].rstrip("/"))
        if not os.path.isdir(parent):
            problems.append("the parent of work_dir %s does not exist: create it or give another work_dir"
                            % params["work_dir"])
        if problems:
            raise Refused("refusing to drill %s: %s. Nothing was started." % (params["snapshot"], "; ".join(problems)))
        result["etcd"], result["etcd_version"] = self._etcd_binary()
        client_port, peer_port = self._ports()
        address = "[%s]" % params["address"] if ":" in params["address"] else params["address"]
        result["client_url"] = "http://%s:%d" % (address, client_port)
        peer_url = "http://%s:%d" % (address, peer_port)
        restore_params = dict(
            snapshot=params["snapshot"], sha256=params["sha256"], checked_file=None, manifest=params["manifest"],
            name=MEMBER_NAME, initial_advertise_peer_urls=[peer_url], initial_cluster="%s=%s" % (MEMBER_NAME, peer_url),
            initial_cluster_token="etcdops-drill-%s" % self.stamp, data_dir=self._data_dir(),
            wal_dir=None, client_urls=[result["client_url"]], bump_revision=0, server_version=params["server_version"],
            initial_memory_map_size=None, etcdutl=params["etcdutl"], etcdctl=params["etcdctl"], owner=None,
            group=None, mode=None, stamp=self.stamp, count_keys=True, decryption_key=params["decryption_key"])
        # The same host, in the same mode: in check mode the restore's checks also run etcd's tool on the file.
        self.restore = MemberRestore(restore_params, self.host)
        if not self.host.check_mode:
            # MemberRestore wants the data dir's parent: the run dir, private (the snapshot holds Secrets).
            os.makedirs(params["work_dir"], mode=0o700, exist_ok=True)
            os.mkdir(self.run_dir, 0o700)
        try:
            self.restore.plan()
        except Refused as exc:
            self._remove_run_dir()
            raise Refused(exc.msg.replace("Nothing was changed.", "Nothing was started.")) from None
        finally:
            self._take_restore_result()
        result["cmd"] = self._etcd_command(peer_url)

    def _data_dir(self) -> str:
        # Check mode creates no run dir: the restore's checks look beside where it would be.
        if not self.host.check_mode:
            return os.path.join(self.run_dir, "data")
        return self.run_dir if os.path.isdir(self.params["work_dir"]) else self.params["work_dir"]

    def _etcd_binary(self) -> tuple[str, str | None]:
        """The etcd server binary: the one given, else the one beside etcdutl/etcdctl, else etcd on PATH."""
        params = self.params
        candidates = [params["etcd"]] if params["etcd"] else [
            os.path.join(os.path.dirname(tool), "etcd") for tool in (params["etcdutl"], params["etcdctl"]) if tool]
        candidates.append(self.host.get_bin_path("etcd"))
        for path in candidates:
            if path and os.path.isfile(path) and os.access(path, os.X_OK):
                done = command_seam.run(self.host, [path, "--version"], why="etcd at %s does not run" % path)
                line = done.stdout.splitlines()[0] if done.stdout else ""
                return path, line.rsplit(":", 1)[-1].strip() or None
            if params["etcd"]:
                break
        raise Refused("refusing to drill %s: %s. Nothing was started." % (params["snapshot"], (
            "etcd %s is not an executable file: give the path of the etcd server binary (option etcd)" % params["etcd"]
            if params["etcd"] else "no etcd server binary on this host (none beside etcdutl/etcdctl, none on PATH): "
            "a scratch drill starts a throwaway member, so the drill host needs etcd of the cluster's version; give "
            "its path (option etcd, role variable drill_etcd) or drill on another host")))

    def _ports(self) -> tuple[int, int]:
        params, address = self.params, self.params["address"]
        taken = []
        for option in ("client_port", "peer_port"):
            port = params[option]
            listeners = local_member.listeners_on([(address, port)]) if port else []
            if listeners:
                taken.append("%s %d on %s is taken: %s; give a free port, or 0 for any free one" % (
                    option, port, address, local_member.describe_listeners(listeners)))
        if taken:
            raise Refused("refusing to drill %s: %s. Nothing was started." % (params["snapshot"], "; ".join(taken)))
        try:
            client = params["client_port"] or free_port(address)
            peer = params["peer_port"] or free_port(address)
            while peer == client:
                peer = free_port(address)
        except OSError as exc:
            raise Refused("refusing to drill %s: no free port on %s (%s); free one, or give another address. Nothing "
                          "was started." % (params["snapshot"], address, exc)) from None
        return client, peer

    def _etcd_command(self, peer_url: str) -> list[str]:
        size = (self.result["snapshot"] or {}).get("size") or 0
        quota = max(DEFAULT_QUOTA, size + DEFAULT_QUOTA // 2)
        return [self.result["etcd"], "--name", MEMBER_NAME, "--data-dir", os.path.join(self.run_dir, "data"),
                "--listen-client-urls", self.result["client_url"], "--advertise-client-urls", self.result["client_url"],
                "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                "--initial-cluster", "%s=%s" % (MEMBER_NAME, peer_url), "--quota-backend-bytes", str(quota)]

    def _take_restore_result(self) -> None:
        got = planned(self.restore).result
        self.result.update({name: got[name] for name in (
            "snapshot", "sha256", "expected_revision", "expected_revision_max", "restored_revision", "tool",
            "tool_version")})

    def would(self) -> str:
        self.result["duration_seconds"] = self.duration()
        return "would restore %s into %s with %s %s, start etcd %s on %s, read it, stop it and remove it" % (
            self.params["snapshot"], self.run_dir, self.result["tool"], self.result["tool_version"],
            self.result["etcd_version"], self.result["client_url"])

    # -- apply ----------------------------------------------------------------------------------------------------
    def apply(self) -> None:
        """Restore, start, read; whatever happens, stop the member and remove the run dir (DrillError says why it
        failed; CleanupFailed when all went well but the cleanup). The bundles beside the snapshot are checked
        whatever the drill's outcome."""
        try:
            self._drill()
        finally:
            self._check_bundles()
        if self.result["left_behind"]:
            raise CleanupFailed("the drill ran but could not clean up: %s" % ", ".join(self.result["left_behind"]))

    def _drill(self) -> None:
        phases, restore = self.result["phases"], planned(self.restore)
        self.result["removed_stale"] = self._remove_stale()
        try:
            try:
                restore.apply()
            except Failed as exc:
                raise DrillError("the restore failed: %s" % exc.msg) from None
            finally:
                self._take_restore_result()
            decrypt = restore.result["decrypt_seconds"]
            if restore.result["snapshot"]["encryption"]:
                phases["decrypt"] = decrypt
            phases["restore"] = round(restore.result["restore_seconds"] - decrypt, 3)
            started = time.monotonic()
            self._start()
            phases["start"] = round(time.monotonic() - started, 3)
            started = time.monotonic()
            self.result["member"] = self._read()
            phases["verify"] = round(time.monotonic() - started, 3)
        finally:
            self._stop()
            self._remove_run_dir()

    def _check_bundles(self) -> None:
        """The control-plane bundles beside the snapshot, checked in this process; only this host's are opened."""
        params = self.params
        if not params["bundles"]:
            return
        found = bundles_beside(params["snapshot"])
        self.result["bundles"] = dict(check_bundles(params["snapshot"], found, params["decryption_key"],
                                                    params["bundles_sample"], opens_only=params["bundle_host"]),
                                      checked_on=params["bundle_host"])

    def _remove_stale(self) -> list[str]:
        removed = []
        for path in stale_runs(self.params["work_dir"]):
            for pid in processes_of(path):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        return removed

    def _start(self) -> None:
        self.process = command_seam.start(self.result["cmd"], os.path.join(self.run_dir, "etcd.log"), self.run_dir)
        deadline = time.monotonic() + self.params["start_timeout"]
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DrillError("the throwaway etcd member exited with code %s before it served" % self.process.returncode
                                 + self._log_excerpt())
            try:
                with connect_all(self._client_params())[0] as conn:
                    conn.health()
                return
            except EtcdError as exc:
                last = exc.msg
            time.sleep(0.2)
        raise DrillError("the throwaway etcd member did not serve within start_timeout (%ss): %s"
                         % (self.params["start_timeout"], last) + self._log_excerpt())

    def _client_params(self) -> dict[str, Any]:
        params = CONNECTION.defaults()
        params.update(endpoints=[self.result["client_url"]], dial_timeout=1.0, command_timeout=30.0)
        return params

    def _read(self) -> dict[str, Any]:
        try:
            info = gather(connect_all(self._client_params()), hash_kv=True, count_keys=True,
                          count_resources=self.params["count_resources"])
        except EtcdError as exc:
            raise DrillError("the throwaway member started but could not be read: %s" % exc.msg) from None
        endpoint = info["endpoints"][0]
        return dict(cluster_id=info["cluster_id"], member_id=endpoint["member_id"], version=endpoint["version"],
                    revision=endpoint["revision"], db_size=endpoint["db_size"], key_count=info["key_count"],
                    key_count_revision=info["key_count_revision"], hash_kv=(endpoint["hash_kv"] or {}).get("hash"),
                    hash_kv_revision=info["hash_kv_revision"], resources=info["resources"],
                    healthy=info["healthy"], problems=info["health_problems"] + endpoint["errors"])

    def _log_excerpt(self) -> str:
        self.result["log_tail"] = tail_file(os.path.join(self.run_dir, "etcd.log"), 15)
        return "; its log ends: %s" % " | ".join(self.result["log_tail"][-5:]) if self.result["log_tail"] else ""

    def _stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            self.process.send_signal(sig)
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
        self.result["left_behind"].append("etcd pid %d did not exit after SIGKILL" % self.process.pid)

    def _remove_run_dir(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if os.path.lexists(self.run_dir):
            self.result["left_behind"].append(self.run_dir)

    def done(self) -> str:
        self.result["duration_seconds"] = self.duration()
        return "restored %s and served it from a throwaway etcd %s: revision %s, %s keys; stopped and removed" % (
            self.params["snapshot"], self.result["etcd_version"], self.result["member"]["revision"],
            self.result["member"]["key_count"])

    def failed(self, exc: Exception) -> str:
        """The failure's message with what was left behind, or that nothing was."""
        self.result["duration_seconds"] = self.duration()
        message = getattr(exc, "msg", str(exc))
        if isinstance(exc, CleanupFailed):
            return message
        left = self.result["left_behind"]
        if left:
            return "%s Left behind: %s." % (message, ", ".join(left))
        if isinstance(exc, DrillError):
            return message + " The throwaway member was stopped and its run dir removed."
        return message

    def duration(self) -> float:
        return round(time.monotonic() - self.began, 3)
