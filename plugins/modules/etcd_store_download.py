#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_store_download
short_description: Bring an etcd backup from an off-host store to a local dir, verified against its manifest
version_added: 0.1.0
description:
  - Takes O(name) (a file name, or C(latest) - the newest backup on the store that has a manifest) from O(store) into
    O(dest_dir), with its manifest beside it, both mode 0600.
  - The bytes are hashed as they come, into a temporary file; it gets its name only when the hash is the manifest's.
    A backup altered or damaged on the store is refused and nothing is kept.
  - A file already in O(dest_dir) with the manifest's sha256 is left as it is (idempotent); another file of that name
    is refused, never replaced.
attributes:
  check_mode:
    details: Connects, lists the store and chooses the backup; downloads nothing.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - etcdops.dr.store
  - ansible.builtin.action_common_attributes
options:
  name:
    description: The backup's file name on the store, or C(latest).
    type: str
    required: true
  dest_dir:
    description: Local dir to put it in (created 0700 if missing).
    type: path
    required: true
  prefix:
    description: The backups' file name prefix (for C(latest)).
    type: str
    default: etcd-snapshot
  bundles:
    description: Also bring the backup's control-plane bundles (C(<name>.bundle-<host>.tar[.enc]), as encrypted on
      the store) and their manifests, each verified against its manifest's sha256 the same way.
    type: bool
    default: false
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Bring the newest backup from the backup server to the controller
  etcdops.dr.etcd_store_download:
    store:
      url: sftp://etcdbackup@backup1.example.com/srv/etcd-backups/prod
      key_file: ~/.ssh/etcd_backup
    name: latest
    dest_dir: /var/tmp/etcd-restore
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: The local file.
  returned: always
  type: str
name:
  description: The backup's file name (what C(latest) chose).
  returned: always
  type: str
sha256:
  description: The backup's sha256 (its manifest's, which the bytes matched).
  returned: always
  type: str
manifest:
  description: The backup's manifest.
  returned: always
  type: dict
bundles:
  description: The local paths of the control-plane bundles brought (with O(bundles)); empty otherwise.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._store.download import ARGUMENT_SPEC, StoreDownload


def main():
    run_module(ARGUMENT_SPEC, StoreDownload)


if __name__ == "__main__":
    main()
