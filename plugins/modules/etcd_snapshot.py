#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot
short_description: Take an online snapshot of one etcd member into a verified file with a JSON manifest
version_added: 0.1.0
description:
  - Streams a snapshot of the database of the member at O(endpoint) over etcd's gRPC API into a temp file in
    O(dest_dir), checks the sha256 trailer the server appends, fsyncs it, gives it mode 0600 (and O(owner),
    O(group)), and renames it to C(<prefix>-<UTC time>.db). A JSON manifest is written beside it as C(<file>.json).
  - A stream that breaks, a trailer that does not match, a full disk - the temp file is removed, no file takes the
    final name, and the module fails saying which.
  - The file keeps the trailer, as C(etcdctl snapshot save) does, so C(etcdutl snapshot restore) verifies it
    without C(--skip-hash-check).
  - The stream is written as it arrives; memory use does not grow with the database.
  - Before the file takes its name, the module reads the database it holds (no etcd tool is needed) and checks
    that it is this member's at a revision between the ones the member reported before and after the stream; the
    manifest records that revision (RV(revision)), the live key count at it and the compaction state, which a
    restore later checks the restored cluster against.
  - With O(recipients), the file is encrypted as it is streamed (no plaintext byte reaches the disk) and named
    C(<prefix>-<UTC time>.db.enc); see C(docs/encryption.md). The trailer is checked on the plaintext stream, the
    database is read back through the key that wrote it, and the manifest records the ciphertext's C(size) and
    C(sha256) (what copies and stores check), the C(plaintext_sha256) and C(plaintext_size), and C(encryption)
    (format, cipher, chunk size, the recipients' key ids).
extends_documentation_fragment:
  - etcdops.dr.attributes
  - etcdops.dr.backup_dir_lock
  - etcdops.dr.connection
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Asks the member for its status, checks the destination and free disk, and reports the file it would
      write; writes nothing.
options:
  endpoint:
    description:
      - Client URL of the member to snapshot. When unset, O(endpoints) must hold exactly one URL.
    type: str
  dest_dir:
    description: Directory for the snapshot and its manifest, on the host the module runs on; created 0700.
    type: path
    required: true
  prefix:
    description: Start of the snapshot's file name.
    type: str
    default: etcd-snapshot
  snapshot_timeout:
    description:
      - Seconds the whole stream may take. O(command_timeout) bounds the other requests; a large database needs
        longer than that to stream.
    type: float
    default: 3600
  owner:
    description: Owner of the snapshot and manifest files (name or uid); default the user running the module.
    type: str
  group:
    description: Group of the snapshot and manifest files (name or gid).
    type: str
  verify:
    description:
      - Once the file has its name and the connection is closed, read it back from disk as
        M(etcdops.dr.etcd_snapshot_info) does (sha256 and trailer, the database, the live keys counted in the file,
        C(snapshot status) by etcd's own tool) and fail, keeping the file for inspection, unless it is whole and
        holds the sha256, revision and key count that were written (RV(verified)). The backup role sets it, so no
        separate verify task runs.
    type: bool
    default: false
  etcdutl:
    description:
      - Path of etcdutl, for O(verify); when neither this nor O(etcdctl) is given, etcdutl then etcdctl are looked
        for on PATH, and without either the read-back says so in its C(notes).
    type: path
  etcdctl:
    description: Path of etcdctl (etcd 3.4), for O(verify), as O(etcdutl).
    type: path
  recipients:
    description:
      - X25519 public keys (PEM, C(-----BEGIN PUBLIC KEY-----), as C(openssl pkey -pubout) writes them) to encrypt
        the snapshot to; any one of their private keys decrypts it. Empty, the snapshot is written as etcd sends it.
      - A private key, or a key that is not X25519, is refused before the member is asked for anything.
    type: list
    elements: str
    default: []
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Snapshot the member on this host into /var/backups/etcd
  etcdops.dr.etcd_snapshot:
    endpoint: "https://{{ ansible_host }}:2379"
    cacert: /etc/kubernetes/pki/etcd/ca.crt
    cert: /etc/kubernetes/pki/etcd/healthcheck-client.crt
    key: /etc/kubernetes/pki/etcd/healthcheck-client.key
    dest_dir: /var/backups/etcd
  register: snapshot
"""

RETURN = r"""
path:
  description: The snapshot (in check mode, where it would be written).
  returned: always
  type: str
  sample: /var/backups/etcd/etcd-snapshot-20261124T101500Z.db
encryption:
  description: With O(recipients), the encrypted file's C(format), C(cipher), C(chunk_size) and C(recipients) (key
    ids); null otherwise and in check mode.
  returned: always
  type: dict
plaintext_sha256:
  description: With O(recipients), sha256 of the snapshot as etcd sent it (what a restore checks once it is
    decrypted); null otherwise and in check mode.
  returned: always
  type: str
manifest_path:
  description: The manifest, RV(path) plus C(.json).
  returned: always
  type: str
manifest:
  description: The manifest's content; null in check mode.
  returned: always
  type: dict
size:
  description: Bytes written, the database plus the 32-byte trailer, and when encrypted the header and a 16-byte tag
    per chunk (in check mode, the member's db size).
  returned: always
  type: int
sha256:
  description: sha256 of the whole file (when encrypted, of the ciphertext); null in check mode.
  returned: always
  type: str
db_sha256:
  description: sha256 of the database, as the trailer carries it; null in check mode.
  returned: always
  type: str
revision:
  description:
    - The revision the snapshot stands for, read from the file - the member's revision when the snapshot was cut
      (the newest revision in its key bucket, or its last compaction when that is newer, and at least 1). It lies
      between RV(revision_before) and RV(revision_after). null in check mode.
  returned: always
  type: int
revision_before:
  description: The member's revision just before the stream was requested (in check mode, its revision now).
  returned: always
  type: int
revision_after:
  description: The member's revision just after the stream ended; null in check mode.
  returned: always
  type: int
last_key_revision:
  description:
    - The newest revision left in the file's key bucket (what C(etcdutl snapshot status) calls its revision) - 0 for
      a new cluster, lower than RV(revision) when the newest revisions were compacted tombstones. null in check mode.
  returned: always
  type: int
compact_revision:
  description: The last finished compaction recorded in the file; null when the cluster was never compacted.
  returned: always
  type: int
key_count:
  description: Live keys at RV(revision), counted by the member (or in the file when the member has compacted that
    revision since); null in check mode.
  returned: always
  type: int
member_id:
  description: Id of the member snapshotted, in hex.
  returned: always
  type: str
member_name:
  description: Its name.
  returned: always
  type: str
cluster_id:
  description: Cluster id, in hex.
  returned: always
  type: str
etcd_version:
  description: The member's etcd version.
  returned: always
  type: str
duration_seconds:
  description: Seconds from the request to the renamed, fsynced file.
  returned: always
  type: float
throughput_mib_s:
  description: RV(size) over RV(duration_seconds), in MiB per second; null in check mode.
  returned: always
  type: float
verified:
  description: With O(verify), the report of the file read back from disk, as one of
    M(etcdops.dr.etcd_snapshot_info)'s C(snapshots); null otherwise and in check mode.
  returned: always
  type: dict
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
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.take import ARGUMENT_SPEC, OnlineSnapshot


def main():
    run_module(ARGUMENT_SPEC, OnlineSnapshot)


if __name__ == "__main__":
    main()
