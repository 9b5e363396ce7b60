# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where the collection runs commands on a host (unit tests fake it)."""
from __future__ import annotations

import collections
import os
import subprocess
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, overload

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

if TYPE_CHECKING:
    from typing import Literal

    from ansible.module_utils.basic import AnsibleModule

Completed = collections.namedtuple("Completed", "cmd rc stdout stderr")

# gRPC channels open in this process (the etcd client registers them). gRPC's fork handlers sometimes kill a child
# started while a channel is open (SIGABRT, seen in 2-3% of runs with grpcio 1.85), so no command may run then.
_OPEN_CHANNELS: set[int] = set()


class ChannelOpenError(RuntimeError):
    """A command was about to run while a gRPC channel is open: a bug in the collection, never the user's."""


def channel_opened(channel: object) -> None:
    _OPEN_CHANNELS.add(id(channel))


def channel_closed(channel: object) -> None:
    _OPEN_CHANNELS.discard(id(channel))


class CommandError(EtcdOpsError):
    """A command that failed; the message carries the command, its rc and what it printed."""

    def __init__(self, completed: Completed, why: str | None = None) -> None:
        out = (completed.stderr or completed.stdout or "").strip()
        tail = "\n".join(out.splitlines()[-10:])
        super().__init__("%s%s failed with rc %s%s" % (
            why + ": " if why else "", " ".join(completed.cmd), completed.rc, (": " + tail) if tail else ""))
        self.completed = completed


class CommandHost(Protocol):
    """What the command seam and tool lookup need of a host: a module's HostContext, or the controller in an action
    plugin (plugin_utils._controller)."""

    check_mode: bool

    def run_command(self, cmd: list[str], **kwargs: Any) -> tuple[int, str, str]: ...

    def get_bin_path(self, name: str, required: bool = False) -> str | None: ...


class HostContext:
    """What a runner needs of the host it runs on, apart from its options: the command seam (`run_command`, called
    only by run() below), tool lookup, check mode, and the values to mask in what the module returns. Built by
    _runner.run_module from the AnsibleModule; unit tests give a fake with the same methods."""

    def __init__(self, module: AnsibleModule, check_mode: bool | None = None) -> None:
        self._module = module
        self.check_mode = module.check_mode if check_mode is None else check_mode

    def checking(self) -> HostContext:
        """The same host for a runner that must only plan (a preflight runs its checks outside check mode too)."""
        return HostContext(self._module, check_mode=True)

    def run_command(self, cmd: list[str], **kwargs: Any) -> tuple[int, str, str]:
        return self._module.run_command(cmd, **kwargs)

    @overload
    def get_bin_path(self, name: str, required: Literal[True]) -> str: ...

    @overload
    def get_bin_path(self, name: str, required: bool = False) -> str | None: ...

    def get_bin_path(self, name: str, required: bool = False) -> str | None:
        return self._module.get_bin_path(name, required=required)

    @property
    def tmpdir(self) -> str:
        return self._module.tmpdir

    def no_log(self, values: Iterable[str]) -> None:
        """Mask `values` (secrets the options carry inside a larger value, such as a password in a URL)."""
        self._module.no_log_values.update(value for value in values if value)


def run(host: CommandHost, cmd: Sequence[object], check: bool = True,
        why: str | None = None) -> Completed:
    """Run `cmd` (a list, never a shell string) with LANG=C; raise CommandError on failure if `check`."""
    argv = [str(part) for part in cmd]
    _no_channel_open(argv)
    rc, stdout, stderr = host.run_command(argv, check_rc=False, environ_update={"LANG": "C", "LC_ALL": "C"})
    completed = Completed(argv, rc, stdout, stderr)
    if check and rc != 0:
        raise CommandError(completed, why)
    return completed


def etcd_tool_candidates(host: CommandHost, etcdutl: str | None = None,
                         etcdctl: str | None = None) -> Sequence[tuple[str, str | None]]:
    """[(name, path)] of etcd's tools to try, in order: the ones given (etcdutl first), else etcdutl and etcdctl as
    found on PATH (path None when not found)."""
    given = [(name, path) for name, path in (("etcdutl", etcdutl), ("etcdctl", etcdctl)) if path]
    return given or [(name, host.get_bin_path(name)) for name in ("etcdutl", "etcdctl")]


def _no_channel_open(cmd: Sequence[str]) -> None:
    if _OPEN_CHANNELS:
        raise ChannelOpenError("internal error in etcdops.dr: %s was to run while %d gRPC channel(s) to etcd are "
                               "open, which can kill it (SIGABRT); close the connection first. Please report this."
                               % (cmd[0], len(_OPEN_CHANNELS)))


def start(cmd: Sequence[object], log_path: str, cwd: str) -> subprocess.Popen[bytes]:
    """Start a server that runs on (`cmd`, a list) in a session of its own, output appended to `log_path`, with
    LANG=C and without the host's ETCD_* variables: etcd takes them as flags, and those are the production member's."""
    argv = [str(part) for part in cmd]
    _no_channel_open(argv)
    environ = {name: value for name, value in os.environ.items() if not name.startswith("ETCD_")}
    environ.update(LANG="C", LC_ALL="C")
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                env=environ, cwd=cwd, start_new_session=True)
