#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_snapshot_reencrypt
short_description: Re-encrypt an encrypted etcd backup to new recipients, in place, without writing plaintext
version_added: 0.1.0
description:
  - For key rotation. Decrypts the encrypted backup at O(path) (C(.db.enc), see C(docs/encryption.md)) chunk by chunk
    with O(decryption_key) and encrypts each chunk again, with a new file key, to O(recipients), into a temp file
    beside it (mode 0600, the old file's owner). No plaintext is written to disk.
  - The new file takes the old one's name only once its plaintext's sha256 is the C(plaintext_sha256) its manifest
    records and its etcd sha256 trailer matches; then the manifest is rewritten with the new ciphertext's C(size)
    and C(sha256) and C(encryption), and a C(reencrypted) time. Anything that fails before the rename leaves the old
    file and manifest as they were.
  - Idempotent. A backup already encrypted to exactly O(recipients) (in any order) is left as it is, once it is
    proven to open with O(decryption_key). A run cut off between the rename and the manifest left a file that only
    its manifest's sha256 does not describe; the next run proves it and writes the manifest.
  - Run it where the backup is - an etcd host's backup dir, or the controller's copy (C(delegate_to) localhost). For a
    backup on an SFTP or S3 store, download it with M(etcdops.dr.etcd_store_download), re-encrypt it, and upload it
    under a new store URL (the stores never replace a backup under its name).
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Decrypts the whole file in memory to prove the key and the file, and says whether it would re-encrypt
      it; writes nothing.
options:
  path:
    description: The encrypted backup, with its manifest beside it (C(<path>.json)).
    type: path
    required: true
  recipients:
    description: X25519 public keys (PEM) to encrypt it to from now on. Any one of their private keys will open it;
      the old keys will not, unless they are listed too.
    type: list
    elements: str
    required: true
  decryption_key:
    description: The X25519 private key (PEM) of one of the backup's current recipients. Never logged.
    type: str
    required: true
requirements:
  - cryptography (Python package) on the host it runs on
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Re-encrypt the controller's copies to the new key only
  etcdops.dr.etcd_snapshot_reencrypt:
    path: "{{ item }}"
    recipients: ["{{ lookup('file', 'keys/backup-2027.pub.pem') }}"]
    decryption_key: "{{ vault_etcd_backup_key_2026 }}"
  loop: "{{ query('fileglob', '/srv/etcd-backups/*.db.enc') }}"
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The backup.
  returned: always
  type: str
recipients:
  description: Key ids of O(recipients).
  returned: always
  type: list
  elements: str
previous_recipients:
  description: Key ids the file was encrypted to before.
  returned: always
  type: list
  elements: str
sha256:
  description: sha256 of the file now (in check mode, as its manifest records it).
  returned: always
  type: str
previous_sha256:
  description: sha256 its manifest recorded before, when the manifest was rewritten; else null.
  returned: always
  type: str
plaintext_sha256:
  description: sha256 of the snapshot it holds, the same before and after.
  returned: always
  type: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.reencrypt import ARGUMENT_SPEC, Reencrypt


def main():
    run_module(ARGUMENT_SPEC, Reencrypt)


if __name__ == "__main__":
    main()
