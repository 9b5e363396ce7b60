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
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member as _local_member
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDbError, read_facts
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import (
    CLUSTER_FACTS, MANIFEST_RESERVE, MANIFEST_SUFFIX, BackupFileError, check_destination, copy_hashed, ensure_dir,
    manifest, new_backup_path, write_manifest)


def _db_facts(path):
    try:
        return read_facts(path, count_keys=True)
    except EtcdDbError as exc:
        raise BackupFileError("the copied database is not a readable etcd database: %s; the copy was discarded."
                              % exc.msg) from None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            data_dir=dict(type="path", required=True),
            dest_dir=dict(type="path", required=True),
            prefix=dict(type="str", default="etcd-cold"),
            cluster_facts=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False, path=None, manifest_path=None, manifest=None, size=None, sha256=None,
                  revision=None, key_count=None, duration_seconds=0.0, free_bytes=None, required_bytes=None, db_in_use_by=[])
    unknown = sorted(set(params["cluster_facts"]) - set(CLUSTER_FACTS))
    if unknown:
        module.fail_json(msg="cluster_facts has unknown keys %s: use only %s." % (unknown, ", ".join(CLUSTER_FACTS)),
                         **result)
    source = os.path.join(params["data_dir"], "member", "snap", "db")
    if not os.path.isfile(source):
        module.fail_json(msg="no etcd database at %s: data_dir must be the member's data dir (the one holding "
                             "member/snap/db)." % source, **result)
    try:
        size = os.path.getsize(source)
        result.update(size=size, required_bytes=size + MANIFEST_RESERVE)
        result["free_bytes"] = check_destination(params["dest_dir"], result["required_bytes"])
        result["db_in_use_by"] = [_local_member.describe_process(pid) for pid in _local_member.holders_of(source)]
        path = new_backup_path(params["dest_dir"], params["prefix"], "db")
        result.update(path=path, manifest_path=path + MANIFEST_SUFFIX, changed=True)
        if module.check_mode:
            module.exit_json(msg="would copy %s (%d bytes) to %s" % (source, size, path), **result)
        if result["db_in_use_by"]:
            raise BackupFileError("%s is open in %s: etcd still runs on this member; stop it first "
                                  "(etcdops.dr.etcd_service state=stopped), or take an online snapshot instead."
                                  % (source, ", ".join(result["db_in_use_by"])))
        began = time.monotonic()
        ensure_dir(params["dest_dir"])
        facts = {}
        result["size"], result["sha256"] = copy_hashed(source, path, check=lambda temp: facts.update(_db_facts(temp)))
        result.update(revision=facts["revision"], key_count=facts["key_count"])
        result["manifest"] = manifest("cold_copy", path, result["size"], result["sha256"], "etcd_cold_copy",
                                      dict(params["cluster_facts"], **facts))
        write_manifest(path, result["manifest"])
        result["duration_seconds"] = round(time.monotonic() - began, 3)
    except BackupFileError as exc:
        result["changed"] = False
        module.fail_json(msg=exc.msg, **result)
    except OSError as exc:
        result["changed"] = False
        module.fail_json(msg="copying %s to %s failed: %s; nothing was left under the final name." % (
            source, params["dest_dir"], exc), **result)
    module.exit_json(msg="copied %s (%s bytes, sha256 %s) to %s" % (source, result["size"], result["sha256"],
                                                                    result["path"]), **result)


if __name__ == "__main__":
    main()
