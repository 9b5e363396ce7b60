#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_backup_preflight
short_description: What an online backup must know of one host before it chooses the source member
version_added: 0.1.0
description:
  - The backup role (M(etcdops.dr.backup)) runs it on every host at once, in one run per host, before it chooses
    the member to snapshot (the P(etcdops.dr.snapshot_source#filter) filter) - a host that cannot be reached is passed
    over.
  - With O(read_cluster), it reads the cluster from this host as M(etcdops.dr.etcd_cluster_info) does (each
    endpoint's status, members, alarms).
  - It plans the snapshot of this host's member (O(endpoint)) as M(etcdops.dr.etcd_snapshot) does in check mode - the
    member answers, O(dest_dir) is writable with room for its database, O(recipients) are X25519 public keys - and
    the retention M(etcdops.dr.etcd_snapshot_prune) would apply in O(dest_dir) afterwards (O(keep_last),
    O(max_age)), keeping the file the snapshot would write.
  - Writes nothing. A check that fails does not fail the module; RV(problems) has its message.
attributes:
  check_mode:
    support: full
    details: The same in both modes.
  platform:
    details: Linux.
extends_documentation_fragment:
  - etcdops.dr.connection
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  endpoint:
    description: This host's member's client URL.
    type: str
    required: true
  dest_dir:
    description: Where the snapshot would be written.
    type: path
    required: true
  prefix:
    description: Start of the snapshot's file name.
    type: str
    default: etcd-snapshot
  owner:
    description: Owner the snapshot would get.
    type: str
  group:
    description: Group the snapshot would get.
    type: str
  recipients:
    description: X25519 public keys (PEM) the snapshot would be encrypted to.
    type: list
    elements: str
    default: []
  keep_last:
    description: Retention in O(dest_dir) - the newest N (V(0), no count limit).
    type: int
    default: 0
  max_age:
    description: Retention in O(dest_dir) - no backup older than this (such as V(7d)); empty, no age limit.
    type: str
    default: ""
  read_cluster:
    description: Read the cluster from this host (RV(cluster)).
    type: bool
    default: true
  bundle_detect:
    description: Paths whose presence on this host says it is a control plane whose bundle is taken
      (M(etcdops.dr.etcd_bundle)); those that exist are returned in RV(bundle_layout).
    type: list
    elements: path
    default: []
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: What every host can tell and do before the source is chosen
  etcdops.dr.etcd_backup_preflight:
    endpoint: "{{ etcd_client_url }}"
    dest_dir: /var/backups/etcd
    keep_last: 24
  register: preflight
  ignore_unreachable: true
"""

RETURN = r"""
cluster:
  description: The cluster as M(etcdops.dr.etcd_cluster_info) returns it, with C(answered); C(answered) false and
    C(msg) when no member answered. Null without O(read_cluster).
  returned: always
  type: dict
snapshot_check:
  description: What M(etcdops.dr.etcd_snapshot) returns in check mode for this member (C(path), C(size),
    C(member_name)...).
  returned: always
  type: dict
retention_check:
  description: What M(etcdops.dr.etcd_snapshot_prune) returns in check mode for O(dest_dir).
  returned: always
  type: dict
began_at:
  description: When the preflight began, in seconds since the epoch on this host.
  returned: always
  type: float
bundle_layout:
  description: The paths of O(bundle_detect) that exist on this host.
  returned: always
  type: list
  elements: str
problems:
  description: The checks that failed, by step (V(snapshot_check), V(retention_check)), each with its message.
  returned: always
  type: dict
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.preflight import ARGUMENT_SPEC, BackupPreflight


def main():
    run_module(ARGUMENT_SPEC, BackupPreflight)


if __name__ == "__main__":
    main()
