# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring this host's etcd member to a state and prove it: stopped = process gone and ports free;
started = the member answers a health check."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member as _local_member
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.client import (
    EtcdConnection, EtcdError, check_params, load_library, parse_endpoint)
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

# Processes, ports and health are cheap to look at; asking the manager may start a program (supervisorctl is a
# Python process of its own), so it is asked at most once a MANAGER_POLL_SECONDS while waiting.
POLL_SECONDS = 0.1
MANAGER_POLL_SECONDS = 1.0
DEFAULT_PEER_PORT = 2380


class WaitTimeout(EtcdOpsError):
    """The member did not reach the state in time (or its manager gave up on it). `starting`: the
    member's log may say why."""

    def __init__(self, msg: str, starting: bool = True) -> None:
        super().__init__(msg)
        self.starting = starting


class _Throttle:
    """due() is true at the first call and then at most once every `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self.last is not None and now - self.last < self.seconds:
            return False
        self.last = now
        return True


def plan(state: str, running: bool) -> list[str]:
    """The actions that bring a member that is (not) `running` to `state`."""
    if state == "stopped":
        return ["stop"] if running else []
    if state == "started":
        return [] if running else ["start"]
    return (["stop"] if running else []) + ["start"]


def member_addresses(params: dict[str, Any]) -> list[tuple[str | None, int | None]]:
    """(ip, port) pairs this member listens on: its client URL and its peer URL (any address on port
    2380 when the peer URL is not given)."""
    for url in (params["endpoint"], params["peer_url"]):
        if url:
            parse_endpoint(url)
    addresses = [_local_member.url_address(params["endpoint"])]
    if params["peer_url"]:
        addresses.append(_local_member.url_address(params["peer_url"]))
    else:
        addresses.append((None, DEFAULT_PEER_PORT))
    return addresses


def wait_stopped(backend: Any, addresses: Sequence[tuple[str | None, int | None]], pids: Sequence[int],
                 timeout: float) -> None:
    """Wait until the manager has stopped etcd, `pids` have exited and nobody listens on `addresses`.

    Raises WaitTimeout with what still runs."""
    started = time.monotonic()
    asked = _Throttle(MANAGER_POLL_SECONDS)
    while True:
        left = [pid for pid in pids if _local_member.alive(pid)]
        listeners = _local_member.listeners_on(addresses)
        if not left and not listeners and asked.due():
            state = backend.state()
            if not state.running:
                return
        if time.monotonic() - started >= timeout:
            state = backend.state()
            still = []
            if state.running:
                still.append("%s still reports it running (%s)" % (backend.describe(), state.detail))
            still += [_local_member.describe_process(pid) + " has not exited" for pid in left]
            if listeners:
                still.append(_local_member.describe_listeners(listeners))
            raise WaitTimeout("etcd did not stop within %ss: %s." % (timeout, "; ".join(still)), starting=False)
        time.sleep(POLL_SECONDS)


class HealthProbe:
    """One health check of the local member per call, through the shared client."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = dict(params, endpoints=[params["endpoint"]])
        check_params(self.params)
        self.library = load_library(params["client_library"])
        self.last_error: str | None = None

    def __call__(self, time_left: float) -> bool:
        params = dict(self.params, command_timeout=max(1.0, min(self.params["command_timeout"], time_left)),
                      dial_timeout=max(0.5, min(self.params["dial_timeout"], time_left)))
        connection = EtcdConnection(params["endpoint"], params, self.library)
        try:
            connection.open()
            connection.health()
            return True
        except EtcdError as exc:
            self.last_error = exc.msg
            return False
        finally:
            connection.close()


class Probe(Protocol):
    """What wait_started() asks: whether the member is up (given the seconds left), and why not."""

    last_error: str | None

    def __call__(self, time_left: float) -> bool: ...


def wait_started(backend: Any, probe: Probe, timeout: float) -> None:
    """Wait until the member answers `probe`; stop early when the manager gave up on it.

    Raises WaitTimeout saying why it is not healthy."""
    started = time.monotonic()
    asked = _Throttle(MANAGER_POLL_SECONDS)
    while True:
        left = timeout - (time.monotonic() - started)
        if probe(left):
            return
        timed_out = time.monotonic() - started >= timeout
        if not (asked.due() or timed_out):
            time.sleep(POLL_SECONDS)
            continue
        state = backend.state()
        if state.failed:
            raise WaitTimeout("etcd failed to start: %s; last health check: %s" % (state.detail, probe.last_error))
        if not state.running:
            raise WaitTimeout("etcd is not running: %s" % state.detail)
        if timed_out:
            raise WaitTimeout("etcd did not answer a health check within %ss (%s); last health check: %s "
                              "(a member serves only once a majority of the cluster's members run: start them "
                              "together)" % (timeout, state.detail, probe.last_error))
        time.sleep(POLL_SECONDS)
