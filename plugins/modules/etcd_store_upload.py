#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_store_upload
short_description: Put a verified etcd backup and its manifest on an off-host store, then apply retention there
version_added: 0.1.0
description:
  - Sends the backup O(path) (written by M(etcdops.dr.etcd_snapshot) or M(etcdops.dr.etcd_cold_copy), with its
    C(<file>.json) manifest beside it) to O(store), in constant memory.
  - SFTP - the file is written under a temporary name (C(.<file>.partial-<random>), mode 0600), read back from the
    store and hashed, and renamed to its name only when that hash is the local file's; the manifest the same way.
  - S3 - a multipart upload (5 MiB parts, three at once), each part sent with its SHA-256 for S3 to check, completed
    only once every part is there; then the object is checked against the checksum S3 computed, or read back and
    hashed where the store reports none (an object that fails is deleted). A file smaller than a part goes in one
    request, with its SHA-256.
  - An upload cut off part-way leaves nothing under the final name; the next upload removes temporary files (SFTP)
    and aborts unfinished multipart uploads (S3) older than an hour.
  - A store that already holds the backup with the same sha256 is left as it is (idempotent). A file of that name with
    other content is refused, never replaced.
  - Then retention applies to the store with the local dirs' rules (O(keep_last), O(max_age)); the backup just sent
    always stays. Only C(<prefix>-<UTC time>[-N].db) and C(.db.enc) files and their manifests are ever removed.
  - Free space is checked first where the server says (the C(statvfs@openssh.com) extension of OpenSSH).
  - Objects are private to the bucket's owner and readers (S3 has no file mode); O(store.sse) encrypts them at
    rest.
attributes:
  check_mode:
    details: Connects, checks the host key, the login, the dir, the free space and whether the backup is there
      already; reports what retention would remove. Writes nothing.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - etcdops.dr.store
  - ansible.builtin.action_common_attributes
options:
  path:
    description: The local backup file; its manifest C(<path>.json) must be beside it.
    type: path
    required: true
  sha256:
    description: The backup's sha256 as verified when it was taken. When not given, the manifest's.
    type: str
  prefix:
    description: The backups' file name prefix, for retention.
    type: str
    default: etcd-snapshot
  keep_last:
    description: How many of the newest backups to keep on the store (0 - no count limit).
    type: int
    default: 0
  max_age:
    description: Remove backups on the store older than this (C(36h), C(7d), C(2w)); empty - no age limit.
    type: str
    default: ""
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Send the backup to the backup server, keep its 14 newest there
  etcdops.dr.etcd_store_upload:
    path: /var/backups/etcd/etcd-snapshot-20261124T101500Z.db
    store:
      url: sftp://etcdbackup@backup1.example.com/srv/etcd-backups/prod
      key_file: /root/.ssh/etcd_backup
      known_hosts: /root/.ssh/known_hosts
    keep_last: 14
"""

RETURN = r"""
store:
  description: The store's URL.
  returned: always
  type: str
path:
  description: The backup's path on the store.
  returned: always
  type: str
sha256:
  description: The backup's sha256, as read back from the store.
  returned: always
  type: str
verified_by:
  description: How the stored copy was verified (or, in check mode, would be).
  returned: always
  type: str
retention:
  description: Retention on the store - C(removed) and C(kept) (names), C(reasons) (name to reason).
  returned: always
  type: dict
host_key_added:
  description: The host key trusted on first use (O(store.accept_new_host_key)), else null.
  returned: always
  type: str
stale_partials_removed:
  description: Temporary files of uploads that died, removed.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._store.upload import ARGUMENT_SPEC, StoreUpload


def main():
    run_module(ARGUMENT_SPEC, StoreUpload)


if __name__ == "__main__":
    main()
