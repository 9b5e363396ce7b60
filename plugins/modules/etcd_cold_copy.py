#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_cold_copy
short_description: Copy a stopped etcd member's database file into a backup dir, with a JSON manifest
version_added: 0.1.0
description:
  - Copies C(member/snap/db) of a stopped member's data dir into O(dest_dir) as C(<prefix>-<UTC time>.db), mode
    0600, through a temp file that is fsynced and renamed into place, and writes a JSON manifest beside it as
    C(<file>.json) (sha256, size, the cluster facts given in O(cluster_facts), time, tool).
  - Refuses while any process holds the database open (etcd still runs), and discards the copy if the database
    changed while it was read. A partial copy never takes the final name.
  - Before anything is written it checks that O(dest_dir) is writable and has room for the copy.
  - Before the copy takes its name, the module reads the database it holds and records what it stands for in the
    manifest (RV(revision), live keys, compaction state), so a restore can check the restored cluster against it;
    a copy that is not a readable etcd database is discarded.
  - A copied database has no hash trailer, unlike a snapshot; restore it with C(etcdutl snapshot restore
    --skip-hash-check) after checking the manifest's sha256.
  - The role M(etcdops.dr.cold_backup) stops every member, runs this on one, and starts them again.
attributes:
  check_mode:
    details: Checks the source, the destination and free disk, and reports the path it would write; a running etcd
      holding the database is reported in RV(db_in_use_by) and does not fail it.
  platform:
    details: Linux; it reads C(/proc) to find processes that hold the database open.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - etcdops.dr.backup_dir_lock
  - ansible.builtin.action_common_attributes
options:
  data_dir:
    description: The member's data dir, which holds C(member/snap/db).
    type: path
    required: true
  dest_dir:
    description: Where the copy and its manifest go; created with mode 0700 when missing.
    type: path
    required: true
  prefix:
    description: Start of the copy's file name.
    type: str
    default: etcd-cold
  cluster_facts:
    description:
      - Facts about the cluster, read before etcd was stopped, recorded in the manifest. Keys among
        C(cluster_id), C(member_id), C(member_name), C(revision), C(raft_index), C(db_size), C(etcd_version),
        C(key_count); missing ones are recorded as null. C(revision) and C(key_count) are replaced by what the
        copied database itself holds.
    type: dict
    default: {}
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Copy the db of the stopped member
  etcdops.dr.etcd_cold_copy:
    data_dir: /var/lib/etcd
    dest_dir: /var/backups/etcd
    cluster_facts:
      cluster_id: "{{ etcd.cluster_id }}"
      revision: "{{ etcd.endpoints[0].revision }}"
  register: copy
"""

RETURN = r"""
path:
  description: The copy (or, in check mode, where it would be written).
  returned: always
  type: str
  sample: /var/backups/etcd/etcd-cold-20261124T101500Z.db
manifest_path:
  description: The manifest, RV(path) plus C(.json).
  returned: always
  type: str
manifest:
  description: The manifest's content; null in check mode.
  returned: always
  type: dict
size:
  description: Bytes copied (in check mode, the database's size).
  returned: always
  type: int
sha256:
  description: sha256 of the copy; null in check mode.
  returned: always
  type: str
revision:
  description: The revision the copied database stands for (see M(etcdops.dr.etcd_snapshot)); null in check mode.
  returned: always
  type: int
key_count:
  description: Live keys in the copied database; null in check mode.
  returned: always
  type: int
duration_seconds:
  description: Seconds the copy took.
  returned: always
  type: float
free_bytes:
  description: Free bytes in the backup dir before the copy.
  returned: always
  type: int
required_bytes:
  description: Bytes the copy and its manifest need.
  returned: always
  type: int
db_in_use_by:
  description: Processes that hold the database open (in check mode; otherwise the module fails when any does).
  returned: always
  type: list
  elements: str
lock_waited_seconds:
  description: Seconds waited for another run writing in the same dir.
  returned: always
  type: float
removed_partials:
  description: Temp files of killed runs removed from the dir (a run's temp file lives only while it holds the lock).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.cold_copy import ARGUMENT_SPEC, ColdCopy


def main():
    run_module(ARGUMENT_SPEC, ColdCopy)


if __name__ == "__main__":
    main()
