#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot_fetch
short_description: Fetch an etcd backup and its manifest from a host to the controller, verified and private
version_added: 0.1.0
description:
  - Copies the backup O(src) from the host to O(dest_dir) on the controller, with its C(<file>.json) manifest when
    there is one. Unlike M(ansible.builtin.fetch), the file lands in a private (0700) staging dir first, its sha256 is
    checked against O(sha256), it is made 0600 and fsynced, and only then given its final name (a hard link that
    cannot replace an existing file); the manifest must record the same sha256. A cut or corrupted transfer leaves nothing under the final name.
  - An existing file of the same name is never replaced - with the same sha256 nothing is fetched (C(changed) is
    false); with another, the task fails.
  - Before the transfer it checks that O(dest_dir) is writable on the controller and has room for the file.
  - The file is read on the host as the login user, also with become, so that user must be able to read it.
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    details: Checks the file on the host (unless O(size) is given), the controller's dir and free disk and the
      retention settings, and reports where the file would go and what retention would remove.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
options:
  src:
    description: The backup on the host.
    type: str
    required: true
  dest_dir:
    description: Directory on the controller; created 0700 when missing. The file keeps its name.
    type: path
    required: true
  sha256:
    description:
      - The sha256 the file must have, as M(etcdops.dr.etcd_snapshot) returned it. When unset, the host computes it
        from the file.
    type: str
  size:
    description:
      - The file's size. With O(sha256) (as M(etcdops.dr.etcd_snapshot) returns both), the host is not asked about
        the file again. In check mode, the size of a file that need not exist yet, such as a snapshot a check-mode
        run did not take - the controller's dir and free disk are checked for that size, and the host is not asked.
    type: int
  manifest:
    description:
      - Whether the host has the file's C(<file>.json) manifest beside it (M(etcdops.dr.etcd_snapshot) always writes
        one). V(true) fetches it without asking the host first (one module run less; a missing manifest then fails).
        Unset, the host is asked.
    type: bool
  verify:
    description:
      - Before the copy takes its name, check it as M(etcdops.dr.etcd_snapshot_info) checks a file - its manifest and
        its database, and C(etcdutl snapshot status) with O(etcdutl) or an etcdutl on the controller's PATH - without
        hashing it again (the transfer was just found to have the sha256 of the file verified on the host). A copy
        that fails is removed and nothing takes the final name; the task fails and no retention is applied.
    type: bool
    default: false
  etcdutl:
    description: etcdutl on the controller, for O(verify); default the one on PATH, if any.
    type: path
  prefix:
    description: Start of the backups' file names in O(dest_dir), for retention.
    type: str
    default: etcd-snapshot
  keep_last:
    description:
      - Retention in O(dest_dir), as M(etcdops.dr.etcd_snapshot_prune) applies it, once the copy is in place (and
        verified, with O(verify)) - the newest N backups; V(0) sets no count limit. The fetched file is always kept.
        Its settings are checked before anything is fetched, and in check mode.
    type: int
    default: 0
  max_age:
    description: Retention in O(dest_dir) - no backup older than this (such as V(7d)); empty sets no age limit.
    type: str
    default: ""
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Take a snapshot on the host
  etcdops.dr.etcd_snapshot:
    dest_dir: /var/backups/etcd
  register: snapshot

- name: Keep a copy on the controller
  etcdops.dr.etcd_snapshot_fetch:
    src: "{{ snapshot.path }}"
    sha256: "{{ snapshot.sha256 }}"
    dest_dir: /srv/etcd-backups/{{ inventory_hostname }}
"""

RETURN = r"""
src:
  description: The file on the host.
  returned: always
  type: str
dest:
  description: The file on the controller (in check mode, where it would go).
  returned: always
  type: str
manifest_dest:
  description: Its manifest on the controller; null when the host had none.
  returned: always
  type: str
size:
  description: Bytes.
  returned: always
  type: int
sha256:
  description: sha256 of the file, as verified on the controller.
  returned: always
  type: str
verified:
  description: With O(verify), the copy's report, with the fields of a report of M(etcdops.dr.etcd_snapshot_info);
    null without.
  returned: always
  type: dict
retention:
  description: With O(keep_last) or O(max_age), what M(etcdops.dr.etcd_snapshot_prune) returns for O(dest_dir) (in
    check mode, what it would remove); null without.
  returned: always
  type: dict
"""
