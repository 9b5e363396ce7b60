# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: restore_new_hosts
short_description: Which lost member each new host replaces in a rebuild on new hosts, and the bundle it gets
version_added: 0.1.0
description:
  - For the restore role with C(restore_new_hosts=true) (M(etcdops.dr.restore)), on the controller, before any host is
    touched. Reads the manifests of the control-plane bundles beside the snapshot (C(<snapshot>.bundle-<host>.tar.enc.json)),
    each naming the member it was taken beside.
  - Each host replaces the member its C(restore_new_host_of) names, or the member of its own C(etcd_member_name).
    A host that says neither, two hosts for one member, a member without a bundle or a bundle no host takes is a
    problem, named with the fix.
positional: hostvars, snapshot
options:
  _input:
    description: The play's hosts.
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  snapshot:
    description: The snapshot file on the controller; its bundles are beside it.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Match each new host to the member it replaces
  ansible.builtin.set_fact:
    rebuild: "{{ ansible_play_hosts_all | etcdops.dr.restore_new_hosts(hostvars, '/backups/etcd-snapshot-20261208T010000Z.db.enc') }}"
"""

RETURN = r"""
_value:
  description: C(ok), C(problems) (sentences naming the fix), C(mapping) ({host - old_member, bundle, old_peer_url,
    old_client_url}) and C(shown) (the mapping as text).
  type: dict
"""

from ansible_collections.etcdops.dr.plugins.plugin_utils._new_hosts import plan


def restore_new_hosts(hosts, hostvars, snapshot):
    return plan(list(hosts), hostvars, str(snapshot))


class FilterModule:
    def filters(self):
        return {"restore_new_hosts": restore_new_hosts}
