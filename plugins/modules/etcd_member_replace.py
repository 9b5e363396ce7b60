#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_member_replace
short_description: One phase of the replacement of one etcd member, on its host, as the replace_member role runs it
version_added: 0.1.0
description:
  - Replaces a lost member of a cluster that keeps quorum without it, in etcd's documented order (runtime
    reconfiguration), one phase per run on the replaced member's host. The role C(etcdops.dr.replace) (playbook C(etcdops.dr.replace_member)) runs
    the phases in order; see docs/replace_member.md.
  - "V(preflight): every check, changing nothing: the cluster through O(endpoints) (quorum without this member, the
    rest healthy, no alarm, no other learner), whether the old member still answers (refused unless O(force)), etcd's
    manager and configuration on this host (its name, peer URL and data dir must be the inventory's), the new
    member's TLS files, the etcd version that will run it, free disk, and the configuration edits it will make
    (RV(config_changes), RV(config_diff)). Fails with every problem at once."
  - "V(remove): the plan recorded in the journal C(<data_dir>.etcdops-replace.json), etcd stopped here, the old member
    (by name or peer URL) removed by id, its data dir (and WAL dir) renamed to C(<data_dir>.pre-replace-<run_id>)
    (a data dir that is a mount point stays, its C(member) dir is renamed to C(<data_dir>/member.pre-replace-<run_id>)).
    V(add): the new member added as a learner, then C(initial-cluster-state=existing) and the current
    C(initial-cluster) set where etcd's configuration lives (its YAML config file; else the flags or ETCD_ variables
    of its supervisor program, systemd unit or environment file, or kubeadm static pod manifest), each file kept in
    C(<data_dir>.replace-config-<run_id>) first. V(start): etcd started, running with its peer port open.
    V(promote): the learner promoted as soon as the leader counts it in sync (etcd refuses before; asked again until
    O(catchup_timeout)), then verify: all members healthy, KV hashes agree, the same cluster id, the old member gone,
    no learner left."
  - "V(undo): where the journal holds an unfinished, unpromoted replacement: etcd stopped here, the learner removed
    again, the previous configuration put back, the learner's data dir renamed to
    C(<data_dir>.failed-replace-<run_id>). The old member's data stays aside: its member id was removed and cannot
    rejoin."
  - Each phase reads the cluster and the journal first, so a replacement that died is resumed by running it again.
attributes:
  check_mode:
    details: Every phase plans only; V(preflight) makes all its checks and reports the edits it would make.
extends_documentation_fragment:
  - etcdops.dr.connection
  - etcdops.dr.member_service
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  phase:
    description: The phase to run.
    type: str
    required: true
    choices: [preflight, remove, add, start, promote, undo]
  run_id:
    description: This replacement's id (a UTC time stamp); a run that takes over an unfinished one keeps that one's.
    type: str
    required: true
  name:
    description: The member's name (C(--name)), the same for the old and the new member.
    type: str
    required: true
  peer_url:
    description: The new member's peer URL (it may differ from the old member's).
    type: str
    required: true
  client_url:
    description: The new member's client URL, to start and check it.
    type: str
    required: true
  data_dir:
    description: The member's data dir.
    type: path
    required: true
  wal_dir:
    description: The member's WAL dir, when apart from the data dir.
    type: path
  force:
    description: Replace the member even while it answers and is healthy.
    type: bool
    default: false
  timeout:
    description: Seconds etcd may take to stop, or to run with its peer port open after the start.
    type: float
    default: 120
  catchup_timeout:
    description: Seconds the learner may take to catch up with the leader (as the leader counts it) and be promoted.
    type: float
    default: 300
  health_retries:
    description: How often the verify reads the cluster before it gives up.
    type: int
    default: 60
  health_delay:
    description: Seconds between those reads.
    type: float
    default: 2
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Check that node3 can be replaced
  etcdops.dr.etcd_member_replace:
    phase: preflight
    run_id: "20261207T120000Z"
    name: node3
    peer_url: https://10.0.0.3:2380
    client_url: https://10.0.0.3:2379
    data_dir: /var/lib/etcd
    endpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379, https://10.0.0.3:2379]
    cacert: /etc/kubernetes/pki/etcd/ca.crt
    cert: /etc/kubernetes/pki/etcd/healthcheck-client.crt
    key: /etc/kubernetes/pki/etcd/healthcheck-client.key
"""

RETURN = r"""
phase:
  description: The phase that ran.
  returned: always
  type: str
failed_step:
  description: The step that failed (V(preflight), V(etcd_stop), V(member_remove), V(keep_aside), V(member_add),
    V(configure), V(etcd_start), V(catch_up), V(promote), V(verify), V(undo)...); null on success.
  returned: always
  type: str
journal:
  description: The replacement journal as this run left it (null when there is none).
  returned: always
  type: dict
problems:
  description: V(preflight) - every reason the replacement cannot go on.
  returned: always
  type: list
  elements: str
notes:
  description: V(preflight) - what the checks found that is not a problem.
  returned: always
  type: list
  elements: str
checks_not_run:
  description: V(preflight) - checks that could not run, and why.
  returned: always
  type: list
  elements: str
config_changes:
  description: The configuration files and what changes in each (V(preflight), V(add)).
  returned: always
  type: list
  elements: dict
config_diff:
  description: V(preflight) - the configuration files' changes as a unified diff (empty when none change).
  returned: always
  type: str
steps:
  description: V(preflight) - what the replacement will do.
  returned: when phase is preflight
  type: list
  elements: str
old_member:
  description: V(preflight) - the member to remove (id, name, peer_urls, client_urls, is_learner); null when none.
  returned: when phase is preflight
  type: dict
cluster:
  description: The cluster as the preflight or the verify read it.
  returned: when phase is preflight or promote
  type: dict
catch_up:
  description: V(promote) - the learner's progress when the wait ended.
  returned: when a learner was waited for
  type: dict
"""

from ansible_collections.etcdops.dr.plugins.module_utils._replace.phases import ARGUMENT_SPEC, make
from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module


def main() -> None:
    run_module(ARGUMENT_SPEC, make)


if __name__ == "__main__":
    main()
