# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: snapshot_source
short_description: Choose the etcd member an online backup is taken from
version_added: 0.1.0
description:
  - From the result of M(etcdops.dr.etcd_cluster_info), picks the inventory host whose member is snapshotted - one
    that answers, belongs to the cluster, is not a learner, reports no error and is at most O(max_raft_lag) raft
    entries behind the leader. The first such follower (in the order of O(host_urls)) is preferred, sparing the
    leader; the leader is used when no follower qualifies.
  - With O(require_healthy), the cluster must have one leader that its members agree on and no alarm; members that
    do not answer are passed over, not a reason to refuse.
  - Never fails; the result says why there is no source in RV(_value.problems).
positional: host_urls
options:
  _input:
    description: The registered result of M(etcdops.dr.etcd_cluster_info).
    type: dict
    required: true
  host_urls:
    description: Inventory host to its member's client URL, in the order of preference.
    type: dict
    required: true
  source:
    description: A host that must be the source; empty to choose one.
    type: str
    default: ""
  prefer_follower:
    description: Prefer a follower over the leader.
    type: bool
    default: true
  max_raft_lag:
    description: How many raft entries a member may be behind the leader's committed index.
    type: int
    default: 1000
  require_healthy:
    description: Refuse a cluster without an agreed leader, or with an alarm raised.
    type: bool
    default: true
  unreachable:
    description: Hosts of O(host_urls) that cannot be reached over SSH, so cannot take the snapshot.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Choose the source member
  ansible.builtin.set_fact:
    source: "{{ cluster | etcdops.dr.snapshot_source({'node1': 'https://10.0.0.1:2379', 'node2': 'https://10.0.0.2:2379'}) }}"
"""

RETURN = r"""
_value:
  description: The choice.
  type: dict
  contains:
    ok:
      description: Whether a source was chosen.
      type: bool
    host:
      description: The inventory host chosen.
      type: str
    endpoint:
      description: Its member's client URL.
      type: str
    member_id:
      description: Its member id, in hex.
      type: str
    member_name:
      description: Its member name.
      type: str
    is_leader:
      description: Whether it is the leader.
      type: bool
    why:
      description: Why it was chosen.
      type: str
    skipped:
      description: Each host passed over, and why.
      type: list
      elements: str
    problems:
      description: Why no source was chosen.
      type: list
      elements: str
    cluster_unfit:
      description: Whether the problems are the cluster's (no agreed leader, an alarm) rather than the members'.
      type: bool
"""

from ansible_collections.etcdops.dr.plugins.plugin_utils._source_choice import choose_source


def snapshot_source(cluster, host_urls, source="", prefer_follower=True, max_raft_lag=1000, require_healthy=True,
                    unreachable=()):
    return choose_source(cluster, dict(host_urls), source=source or "", prefer_follower=prefer_follower,
                         max_raft_lag=int(max_raft_lag), require_healthy=require_healthy,
                         unreachable=list(unreachable or ()))


class FilterModule:
    def filters(self):
        return {"snapshot_source": snapshot_source}
