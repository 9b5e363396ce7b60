#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_drill_scratch
short_description: Prove a backup restores, on one host, with a throwaway etcd member that is removed afterwards
version_added: 0.1.0
description:
  - Restores O(snapshot) with the same code as M(etcdops.dr.etcd_restore) (the same checks of the file, its
    decryption, etcd's own restore tool, the proof of the restored database) into a private run dir (0700) under
    O(work_dir), starts a single etcd member from it on O(address) with no peers, waits until it serves, reads its
    revision, key count, KV hash and Kubernetes objects per resource type, stops it and removes the run dir.
  - The member is this module's own child process, never a service; it listens only on a loopback address, on free
    ports (or the ones given, refused when taken). The production member on the host, its processes, ports and data
    are not touched. The member and the run dir are removed whether the drill passes or fails; a run dir a killed
    drill left is removed by the next one.
  - It measures and reports; it does not judge. The C(etcdops.dr.drill) role compares the readings with the
    snapshot's manifest and the live cluster and writes the reports.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Checks the snapshot, the tools and the ports and says what it would run; starts nothing.
options:
  snapshot:
    description: The backup file on this host (C(.db), C(.db.enc) or a cold copy with its manifest).
    type: path
    required: true
  sha256:
    description: The sha256 the file must have.
    type: str
  manifest:
    description: The backup's manifest as read elsewhere (the controller's copy), when none is beside the file here.
    type: dict
  decryption_key:
    description: X25519 private key (PEM) for an encrypted backup. Never logged.
    type: str
  server_version:
    description: The etcd version the cluster runs, when the manifest does not record it.
    type: str
  work_dir:
    description: Where the run dir goes (created 0700 when missing; its parent must exist). It needs free space
      about the size of the database, twice for an encrypted backup.
    type: path
    default: /var/tmp/etcdops-drill
  address:
    description: The loopback address the throwaway member listens on (plain HTTP), only while the module runs.
    type: str
    default: 127.0.0.1
  client_port:
    description: Its client port; V(0) takes a free one.
    type: int
    default: 0
  peer_port:
    description: Its peer port; V(0) takes a free one.
    type: int
    default: 0
  etcd:
    description: The etcd server binary; default the one beside O(etcdutl) or O(etcdctl), else C(etcd) on PATH.
    type: path
  etcdutl:
    description: etcdutl that restores (as in M(etcdops.dr.etcd_restore)).
    type: path
  etcdctl:
    description: etcdctl that restores (etcd 3.4), when there is no etcdutl.
    type: path
  start_timeout:
    description: Seconds the member has to serve after it was started.
    type: float
    default: 60
  count_resources:
    description: Count the Kubernetes objects per resource type (keys under C(/registry/)).
    type: bool
    default: true
  bundles:
    description:
      - Also check the control-plane bundles beside O(snapshot) (C(<snapshot>.bundle-<host>.tar[.enc])), in this
        process, whatever the drill's outcome - each archive opened with O(decryption_key) and every file's sha256
        matched, its certificates chained to the bundled CAs with their expiry, and its EncryptionConfiguration
        proven on a sample of the Secrets in the snapshot's database (decrypted in memory when encrypted). The result
        (RV(bundles)) names providers and key names, never key material.
      - Only the bundle of O(bundle_host) is opened here; another host's is reported as not checked (its keys are
        opened only on its own host or on the controller).
    type: bool
    default: false
  bundle_host:
    description: This host's name in the bundles' file names (the inventory hostname). Required with O(bundles).
    type: str
  bundles_sample:
    description: At most this many Secrets (the newest written first) are read to prove each EncryptionConfiguration.
    type: int
    default: 20
requirements:
  - the Python etcd client and grpcio, and cryptography for an encrypted backup, on the host
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Drill the newest backup on this host
  etcdops.dr.etcd_drill_scratch:
    snapshot: /var/lib/etcd-backups/etcd-20261126T020000Z.db
    etcdutl: /usr/local/bin/etcdutl
  register: drill
"""

RETURN = r"""
run_dir:
  description: The private dir the drill ran in; removed when the module ends.
  returned: always
  type: str
client_url:
  description: Where the throwaway member listened.
  returned: always
  type: str
etcd:
  description: The etcd binary that ran it.
  returned: always
  type: str
etcd_version:
  description: Its version.
  returned: always
  type: str
cmd:
  description: The command that started it.
  returned: always
  type: list
  elements: str
snapshot:
  description: The check of the file, as M(etcdops.dr.etcd_snapshot_info) reports one (status, sha256,
    verified_by, manifest, revision, key_count, members, encryption...).
  returned: always
  type: dict
sha256:
  description: The file's sha256.
  returned: always
  type: str
expected_revision:
  description: The revision the restored member must report (the lower end when not certain).
  returned: always
  type: int
expected_revision_max:
  description: The highest revision it may report.
  returned: always
  type: int
restored_revision:
  description: The revision the restored database stands for, read from it before the start.
  returned: always
  type: int
tool:
  description: The restore tool (etcdutl or etcdctl).
  returned: always
  type: str
tool_version:
  description: Its version.
  returned: always
  type: str
member:
  description: What the running member reported; null when it did not serve.
  returned: always
  type: dict
  contains:
    cluster_id:
      description: Its cluster id (a new one, as every restore makes).
      type: str
    revision:
      description: Its revision.
      type: int
    key_count:
      description: Live keys it holds.
      type: int
    hash_kv:
      description: Its KV hash at its revision.
      type: int
    resources:
      description: Kubernetes objects per resource type.
      type: dict
phases:
  description: Seconds per phase - V(decrypt), V(restore), V(start), V(verify).
  returned: always
  type: dict
removed_stale:
  description: Run dirs of killed drills this run removed.
  returned: always
  type: list
  elements: str
left_behind:
  description: What could not be removed (empty when everything was).
  returned: always
  type: list
  elements: str
bundles:
  description: The check of the bundles beside the snapshot (with O(bundles)); null without. C(bundles) lists each
    bundle's C(archive), C(certificates) and C(secrets) as C(status) (passed, failed, not_run) and C(detail);
    C(not_run) says why none was checked.
  returned: always
  type: dict
log_tail:
  description: The member's last log lines when it did not start.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._drill.scratch import ARGUMENT_SPEC, ScratchDrill


def main():
    run_module(ARGUMENT_SPEC, ScratchDrill)


if __name__ == "__main__":
    main()
