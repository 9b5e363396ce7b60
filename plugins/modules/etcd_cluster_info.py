#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_cluster_info
short_description: Report the members, leader, revisions, alarms and health of an etcd cluster
version_added: 0.1.0
description:
  - Asks every endpoint in O(endpoints) for its status over etcd's gRPC API and reports the cluster id,
    the members, each endpoint's state, the leader and the alarms.
  - With O(hash_kv=true) it also compares the KV hash of every member at one revision, which tells whether
    the members hold the same data.
  - Fails only when no endpoint answers or the options are wrong; unreachable endpoints are reported in
    RV(endpoints) and RV(health_problems).
extends_documentation_fragment:
  - etcdops.dr.attributes
  - etcdops.dr.connection
  - ansible.builtin.action_common_attributes
options:
  hash_kv:
    description:
      - Also get the KV hash of every reachable member at the newest revision they all have, and report
        whether they agree in RV(hash_kv_consistent).
    type: bool
    default: false
  count_keys:
    description:
      - Also count the live keys in every reachable member's own store at the newest revision they all have,
        reported in RV(key_count) and per endpoint. Members that differ make RV(healthy) false.
    type: bool
    default: false
  count_keys_revision:
    description:
      - With O(count_keys=true), count at this revision instead, or at the newest revision every reachable member
        has when that is lower. A restore counts at the revision it restored, so that writes after the start (a
        lease that expires, a client) do not change what is compared with the snapshot. The revision counted at is
        returned in RV(key_count_revision).
    type: int
  count_resources:
    description:
      - Also count the Kubernetes objects per resource type from kube-apiserver's keys under C(/registry/) (keys
        only, read in pages from the first member that answers), reported in RV(resources).
    type: bool
    default: false
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Report the cluster's health, with the kubeadm certificates
  etcdops.dr.etcd_cluster_info:
    endpoints:
      - https://10.0.0.11:2379
      - https://10.0.0.12:2379
      - https://10.0.0.13:2379
    cacert: /etc/kubernetes/pki/etcd/ca.crt
    cert: /etc/kubernetes/pki/etcd/healthcheck-client.crt
    key: /etc/kubernetes/pki/etcd/healthcheck-client.key
    hash_kv: true
  register: etcd

- name: Stop unless the cluster is healthy
  ansible.builtin.assert:
    that: etcd.healthy
    fail_msg: "{{ etcd.health_problems }}"
"""

RETURN = r"""
cluster_id:
  description: Cluster id in hex, as C(etcdctl) prints it.
  returned: always
  type: str
  sample: d182d97d7aa7ae8a
members:
  description: Members as listed by the first endpoint that answered.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Member id in hex.
      type: str
    name:
      description: Member name (empty for a member added but not started).
      type: str
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
    client_urls:
      description: Client URLs.
      type: list
      elements: str
    is_learner:
      description: Whether the member is a learner (non-voting).
      type: bool
endpoints:
  description: One entry per O(endpoints) item, in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    endpoint:
      description: The endpoint URL.
      type: str
    reachable:
      description: Whether it answered.
      type: bool
    cluster_id:
      description: Cluster id it reports, in hex.
      type: str
    member_id:
      description: Id of the member that answered, in hex.
      type: str
    name:
      description: Name of that member.
      type: str
    version:
      description: etcd server version.
      type: str
    db_size:
      description: Size of the backend database file in bytes.
      type: int
    db_size_in_use:
      description: Bytes of the database logically in use (etcd 3.4+; null on older servers).
      type: int
    leader_id:
      description: Leader this member sees, in hex; null when it sees none.
      type: str
    raft_index:
      description: Raft committed index.
      type: int
    raft_term:
      description: Raft term.
      type: int
    raft_applied_index:
      description: Raft applied index (etcd 3.4+).
      type: int
    revision:
      description: Store revision.
      type: int
    is_learner:
      description: Whether this member is a learner.
      type: bool
    errors:
      description: Why it is unreachable, or the errors the member itself reports.
      type: list
      elements: str
    hash_kv:
      description: With O(hash_kv=true), C(hash), C(compact_revision) and C(revision) of its KV store; else null.
      type: dict
    key_count:
      description: With O(count_keys=true), the live keys in its store; else null.
      type: int
leader:
  description: The leader most members report, as C(id) and C(name); null when none is reported.
  returned: always
  type: dict
  sample: {id: 8e9e05c52164694d, name: node1}
alarms:
  description: Raised alarms, each with C(member_id) and C(alarm) (V(NOSPACE) or V(CORRUPT)).
  returned: always
  type: list
  elements: dict
hash_kv_revision:
  description: Revision at which the KV hashes were taken; null unless O(hash_kv=true).
  returned: always
  type: int
hash_kv_consistent:
  description: Whether every reachable member has the same KV hash; null unless O(hash_kv=true).
  returned: always
  type: bool
key_count:
  description: With O(count_keys=true), the number of live keys every reachable member holds; null otherwise or
    when they differ.
  returned: always
  type: int
key_count_revision:
  description: The revision RV(key_count) was counted at; null without O(count_keys=true).
  returned: always
  type: int
resources:
  description:
    - With O(count_resources=true), the number of Kubernetes objects per resource type (V(secrets),
      V(services/specs), V(apps.openshift.io/deploymentconfigs)...) at RV(resources_revision); null otherwise.
  returned: always
  type: dict
  sample: {"configmaps": 12, "namespaces": 4, "secrets": 9}
resources_revision:
  description: The revision RV(resources) was counted at; null without O(count_resources=true).
  returned: always
  type: int
quorum:
  description:
    - Whether more than half of the voting members (learners do not vote) answer and follow one leader, so that
      the cluster works even when RV(healthy) is false because some members are down.
  returned: always
  type: bool
learners:
  description:
    - Each learner (a member that receives the log but does not vote, as kubeadm joins members since 1.29) and its
      progress; empty when there is none. A learner can be promoted once it has caught up with the leader.
  returned: always
  type: list
  elements: dict
  contains:
    id: {description: Member id (hex)., type: str}
    name: {description: Member name; empty until it has started., type: str}
    peer_urls: {description: Its peer URLs., type: list, elements: str}
    reachable: {description: Whether its endpoint is among O(endpoints) and answered., type: bool}
    applied_index: {description: The raft index it has applied; null when it did not answer., type: int}
    leader_applied_index: {description: The leader's applied raft index; null when the leader did not answer., type: int}
    behind: {description: How many raft entries it is behind the leader; null when either did not answer., type: int}
missing_members:
  description: Names of the members (their ids when unnamed) whose endpoint did not answer or follows another leader.
  returned: always
  type: list
  elements: str
healthy:
  description: True when every endpoint answered, all agree on one leader and cluster, no alarm is raised, no
    member reports errors and (with O(hash_kv=true)) the hashes agree.
  returned: always
  type: bool
health_problems:
  description: Each reason RV(healthy) is false.
  returned: always
  type: list
  elements: str
client_library:
  description: Python client used, V(pyetcd) or V(etcd3).
  returned: always
  type: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.cluster_info import ARGUMENT_SPEC, ClusterInfo


def main():
    run_module(ARGUMENT_SPEC, ClusterInfo)


if __name__ == "__main__":
    main()
