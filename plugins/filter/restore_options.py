# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: restore_options
short_description: What is wrong with a restore's options and inventory, before any host is touched
version_added: 0.1.0
description:
  - The restore role's first check (M(etcdops.dr.restore)), on the controller - the snapshot's path and where it
    comes from, C(restore_kubernetes), C(restore_bump_revision), every member in one batch and at least as many
    forks as members, and each host's C(etcd_member_name), C(etcd_peer_url) and C(etcd_client_url), set and unique.
  - Returns one message per problem, each naming the fix; an empty list when there is none.
positional: hostvars, options, forks, batch
options:
  _input:
    description: The play's hosts (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  options:
    description: The role's C(restore_snapshot), C(restore_snapshot_from), C(restore_snapshot_dir),
      C(restore_kubernetes), C(restore_bump_revision), C(restore_kube_apiserver_group) and that group's hosts
      (C(kube_apiserver_group_hosts), null when the inventory has no such group).
    type: dict
    required: true
  forks:
    description: C(ansible_forks).
    type: int
    required: true
  batch:
    description: C(ansible_play_batch).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Stop unless the options make sense
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join(' ') }} Nothing was stopped."
  vars:
    problems: "{{ ansible_play_hosts_all | etcdops.dr.restore_options(hostvars, options, ansible_forks, ansible_play_batch) }}"
"""

RETURN = r"""
_value:
  description: The problems, each a sentence naming the fix.
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.plugin_utils._restore_preflight import option_problems


def restore_options(hosts, hostvars, options, forks, batch):
    return option_problems(options, list(hosts), hostvars, int(forks), list(batch))


class FilterModule:
    def filters(self):
        return {"restore_options": restore_options}
