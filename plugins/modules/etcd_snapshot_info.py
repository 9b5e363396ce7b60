#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot_info
short_description: Verify etcd snapshot and cold-copy files and report what they hold
version_added: 0.1.0
description:
  - For one file, or every file matching O(pattern) in a directory, tells whether it is whole.
  - A snapshot (from M(etcdops.dr.etcd_snapshot) or C(etcdctl snapshot save)) ends with the sha256 of its database,
    which is checked. A cold copy (from M(etcdops.dr.etcd_cold_copy)) has no such trailer; its manifest's sha256 and
    size are checked. A manifest beside a snapshot is checked too.
  - Each file gets a RV(snapshots[].status) - V(ok), V(corrupt), V(truncated), V(unverified) (no trailer and no
    manifest to check it against), V(empty) (0 bytes), V(not_a_snapshot) (it does not begin as a bbolt database
    does - another file, or a compressed backup), V(undecryptable) (encrypted, and O(decryption_key) is not the key of
    one of its recipients) or V(unsupported) (an encrypted-file format this version does not read) - and the reasons
    in RV(snapshots[].problems).
  - An encrypted snapshot (C(.db.enc), see C(docs/encryption.md)) is checked without a key by the sha256 of its
    ciphertext against its manifest and by its layout (header, whole chunks). With O(decryption_key) it is decrypted
    chunk by chunk in memory (every chunk's tag, the last-chunk marker, the sha256 trailer, the plaintext sha256 the
    manifest records, and the database), and no plaintext is written anywhere.
  - The module reads the database in each file itself (no etcd tool needed); RV(snapshots[].revision) is the
    revision the file stands for, with its compaction state and, with O(count_keys), its live keys. A file that is
    not a readable etcd database is corrupt. When a manifest of format 2 records the revision and key count, they
    must match.
  - When C(etcdutl) (etcd 3.5+) or C(etcdctl) (3.4) is found, etcd's own tool reads each file too
    (C(snapshot status -w json), which checks the database's integrity); a file it cannot read is corrupt, and
    RV(snapshots[].total_keys) and RV(snapshots[].total_size) are what it reports.
  - Never changes anything. It fails only when O(path) does not exist, or when the C(etcdutl) or C(etcdctl) it found
    or was given does not run (C(<tool> version) fails), rather than call whole files corrupt.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  path:
    description: A snapshot file, or a directory of them.
    type: path
    required: true
  pattern:
    description: In a directory, the files to check (shell patterns; a file matching any of them).
    type: list
    elements: str
    default: ["*.db", "*.db.enc"]
  read_status:
    description: Have C(etcdutl) (or C(etcdctl)) read every file that is not corrupt (an integrity check by etcd's
      own code; RV(snapshots[].total_keys), RV(snapshots[].total_size)).
    type: bool
    default: true
  count_keys:
    description: Count the live keys in each file (RV(snapshots[].key_count)); this reads the whole key bucket.
    type: bool
    default: false
  etcdutl:
    description: Path of C(etcdutl); default the one on C(PATH).
    type: path
  etcdctl:
    description: Path of C(etcdctl), used when there is no C(etcdutl) (etcd 3.4); default the one on C(PATH).
    type: path
  decryption_key:
    description:
      - The X25519 private key (PEM, C(-----BEGIN PRIVATE KEY-----)) of one of the recipients of the encrypted files,
        to check them whole. Keep it in Ansible Vault or an AWX credential; it is never logged.
      - A key that is not a usable X25519 private key fails the module.
    type: str
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Check every backup in the backup dir
  etcdops.dr.etcd_snapshot_info:
    path: /var/backups/etcd
  register: backups

- name: Stop on a bad backup
  ansible.builtin.assert:
    that: backups.ok
    fail_msg: "{{ backups.msg }}"
"""

RETURN = r"""
snapshots:
  description: One report per file, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    status:
      description: V(ok), V(corrupt), V(truncated), V(unverified), V(empty), V(not_a_snapshot), V(undecryptable) or
        V(unsupported).
      type: str
    problems:
      description: Why the status is not V(ok).
      type: list
      elements: str
    verified_by:
      description: What vouched for the file, V(trailer) and/or V(manifest); for an encrypted file also V(layout) and,
        decrypted, V(chunks).
      type: list
      elements: str
    identity:
      description: The file's device, inode, size, mtime and ctime (C(dev:ino:size:mtime_ns:ctime_ns)), as it was
        hashed; null when the file changed while it was read.
      type: str
    size:
      description: Bytes.
      type: int
    sha256:
      description: sha256 of the whole file (of an encrypted file, its ciphertext).
      type: str
    has_trailer:
      description: Whether the file ends with a sha256 trailer (an encrypted file, once decrypted; null when it was
        not).
      type: bool
    encryption:
      description: For an encrypted file, its header - C(format), C(cipher), C(chunk_size), C(recipients) (key ids) -
        and C(plaintext_size); null for a plain file.
      type: dict
    plaintext_sha256:
      description: sha256 of an encrypted file's plaintext, when it was decrypted (O(decryption_key)); else null.
      type: str
    kind:
      description: The manifest's kind, V(snapshot) or V(cold_copy); null without a manifest.
      type: str
    manifest:
      description: The manifest beside the file (C(<file>.json)); null when there is none.
      type: dict
    bundles:
      description: The control-plane bundles of the same backup set beside the file (C(<file>.bundle-<host>.tar.enc),
        M(etcdops.dr.etcd_bundle)), by name.
      type: list
      elements: str
    notes:
      description: Checks that could not be made on this file, and why.
      type: list
      elements: str
    revision:
      description:
        - The revision the file stands for - what its member reported when it was written, and what a member
          restored from it (without C(--bump-revision)) reports on etcd 3.4.32+, 3.5.14+ and 3.6. null when the file
          is not a readable etcd database.
      type: int
    last_key_revision:
      description: The newest revision left in the key bucket (C(etcdutl snapshot status) calls it revision); lower
        than RV(snapshots[].revision) when the newest revisions were compacted tombstones, 0 for a new cluster.
      type: int
    compact_revision:
      description: The last finished compaction; null when the cluster was never compacted.
      type: int
    scheduled_compact_revision:
      description: The last compaction asked for; above RV(snapshots[].compact_revision) when it had not finished.
      type: int
    consistent_index:
      description: The raft index of the last entry applied to the database.
      type: int
    lease_count:
      description: Leases in the database.
      type: int
    key_count:
      description: Live keys (keys whose newest revision is not a delete), with O(count_keys); else null.
      type: int
    members:
      description: The cluster's members as the database records them (C(id), C(name), C(peer_urls)); empty for a
        database C(etcdutl snapshot restore) wrote.
      type: list
      elements: dict
    total_keys:
      description:
        - Entries C(etcdutl)/C(etcdctl) counted - in etcd 3.4 and 3.5 every entry of every bucket (all revisions of
          every key and more), in 3.6 live keys. For the number of keys use RV(snapshots[].key_count).
      type: int
    total_size:
      description: Database size, from the tool.
      type: int
    tool:
      description: The tool that read the status, V(etcdutl) or V(etcdctl); null when none was used.
      type: str
ok:
  description: Whether every file is V(ok) (false when none was found).
  returned: always
  type: bool
bad:
  description: The files that are not V(ok).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.info import ARGUMENT_SPEC, SnapshotInfo


def main():
    run_module(ARGUMENT_SPEC, SnapshotInfo)


if __name__ == "__main__":
    main()
