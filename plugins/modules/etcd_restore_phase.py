#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_restore_phase
short_description: One phase of a whole-cluster restore on one member, as the restore role runs it
version_added: 0.1.0
description:
  - The restore role (M(etcdops.dr.restore)) runs a restore as phases across the inventory, one run of this module
    per host per phase (at most five on a host), with Ansible's barrier between phases (nothing starts until every member has restored; the
    leader stops last). Each phase runs its steps in order with the same code as the standalone modules
    M(etcdops.dr.etcd_service), M(etcdops.dr.kube_apiserver), M(etcdops.dr.etcd_restore),
    M(etcdops.dr.etcd_restore_journal), M(etcdops.dr.etcd_restore_leftovers) and M(etcdops.dr.etcd_restore_rollback);
    in your own playbooks, use those.
  - "V(preflight): every check, changing nothing, in check mode or not: the snapshot, the tool and the disk
    (etcd_restore in check mode, with no bump: the role checks the bump once Kubernetes mode is decided), etcd's
    manager and its configuration (etcd_service), kube-apiserver's manager and whether it has a kube-apiserver here
    (unless O(kubernetes=false); C(found) in RV(kube_apiserver_check)), the restore journal; with
    O(read_cluster), the running cluster. A check that fails does not fail the module: RV(problems) has it by step."
  - "V(stop): the plan recorded in the journal (step V(planned)), kube-apiserver stopped (O(kubernetes=true)), etcd
    stopped (unless O(stop_etcd=false)). V(restore): the member restored (the journal records V(stopped), V(staged), V(swapped)). V(start): etcd
    started and healthy, the journal records V(started); with O(verify) (the role asks it of one host), then the
    cluster read until it is healthy with one revision and one KV hash, and every member must be at
    O(expected_revision) or above, with O(key_count) live keys there, O(member_count) members (step V(verify)).
    V(finish): kube-apiserver started (O(kubernetes=true)), the journal
    records V(verified), leftovers removed (O(keep_previous), O(remove_files)); a kube-apiserver that does not start
    fails it after the rest ran, and nothing is rolled back. V(undo): where the journal holds an unfinished restore,
    etcd stopped and the previous data put back; etcd started and waited for; kube-apiserver started as
    O(start_kube_apiserver) says; with O(read_cluster) the cluster read until healthy (or working with a quorum,
    O(accept_quorum))."
  - A failed step is named in RV(failed_step); once the journal holds this run, the failure is added to it
    (C(failures)).
attributes:
  action:
    support: full
    details: The action plugin sends O(src) from the controller for V(preflight); otherwise it only runs the module.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Plans every step of the phase and says what it would do; V(preflight) is the same in both modes.
  platform:
    details: Linux.
extends_documentation_fragment:
  - etcdops.dr.connection
  - etcdops.dr.member_service
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
options:
  phase:
    description: The phase to run.
    type: str
    required: true
    choices: [preflight, stop, restore, start, finish, undo]
  run_id:
    description: The restore run's id (its stamp, such as V(20261124T101500Z)), the same on every member.
    type: str
  name:
    description: This member's name (etcd's C(--name)).
    type: str
    required: true
  peer_url:
    description: This member's peer URL.
    type: str
    required: true
  client_url:
    description: This member's client URL.
    type: str
    required: true
  data_dir:
    description: The member's data dir.
    type: path
    required: true
  wal_dir:
    description: The member's WAL dir, when etcd runs with C(--wal-dir).
    type: path
  timeout:
    description: Seconds a stop or start of etcd or kube-apiserver may take.
    type: float
    default: 120
  kubernetes:
    description:
      - Kubernetes mode. V(true) stops kube-apiserver before etcd and starts it after the verify; V(false) does not
        touch it (the journal records it, so that the rollback starts kube-apiserver where it was stopped). For V(preflight),
        V(auto) checks kube-apiserver's manager as V(true) does and reports whether it has a kube-apiserver here; the
        role decides the mode across the hosts, and on which hosts kube-apiserver is stopped.
    type: raw
    default: "false"
  kube_apiserver_manager:
    description: M(etcdops.dr.kube_apiserver)'s O(etcdops.dr.kube_apiserver#module:manager).
    type: str
    default: static_pod
    choices: [static_pod, supervisor, systemd]
  kube_manifest_dir:
    description: Where kube-apiserver's static pod manifest is.
    type: path
    default: /etc/kubernetes/manifests
  kube_held_manifest_dir:
    description: Where kube-apiserver's manifest is held while it is stopped.
    type: path
    default: /etc/kubernetes/etcdops-held-manifests
  kube_apiserver_name:
    description: kube-apiserver's supervisor program or systemd unit.
    type: str
    default: kube-apiserver
  kube_apiserver_address:
    description: The address kube-apiserver listens on; any when not given.
    type: str
  kube_apiserver_port:
    description: The port kube-apiserver listens on.
    type: int
    default: 6443
  start_kube_apiserver:
    description: Whether V(undo) starts kube-apiserver (the restore run stopped it); unset, it does where the journal
      holds an unfinished restore in Kubernetes mode.
    type: bool
  stop_etcd:
    description: With V(false), V(stop) stops only kube-apiserver (the role's first stop on the leader, so that every
      kube-apiserver stops before any etcd; a second run stops its etcd last).
    type: bool
    default: true
  snapshot:
    description: The snapshot file on this host.
    type: path
  src:
    description:
      - V(preflight) - a snapshot on the controller to restore from. The module's action plugin sends it to the host
        with the same run, and the module puts it at O(snapshot) (0600, its dir created 0700 when missing; an older
        file of that name replaced whole) before its checks, once it has O(src_sha256); C(changed) then says so.
    type: path
  src_sha256:
    description: The sha256 O(src) has on the controller; a copy that arrives with another replaces nothing.
    type: str
  sha256:
    description: sha256 of the snapshot, the same on every member.
    type: str
  manifest:
    description: The snapshot's manifest as read where the file came from.
    type: dict
  checked_file:
    description: RV(etcdops.dr.etcd_restore#module:checked_file) of this host's preflight.
    type: dict
    suboptions:
      identity:
        description: The file's identity as the check saw it.
        type: str
        required: true
      sha256:
        description: The sha256 the check computed.
        type: str
        required: true
  initial_cluster:
    description: Every member as C(name=peer-url,...).
    type: str
  cluster_token:
    description: The restored cluster's token, the same on every member.
    type: str
  bump_revision:
    description: C(--bump-revision) with C(--mark-compacted); 0 for none.
    type: int
    default: 0
  server_version:
    description: The etcd version that will run on the restored data.
    type: str
  initial_memory_map_size:
    description: etcdutl's C(--initial-memory-map-size).
    type: int
  etcdutl:
    description: Path of etcdutl.
    type: path
  etcdctl:
    description: Path of etcdctl (etcd 3.4).
    type: path
  owner:
    description: Owner of the restored data dir.
    type: str
  group:
    description: Group of the restored data dir.
    type: str
  mode:
    description: Mode of the restored data dir.
    type: raw
  decryption_key:
    description: The X25519 private key (PEM) of an encrypted snapshot's recipient. Never logged.
    type: str
  count_keys:
    description: V(preflight) counts the live keys in the snapshot (one host is enough).
    type: bool
    default: false
  live_revision:
    description: The newest revision the cluster is known to have served, recorded with the plan.
    type: int
  read_cluster:
    description: V(preflight) reads the running cluster (RV(cluster)); V(undo) waits for the cluster once this member runs.
    type: bool
    default: false
  accept_quorum:
    description: V(undo)'s wait accepts a cluster that works without some members (hosts lost).
    type: bool
    default: false
  health_retries:
    description: How many times the verify and V(undo) read the cluster before they give up.
    type: int
    default: 60
  health_delay:
    description: Seconds between those reads.
    type: float
    default: 2
  verify:
    description: V(start) then verifies the restored cluster (one host is enough).
    type: bool
    default: false
  expected_revision:
    description: The lowest revision the verify accepts (the restored revision).
    type: int
  expected_revision_max:
    description: The highest revision a restored member may start at; the keys are counted there.
    type: int
  key_count:
    description: The live keys the snapshot holds, which the restored cluster must hold.
    type: int
  member_count:
    description: How many members the restored cluster must have.
    type: int
  keep_previous:
    description: V(finish) keeps the newest N pre-restore data dirs.
    type: int
    default: 1
  remove_files:
    description: V(finish) removes these snapshot copies.
    type: list
    elements: path
    default: []
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
# The restore role runs this module; see roles/restore/tasks/. In your own playbooks use the standalone modules.
- name: Check this member before a restore
  etcdops.dr.etcd_restore_phase:
    phase: preflight
    run_id: "20261124T101500Z"
    name: cp1
    peer_url: https://10.0.0.11:2380
    client_url: https://10.0.0.11:2379
    data_dir: /var/lib/etcd
    snapshot: /var/lib/etcd-restore/etcd-snapshot-20261124T101500Z.db
    initial_cluster: cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380,cp3=https://10.0.0.13:2380
    cluster_token: etcd-restore-20261124T101500Z
    kubernetes: auto
  register: preflight
"""

RETURN = r"""
phase:
  description: The phase that ran.
  returned: always
  type: str
failed_step:
  description: The id of the step that failed (such as V(etcd_stop), V(restore), V(verify), V(kube_apiserver_start));
    null when none did.
  returned: always
  type: str
failure_in_journal:
  description: Whether the failure was added to the member's journal.
  returned: when a step failed
  type: bool
began_at:
  description: When the phase began, in seconds since the epoch on this host.
  returned: always
  type: float
ended_at:
  description: When it ended.
  returned: always
  type: float
problems:
  description: V(preflight) - the checks that failed, by step id (V(restore_check), V(service_check),
    V(kube_apiserver_check)), each with its message.
  returned: preflight
  type: dict
placed:
  description: V(preflight) - where the snapshot sent from the controller (O(src)) was put; null without O(src).
  returned: preflight
  type: str
member:
  description: V(preflight) - the member as it was given (O(name), O(peer_url), O(client_url), O(data_dir)).
  returned: preflight
  type: dict
cluster:
  description: The cluster as M(etcdops.dr.etcd_cluster_info) returns it (V(preflight) and V(undo) with
    O(read_cluster)), with C(answered) false and C(msg) when no member answered.
  returned: when read
  type: dict
restore_check:
  description: V(preflight) - what M(etcdops.dr.etcd_restore) returns in check mode.
  returned: preflight
  type: dict
service_check:
  description: V(preflight) - what M(etcdops.dr.etcd_service) returns in check mode.
  returned: preflight
  type: dict
kube_apiserver_check:
  description: V(preflight) - what M(etcdops.dr.kube_apiserver) returns in check mode; its C(found) says whether
    kube-apiserver's manager has one on this host (its manifest, program or unit).
  returned: preflight, unless O(kubernetes=false)
  type: dict
journal_planned:
  description: V(stop) - what M(etcdops.dr.etcd_restore_journal) returns.
  returned: stop
  type: dict
kube_apiserver_stop:
  description: V(stop) - what M(etcdops.dr.kube_apiserver) returns.
  returned: stop with O(kubernetes=true)
  type: dict
etcd_stop:
  description: V(stop), V(undo) - what M(etcdops.dr.etcd_service) returns.
  returned: stop, undo
  type: dict
restore:
  description: V(restore) - what M(etcdops.dr.etcd_restore) returns.
  returned: restore
  type: dict
etcd_start:
  description: V(start), V(undo) - what M(etcdops.dr.etcd_service) returns.
  returned: start, undo
  type: dict
journal_started:
  description: V(start) - what M(etcdops.dr.etcd_restore_journal) returns.
  returned: start
  type: dict
verify:
  description: V(start) with O(verify) - the restored cluster as it was verified (C(cluster)).
  returned: start with O(verify)
  type: dict
kube_apiserver_start:
  description: V(finish), V(undo) - what M(etcdops.dr.kube_apiserver) returns.
  returned: when kube-apiserver is started
  type: dict
leftovers:
  description: V(finish) - what M(etcdops.dr.etcd_restore_leftovers) returns.
  returned: finish
  type: dict
leftovers_problem:
  description: V(finish) - why the journal could not record the verified restore or a leftover could not go; null
    when nothing went wrong. The restore is done either way.
  returned: finish
  type: str
journal_recorded:
  description: V(finish) - whether the journal records the verified restore.
  returned: finish
  type: bool
rollback:
  description: V(undo) - what M(etcdops.dr.etcd_restore_rollback) returns.
  returned: undo
  type: dict
rollback_msg:
  description: V(undo) - what was put back (in check mode, what would be), or why nothing needed it.
  returned: undo
  type: str
rolls_back:
  description: V(undo) - whether the journal held an unfinished restore to put back.
  returned: undo
  type: bool
kubernetes:
  description: V(undo) - whether the journal records Kubernetes mode for the unfinished restore.
  returned: undo
  type: bool
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._restore.phases import ARGUMENT_SPEC, make


def main():
    run_module(ARGUMENT_SPEC, make)


if __name__ == "__main__":
    main()
