#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_store_list
short_description: List the etcd backups on an off-host store, newest first, and verify one
version_added: 0.1.0
description:
  - Lists the C(<prefix>-<UTC time>[-N].db) (or encrypted C(.db.enc)) files on O(store), newest first by the time
    in their name, each with its manifest. A backup without a readable manifest is listed with the reason
    (RV(backups[].problem)) - it cannot be verified, so a restore does not take it.
  - With O(verify), that backup (a name, or C(latest) - the newest with a manifest) is read back from the store and
    hashed; the module fails when the bytes are not what its manifest says.
  - Read-only - it never changes the store.
attributes:
  check_mode:
    details: Runs as it would without check mode (it only reads).
extends_documentation_fragment:
  - etcdops.dr.attributes
  - etcdops.dr.store
  - ansible.builtin.action_common_attributes
options:
  prefix:
    description: The backups' file name prefix.
    type: str
    default: etcd-snapshot
  verify:
    description: A backup to read back and hash against its manifest - its file name, or C(latest).
    type: str
  manifests:
    description: Read each backup's manifest. With V(false) only names and sizes are listed (quick on a store with
      many backups; the backup role reaches its stores this way before a snapshot).
    type: bool
    default: true
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: List the backups on the backup server and check the newest one's bytes
  etcdops.dr.etcd_store_list:
    store:
      url: sftp://etcdbackup@backup1.example.com/srv/etcd-backups/prod
      key_file: ~/.ssh/etcd_backup
    verify: latest
  register: stored
"""

RETURN = r"""
backups:
  description: The backups on the store, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: File name.
      type: str
    path:
      description: Path on the store.
      type: str
    size:
      description: Bytes.
      type: int
    manifest:
      description: The manifest (sha256, revision, key_count, etcd_version...), or null (also with O(manifests=false)).
      type: dict
    manifest_present:
      description: Whether the store holds a manifest beside it.
      type: bool
    problem:
      description: Why the backup cannot be verified, or null.
      type: str
    bundles:
      description: The control-plane bundles of the same backup set (C(<name>.bundle-<host>.tar.enc),
        M(etcdops.dr.etcd_bundle)), kept and pruned with it.
      type: list
      elements: str
verified:
  description: The backup O(verify) chose, with the sha256 it read back; null without O(verify).
  returned: always
  type: dict
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._store.listing import ARGUMENT_SPEC, StoreList


def main():
    run_module(ARGUMENT_SPEC, StoreList)


if __name__ == "__main__":
    main()
