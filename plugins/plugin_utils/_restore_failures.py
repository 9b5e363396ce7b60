# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failures of a restore's phases after the stop, read from what each host registered (etcd_restore_phase's
results): one record per failure, keyed by step id, with a label only for the message. A host that could not be
reached (the role keeps it in the play with ignore_unreachable) is recorded as lost, with the phase it was lost in."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._restore.phases import STEP_LABELS

# What each phase is called when a host was lost in it (the step inside it is not known then).
PHASE_LABELS = dict(stop="stop", restore="restore", start="start", finish="finish", undo="roll back")
# What a host lost in each phase was last known to be doing.
LEFT_IN = dict(
    stop="kube-apiserver may be stopped there; etcd may still run there on its own data, or be stopped",
    restore="etcd was stopped there; its data dir is its own or, if the restore ran, a restored copy",
    start="its data dir holds restored data, and etcd may run on it",
)


def failures(hosts: Sequence[str], hostvars: Mapping[str, Any], registered: Mapping[str, str]) -> list[dict[str, Any]]:
    """[{host, phase, step, label, lost, msg, text}] for each host whose result under a name of `registered`
    ({variable: phase}) failed or was unreachable, in the order of `registered` then of `hosts`. Every one counts,
    two hosts failing alike included."""
    found: list[dict[str, Any]] = []
    for variable, phase in registered.items():
        for host in hosts:
            result = hostvars[host][variable] if variable in hostvars[host] else None
            if result and "results" in result:
                found += _kube_apiserver_failures(result["results"], phase)
                continue
            if not result or result.get("skipped") or not (result.get("failed") or result.get("unreachable")):
                continue
            lost = bool(result.get("unreachable"))
            step = None if lost else result.get("failed_step")
            msg = str(result.get("msg") or "").strip()
            label = STEP_LABELS.get(step, PHASE_LABELS.get(phase, phase)) if step else PHASE_LABELS.get(phase, phase)
            # The verify speaks of the whole cluster, not of the host it ran on.
            text = msg if step == "verify" else "%s %s %s: %s" % (
                label, "could not reach" if lost else "failed on", host, msg)
            found.append(dict(host=host, phase=phase, step=step, label=label, lost=lost, msg=msg, text=text,
                              left=LEFT_IN.get(phase, "its state is not known") if lost else None))
    return found


def _kube_apiserver_failures(results: Sequence[Mapping[str, Any]], phase: str) -> list[dict[str, Any]]:
    """The failures of a loop of kube_apiserver runs delegated to kube-apiserver hosts outside the play (one per host
    it reached or could not reach): each keyed by the step it stands for, on the host it was delegated to. Such a
    host holds no etcd: it is never taken for a lost member (`lost` false)."""
    step = "kube_apiserver_stop" if phase == "stop" else "kube_apiserver_start"
    found = []
    for result in results:
        if result.get("skipped") or not (result.get("failed") or result.get("unreachable")):
            continue
        host = result[result.get("ansible_loop_var") or "item"]
        msg = str(result.get("msg") or "").strip()
        text = "%s %s %s (kube-apiserver host): %s" % (
            STEP_LABELS[step], "could not reach" if result.get("unreachable") else "failed on", host, msg)
        found.append(dict(host=host, phase=phase, step=step, label=STEP_LABELS[step], lost=False, msg=msg, text=text,
                          left=None, kube_apiserver_host=True))
    return found
