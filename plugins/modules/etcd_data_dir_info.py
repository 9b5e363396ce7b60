#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_data_dir_info
short_description: Read how far an etcd member's data dir got, from its database file, without etcd
version_added: 0.1.0
description:
  - Reads C(member/snap/db) of O(data_dir) directly (etcd need not run, and no quorum is needed) - its consistent
    index, raft term, revision and compaction, the members it records - and whether a process has it open.
  - With O(backup_dir), also the backup there whose manifest records the highest revision.
  - The role M(etcdops.dr.recover_quorum) reads every member's data dir with it and recovers the cluster from the one
    that got furthest.
  - A missing or unreadable database is reported in RV(error), with RV(readable) false; the module does not fail.
attributes:
  check_mode:
    details: Reads only; the same in check mode.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  data_dir:
    description: The member's data dir.
    type: path
    required: true
  backup_dir:
    description: A dir of backups with manifests (C(<file>.json)) to find the newest in.
    type: path
  count_keys:
    description: Count the live keys in the database too (reads every key; slower on a large database).
    type: bool
    default: false
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Read how far each member's data got
  etcdops.dr.etcd_data_dir_info:
    data_dir: /var/lib/etcd
    backup_dir: /var/backups/etcd
  register: data
"""

RETURN = r"""
data_dir: {description: The data dir read., returned: always, type: str}
db: {description: The database file read., returned: always, type: str}
db_size: {description: Its size in bytes; null when missing., returned: always, type: int}
readable: {description: Whether the database was read., returned: always, type: bool}
error: {description: Why it was not; null when it was., returned: always, type: str}
etcd_running: {description: Whether a process (etcd) has the database open., returned: always, type: bool}
consistent_index:
  description: The raft index of the last entry applied to the database; the member that got furthest has the
    highest.
  returned: always
  type: int
term: {description: The raft term recorded with it (etcd 3.5+; null before)., returned: always, type: int}
revision: {description: The revision etcd would serve from this database., returned: always, type: int}
last_key_revision: {description: The newest revision in the key bucket., returned: always, type: int}
compact_revision: {description: The last finished compaction., returned: always, type: int}
members:
  description: The members the database records (id, name, peer_urls).
  returned: always
  type: list
  elements: dict
key_count:
  description: Live keys with O(count_keys=true); null otherwise.
  returned: always
  type: int
lease_count: {description: Leases in the database., returned: always, type: int}
newest_backup:
  description: With O(backup_dir), the backup whose manifest records the highest revision (path, revision, created,
    kind); null when there is none.
  returned: always
  type: dict
"""

from ansible_collections.etcdops.dr.plugins.module_utils._recover.data_dir import ARGUMENT_SPEC, DataDirInfo
from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module


def main() -> None:
    run_module(ARGUMENT_SPEC, DataDirInfo)


if __name__ == "__main__":
    main()
