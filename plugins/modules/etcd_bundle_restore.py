#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_bundle_restore
short_description: Put a lost control-plane host's bundle on the new host that replaces it, renamed for the new host
version_added: 0.1.0
description:
  - The first step of a rebuild on new hosts (the role C(etcdops.dr.restore) with C(restore_new_hosts=true)), before
    the snapshot is restored. O(bundle) is the control-plane bundle M(etcdops.dr.etcd_bundle) took beside the snapshot
    on the lost host; this host takes that host's place under a new name and new URLs.
  - "Files: every file of the bundle is checked against the bundle's manifest (sha256) and written where it was,
    with its mode and owner, when nothing is there yet. A file already there is kept as it is, and listed in
    RV(kept_existing) when it differs from the bundle."
  - "etcd's configuration, where its manager keeps it (config file, static pod manifest, supervisor program, systemd
    unit or environment file): the name, the advertised URLs, the old host's address in the listen URLs, a new
    O(initial_cluster) with C(initial-cluster-state: new). Each edit is proven by reading the new text back."
  - "Certificates: the server and peer certificates etcd's configuration names are kept when they are signed by the
    etcd CA it names and name this host's address; else new ones are issued from that CA (its key beside it,
    C(ca.key), or O(etcd_ca_key)) as kubeadm issues them: the member's name and C(localhost), its addresses,
    C(127.0.0.1) and C(::1). They are read back and verified against the CA."
  - "kube-apiserver: with O(etcd_servers), C(--etcd-servers) of its static pod manifest O(kube_apiserver_manifest)
    becomes that list, and C(--advertise-address) this host's address when it was the lost host's. Its serving
    certificate (C(--tls-cert-file)) is issued anew from the cluster CA (C(--client-ca-file), its key beside it) when
    it does not name this host's address: the same SANs, the lost host's address replaced by this host's."
  - Bundled files that still name the lost host's address afterwards are listed in RV(old_address_remaining).
  - "The static pod manifests of etcd (C(etcd.yaml) in O(manifest_dir)) and of kube-apiserver (O(kube_apiserver_manifest)
    when it is in O(manifest_dir)) are placed in O(held_manifest_dir) and O(kube_held_manifest_dir) instead, as the
    restore's stop leaves them, so that a kubelet already running on the new host does not start them before the
    restore does."
  - Every file that is changed is copied into O(keep_dir) first. A second run changes nothing.
attributes:
  check_mode:
    details: Reports the files it would place; with every file in place, also the configuration diff, the
      certificates it would issue and the kube-apiserver change.
extends_documentation_fragment:
  - etcdops.dr.connection
  - etcdops.dr.member_service
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  bundle:
    description: The bundle file on this host (C(.tar) or C(.tar.enc)).
    type: path
    required: true
  decryption_key:
    description: The X25519 private key (PEM) of one of the bundle's recipients, for an encrypted bundle.
    type: str
  name:
    description: This host's member name in the rebuilt cluster.
    type: str
    required: true
  client_url:
    description: This member's client URL.
    type: str
    required: true
  peer_url:
    description: This member's peer URL.
    type: str
    required: true
  initial_cluster:
    description: The rebuilt cluster's members, C(name=peer_url,...).
    type: str
    required: true
  etcd_servers:
    description: The client URLs kube-apiserver's C(--etcd-servers) is set to; empty leaves its manifest alone.
    type: list
    elements: str
    default: []
  kube_apiserver_manifest:
    description: kube-apiserver's static pod manifest on this host; no manifest, no change.
    type: path
    default: /etc/kubernetes/manifests/kube-apiserver.yaml
  kube_held_manifest_dir:
    description: Where kube-apiserver's bundled static pod manifest is placed, held, when it belongs in O(manifest_dir).
    type: path
    default: /etc/kubernetes/etcdops-held-manifests
  etcd_ca_key:
    description: The etcd CA's private key, when it is not beside the CA certificate as C(ca.key).
    type: path
  keep_dir:
    description: Where each file is copied before it is changed (created 0700).
    type: path
    required: true
  timeout:
    description: Seconds to wait for etcd's manager when its definition is read.
    type: float
    default: 60
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Make this new host the successor of the lost host whose bundle it gets
  etcdops.dr.etcd_bundle_restore:
    bundle: /var/lib/etcd-restore/etcd-snapshot-20261208T010000Z.db.enc.bundle-cp1.tar.enc
    decryption_key: "{{ backup_private_key }}"
    name: cp4
    client_url: https://10.0.0.14:2379
    peer_url: https://10.0.0.14:2380
    initial_cluster: cp4=https://10.0.0.14:2380,cp5=https://10.0.0.15:2380,cp6=https://10.0.0.16:2380
    etcd_servers: [https://10.0.0.14:2379, https://10.0.0.15:2379, https://10.0.0.16:2379]
    keep_dir: /var/lib/etcd-restore/pre-rebuild
  no_log: true
"""

RETURN = r"""
old_member:
  description: The member the bundle was taken beside - name, peer_url, client_url.
  returned: always
  type: dict
placed:
  description: The bundle's files written here (in check mode, that would be).
  returned: always
  type: list
  elements: str
kept_existing:
  description: Files already here that differ from the bundle's, kept as they are.
  returned: always
  type: list
  elements: str
identical:
  description: How many of the bundle's files were here already, identical.
  returned: always
  type: int
config_changes:
  description: Each file of etcd's configuration - path, kind, changed, before, after.
  returned: always
  type: list
  elements: dict
config_diff:
  description: The configuration's changes as a unified diff.
  returned: always
  type: str
certificates:
  description: Each certificate etcd's configuration names - cert, key, ca, role (server, peer), issue, why, verified.
  returned: always
  type: list
  elements: dict
kube_apiserver:
  description: kube-apiserver's manifest - path, changed, etcd_servers.
  returned: always
  type: dict
kept_dir:
  description: Where the previous version of each changed file is.
  returned: always
  type: str
old_address_remaining:
  description: Bundled files (not keys or certificates) that still name the lost host's address after the rebuild -
    other components' configuration to look at by hand.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._bundle.place import ARGUMENT_SPEC, BundleRestore
from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module


def main():
    run_module(ARGUMENT_SPEC, BundleRestore)


if __name__ == "__main__":
    main()
