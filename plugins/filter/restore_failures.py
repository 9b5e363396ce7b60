# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: restore_failures
short_description: The failures of a restore's phases, from what each host registered
version_added: 0.1.0
description:
  - The restore role (M(etcdops.dr.restore)) registers each phase's M(etcdops.dr.etcd_restore_phase) result on every
    host, failed or not (C(ignore_errors), C(ignore_unreachable)); this lists each failure once, keyed by the failed
    step's id, and each host that could not be reached as lost, with the phase.
positional: hostvars, registered
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
  registered:
    description: Each registered variable and the phase it holds, in the order the phases ran.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Go on only while nothing failed
  ansible.builtin.set_fact:
    failures: "{{ ansible_play_hosts_all | etcdops.dr.restore_failures(hostvars, {'stopped': 'stop'}) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: One entry per failure.
  type: list
  elements: dict
  contains:
    host:
      description: The host it failed on.
      type: str
    phase:
      description: The phase.
      type: str
    step:
      description: The id of the step that failed; null for a host that could not be reached.
      type: str
    label:
      description: The step's (or phase's) name in messages.
      type: str
    lost:
      description: Whether the host could not be reached.
      type: bool
    msg:
      description: What the module said.
      type: str
    text:
      description: The failure as the play's message gives it.
      type: str
    left:
      description: For a lost host, what it was last known to be doing.
      type: str
"""

from ansible_collections.etcdops.dr.plugins.plugin_utils._restore_failures import failures


def restore_failures(hosts, hostvars, registered):
    return failures(list(hosts), hostvars, dict(registered))


class FilterModule:
    def filters(self):
        return {"restore_failures": restore_failures}
