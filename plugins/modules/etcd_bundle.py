#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_bundle
short_description: Bundle a control plane's CAs, keys, manifests and EncryptionConfiguration beside an etcd snapshot
version_added: 0.1.0
description:
  - A snapshot alone cannot bring a kubeadm cluster back when every control-plane machine is lost - the etcd CA, the
    cluster CA, C(sa.key), the static pod manifests, the kubeconfigs, and above all the EncryptionConfiguration
    without which every Secret in the snapshot is ciphertext nothing can read. This module writes them, from this
    host, into one archive that belongs to the snapshot O(snapshot_name).
  - The archive is a tar whose first member C(MANIFEST.json) lists each file's path, sha256, mode, owner and size. It
    is named C(<snapshot_name>.bundle-<host_label>.tar), with C(.enc) when encrypted, in O(dest_dir), with a
    C(<name>.json) manifest beside it (sha256, size, recipients) so that stores verify and list it as they do
    snapshots. It is written to a temp file, fsynced, mode C(0600), then renamed.
  - It is encrypted on this host to O(recipients), in the same format as an encrypted snapshot, so that no key leaves
    the host in plaintext. Without recipients it is refused unless O(plaintext=true).
  - The file kube-apiserver's static pod names with C(--encryption-provider-config) is always added (through the pod's
    hostPath volume); when the flag names a file that is missing, nothing is written.
  - Idempotent - a bundle of the same snapshot already there, with the same files and contents, is left as it is.
  - Retention ranks this host's bundles by their snapshot's name as M(etcdops.dr.etcd_snapshot_prune) ranks
    snapshots (O(keep_last), O(max_age)), the current snapshot's always kept.
attributes:
  check_mode:
    details: Reads and hashes the files, and reports what would be bundled and removed; writes nothing.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  dest_dir:
    description: Where the bundle is written (the backup dir; created 0700 when missing).
    type: path
    required: true
  snapshot_name:
    description: The file name of the snapshot this bundle belongs to, for example C(etcd-snapshot-20261208T010000Z.db.enc).
    type: str
    required: true
  host_label:
    description: The name of this host in the bundle's file name (the inventory hostname).
    type: str
    required: true
  member:
    description:
      - This host's etcd member as the inventory names it, recorded in the bundle's manifests so that a rebuild on new
        hosts (M(etcdops.dr.etcd_bundle_restore)) knows which member each bundle was taken beside.
    type: dict
    default: {}
    suboptions:
      name:
        description: The member's name.
        type: str
      peer_url:
        description: Its peer URL.
        type: str
      client_url:
        description: Its client URL.
        type: str
  paths:
    description:
      - Absolute paths or glob patterns (C(**) for every dir below) of the files to bundle. Regular files and symlinks
        are taken; a pattern that matches nothing is reported under RV(unmatched).
      - The default is kubeadm's layout.
    type: list
    elements: str
    default:
      - /etc/kubernetes/pki/**
      - /etc/kubernetes/manifests/*.yaml
      - /etc/kubernetes/*.conf
      - /etc/kubernetes/kubeadm*.yaml
      - /var/lib/kubelet/config.yaml
      - /var/lib/kubelet/kubeadm-flags.env
  kube_apiserver_manifest:
    description: kube-apiserver's static pod manifest, read for C(--encryption-provider-config). A missing manifest is no error.
    type: path
    default: /etc/kubernetes/manifests/kube-apiserver.yaml
  recipients:
    description: X25519 public keys (PEM) to encrypt the bundle to, as for snapshots (docs/encryption.md).
    type: list
    elements: str
    default: []
  plaintext:
    description:
      - Accept an unencrypted bundle when O(recipients) is empty. The bundle then holds the cluster's CA keys,
        C(sa.key) and the keys that encrypt Secrets in plaintext, wherever it is copied to.
    type: bool
    default: false
  owner:
    description: Owner of the files written (default the user the module runs as).
    type: str
  group:
    description: Group of the files written.
    type: str
  prefix:
    description: Start of the snapshots' file names, for retention.
    type: str
    default: etcd-snapshot
  keep_last:
    description: Keep this host's bundles of the newest N snapshots; V(0) sets no count limit.
    type: int
    default: 0
  max_age:
    description: Remove this host's bundles of snapshots older than this (V(36h), V(7d)...); empty sets no age limit.
    type: str
    default: ""
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Bundle the control plane beside the snapshot just taken, encrypted to the backup's recipients
  etcdops.dr.etcd_bundle:
    dest_dir: /var/backups/etcd
    snapshot_name: "{{ snapshot.path | basename }}"
    host_label: "{{ inventory_hostname }}"
    recipients: "{{ backup_recipients }}"
"""

RETURN = r"""
path:
  description: The bundle's path.
  returned: always
  type: str
manifest_path:
  description: The path of the manifest beside it.
  returned: always
  type: str
sha256:
  description: The sha256 of the bundle file (encrypted bytes when encrypted); null in check mode before it exists.
  returned: always
  type: str
size:
  description: The bundle's size in bytes; null in check mode before it exists.
  returned: always
  type: int
encrypted:
  description: Whether the bundle is encrypted.
  returned: always
  type: bool
files:
  description: Each file bundled - path, size, mode, owner, group, type (file or symlink), sha256. Never contents.
  returned: always
  type: list
  elements: dict
unmatched:
  description: The path patterns that matched no file.
  returned: always
  type: list
  elements: str
encryption_provider_config:
  description: The EncryptionConfiguration kube-apiserver names, bundled; null when it names none.
  returned: always
  type: str
removed:
  description: Older bundle files removed by retention (in check mode, that would be).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._bundle.take import ARGUMENT_SPEC, Bundle
from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module


def main():
    run_module(ARGUMENT_SPEC, Bundle)


if __name__ == "__main__":
    main()
