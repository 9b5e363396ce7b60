# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape every module's work has, and the one main() that drives it.

A runner takes its options and a host context (_host.run.HostContext: the command seam, tool lookup, check mode) and
answers four calls: plan() makes every check and decides what would change (`result["changed"]`, the reasons in
would()); apply() does it; done() says what was done. `result` holds every return value of the module at any point,
so that a failure reports as much as a success. run_module() is the only place that turns the collection's own
failures (EtcdOpsError) and the host's (OSError) into fail_json."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec

_Planned = TypeVar("_Planned")


class Runner(Protocol):
    result: dict[str, Any]

    def plan(self) -> None:
        """Every check, before anything changes; raises EtcdOpsError (or OSError) with the reason."""

    def would(self) -> str:
        """What apply() would do (check mode), or that nothing needs doing."""

    def apply(self) -> None:
        """Do what plan() decided; raises EtcdOpsError or OSError, with `result` saying how far it got."""

    def done(self) -> str:
        """What apply() did."""


class ReadOnly:
    """The lifecycle of a runner that only reads (an _info module): plan() reads everything and says what it found
    in `message`; check mode and a run return the same, and apply() has nothing to do."""

    message = ""

    def would(self) -> str:
        return self.message

    def apply(self) -> None:
        """Nothing: plan() read all there is."""

    def done(self) -> str:
        return self.message


def planned(value: _Planned | None) -> _Planned:
    """`value`, which the runner's plan() set, where would(), apply() or done() use it: None there is a bug of the
    caller (run_module() always plans first), reported as such."""
    if value is None:
        raise RuntimeError("internal error in etcdops.dr: a runner was used before its plan() ran. Please report this.")
    return value


def failure_message(runner: Runner | None, exc: Exception) -> str:
    """The runner's own account of a failure (its failed(exc), when it has one), else the failure's message."""
    explain = getattr(runner, "failed", None)
    if explain is not None:
        return str(explain(exc))
    return getattr(exc, "msg", None) or str(exc)


def run_module(spec: ArgumentSpec, make: Callable[[dict[str, Any], HostContext], Runner]) -> NoReturn:
    """main() of every module: build the runner from the validated options, plan, then in check mode say what would
    happen, else apply and say what was done."""
    module = spec.create_ansible_module()
    runner = None
    try:
        runner = make(module.params, HostContext(module))
        runner.plan()
        if module.check_mode:
            message = runner.would()
        else:
            runner.apply()
            message = runner.done()
    except (EtcdOpsError, OSError) as exc:
        module.fail_json(**dict(runner.result if runner else {}, msg=failure_message(runner, exc)))
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
    module.exit_json(**dict(runner.result, msg=message))
