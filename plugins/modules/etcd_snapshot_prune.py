#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot_prune
short_description: Apply retention to a directory of etcd backups, keeping the newest and the one just taken
version_added: 0.1.0
description:
  - Considers only regular files named C(<prefix>-<UTC time>[-<N>].db) or, encrypted, C(.db.enc) in O(path), the
    names M(etcdops.dr.etcd_snapshot) and M(etcdops.dr.etcd_cold_copy) give. Any other file is never touched.
  - Backups are ranked newest first by the time in their name (not the file's mtime, which a copy can change).
  - A backup is removed, with its C(<file>.json) manifest, when it breaks a limit that is set - it is not among the
    O(keep_last) newest, or it is older than O(max_age). With both set, both limits hold.
  - The files in O(keep) are never removed, and count among the newest even before they exist (so check mode
    before a backup reports what the run will remove).
  - With neither limit set nothing is removed.
attributes:
  check_mode:
    details: Reports what would be removed.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  path:
    description: The backup directory. A directory that does not exist holds no backups.
    type: path
    required: true
  prefix:
    description: Start of the backups' file names, as given to the module that wrote them.
    type: str
    required: true
  keep_last:
    description: How many of the newest backups to keep; V(0) sets no count limit.
    type: int
    default: 0
  max_age:
    description:
      - Remove backups older than this, by the time in their name. A number and a unit, V(s), V(m), V(h), V(d) or
        V(w), for example V(36h) or V(7d). Empty sets no age limit.
    type: str
    default: ""
  keep:
    description: Backups that stay whatever the limits say - give the one just taken.
    type: list
    elements: path
    default: []
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Keep the 24 newest snapshots, none older than a week, and the one just taken
  etcdops.dr.etcd_snapshot_prune:
    path: /var/backups/etcd
    prefix: etcd-snapshot
    keep_last: 24
    max_age: 7d
    keep:
      - "{{ snapshot.path }}"
"""

RETURN = r"""
removed:
  description: The backups removed (in check mode, that would be removed), newest first, with their manifests.
  returned: always
  type: list
  elements: str
kept:
  description: The backups kept, newest first.
  returned: always
  type: list
  elements: str
reasons:
  description: For each backup, why it was kept or removed.
  returned: always
  type: dict
  sample: {/var/backups/etcd/etcd-snapshot-20261101T000000Z.db: not among the 24 newest and older than 7d}
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.retention import ARGUMENT_SPEC, Prune


def main():
    run_module(ARGUMENT_SPEC, Prune)


if __name__ == "__main__":
    main()
