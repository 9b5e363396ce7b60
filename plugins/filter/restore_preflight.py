# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: restore_preflight
short_description: Whether a restore may go on, from every host's preflight, and in which mode and to which revision
version_added: 0.1.0
description:
  - The restore role's decision across the hosts (M(etcdops.dr.restore)), on the controller, from the result of
    M(etcdops.dr.etcd_restore_phase) with V(phase=preflight) each host registered.
  - It checks that the running cluster's members are the play's hosts, that each host's copy can be restored, that
    every copy is the same file, that the snapshot is of this cluster, the bump and the tool in Kubernetes mode
    (decided here - V(auto) is on when the snapshot holds keys under C(/registry/)), that the restored revision lies
    above what the cluster has served, that etcd's manager is known, that every source of etcd's configuration names
    the member as the inventory does, and in Kubernetes mode that every kube-apiserver host (C(restore_kube_apiserver_group),
    else the etcd hosts where kube-apiserver is found) can be reached and has its kube-apiserver. A check that cannot
    run is listed as such.
positional: hostvars, options
options:
  _input:
    description: The play's hosts (C(ansible_play_hosts_all)); the first one read the running cluster.
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  options:
    description: The role's C(restore_kubernetes), C(restore_bump_revision), C(restore_allow_foreign_snapshot),
      C(restore_require_cluster_match), C(restore_kube_apiserver_group) and that group's hosts
      (C(kube_apiserver_group_hosts)), and the run's id (C(run_id)).
    type: dict
    required: true
  registered:
    description: The name the preflight's result was registered under.
    type: str
    default: __restore_preflight
  external_registered:
    description: The name under which each host registered the check-mode M(etcdops.dr.kube_apiserver) runs it
      delegated to its share of the kube-apiserver hosts outside the play (a loop).
    type: str
    default: __restore_kube_apiserver_preflight
"""

EXAMPLES = r"""
- name: Decide across the hosts
  ansible.builtin.set_fact:
    decision: "{{ ansible_play_hosts_all | etcdops.dr.restore_preflight(hostvars, options) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    ok:
      description: Whether the restore may go on.
      type: bool
    problems:
      description: Every reason it may not, each naming the fix.
      type: list
      elements: str
    notes:
      description: What the operator should read (the cluster does not answer, an interrupted restore taken over, the
        sources of etcd's configuration checked on each host).
      type: list
      elements: str
    checks_not_run:
      description: Checks that could not run, with why.
      type: list
      elements: str
    warnings:
      description: What the plan must say loudly (Kubernetes mode with no kube-apiserver host known).
      type: list
      elements: str
    kubernetes:
      description: Kubernetes mode.
      type: bool
    kubernetes_reason:
      description: Why Kubernetes mode is on or off (C(restore_kubernetes), or the snapshot's keys under C(/registry/)).
      type: str
    kube_apiserver_hosts:
      description: In Kubernetes mode, the hosts whose kube-apiserver is stopped before any etcd and started after the
        verify (the play's first, then those outside it); empty outside Kubernetes mode.
      type: list
      elements: str
    kube_apiserver_external:
      description: Those of RV(_value.kube_apiserver_hosts) that are not hosts of the play.
      type: list
      elements: str
    bump:
      description: The revision bump (0 outside Kubernetes mode).
      type: int
    snapshot:
      description: The first host's report of the snapshot (sha256, revision, key_count, members, manifest...).
      type: dict
    expected_revision:
      description: The revision the restored members will start at (the lower end when it is not certain).
      type: int
    expected_revision_max:
      description: The highest revision they may start at.
      type: int
    leader:
      description: The host whose member leads, stopped last; null when no leader is known.
      type: str
"""

from ansible_collections.etcdops.dr.plugins.plugin_utils._restore_preflight import decide


def restore_preflight(hosts, hostvars, options, registered="__restore_preflight",
                      external_registered="__restore_kube_apiserver_preflight"):
    return decide(options, list(hosts), hostvars, registered, external_registered)


class FilterModule:
    def filters(self):
        return {"restore_preflight": restore_preflight}
