# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: recover_quorum_source
short_description: Choose the member whose data a cluster that lost quorum is rebuilt from
version_added: 0.1.0
description:
  - From each host's M(etcdops.dr.etcd_data_dir_info) result, picks the member whose database got furthest (the
    highest consistent index, then revision), as etcd's disaster-recovery guide advises; refuses when the cluster
    still has quorum (unless O(force)) or no database is readable.
  - Never fails; the reasons are in RV(_value.problems).
positional: hostvars, registered, cluster
options:
  _input:
    description: The play's hosts.
    type: list
    elements: str
    required: true
  hostvars:
    description: Ansible's hostvars.
    type: dict
    required: true
  registered:
    description: The name each host registered etcd_data_dir_info's result under.
    type: str
    required: true
  cluster:
    description: The result of M(etcdops.dr.etcd_cluster_info) (a failed one when nothing answers).
    type: dict
    required: true
  source:
    description: A host to recover from instead of the one that got furthest.
    type: str
    default: ""
  force:
    description: Go on though the cluster has quorum.
    type: bool
    default: false
"""

RETURN = r"""
_value:
  description: ok, problems, notes, source (the host), its consistent_index and revision, newest_backup (path,
    revision, created) across the hosts' backup dirs, revisions_beyond_backup, and candidates by host.
  type: dict
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.etcdops.dr.plugins.plugin_utils._recover_quorum import choose


def recover_quorum_source(hosts: Sequence[str], hostvars: Mapping[str, Any], registered: str,
                          cluster: Mapping[str, Any], source: str = "", force: bool = False) -> dict[str, Any]:
    return choose(list(hosts), {host: hostvars[host][registered] for host in hosts}, cluster, source, force)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"recover_quorum_source": recover_quorum_source}
