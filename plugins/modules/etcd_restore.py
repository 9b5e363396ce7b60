#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_restore
short_description: Restore one stopped etcd member's data dir from a snapshot, keeping the old data dir
version_added: 0.1.0
description:
  - Builds this member's data dir from a snapshot with etcd's own tool, C(etcdutl snapshot restore) (etcd 3.5 and
    newer) or C(etcdctl snapshot restore) (etcd 3.4), into a staging dir beside the data dir, then swaps it in by
    renames. The old data dir is renamed C(<data_dir>.pre-restore-<stamp>) and never deleted; the same goes for
    O(wal_dir). M(etcdops.dr.etcd_restore_rollback) puts it back.
  - A data dir that is a mount point (its own disk) cannot be renamed. There the mount point stays, and its
    C(member) dir, where etcd keeps all its data, is swapped instead, inside the mount - staged in
    C(<data_dir>/member.restore-staging), the old one kept as C(<data_dir>/member.pre-restore-<stamp>) - so that the
    free disk checked, the restored data and the kept data are all on the mounted filesystem. A O(wal_dir) that is a
    mount point is refused.
  - Every member of the cluster must be restored from the same snapshot with the same O(initial_cluster),
    O(initial_cluster_token) and O(bump_revision); the role M(etcdops.dr.restore) does that across the hosts.
  - "Refuses, before anything is changed: etcd still running on this host (a process holds the database open or
    listens on the member's URLs); a file whose sha256 is not O(sha256); a file that is truncated or corrupt; a
    tool too old for a requested flag; name and peer URLs that do not match O(initial_cluster); too little free
    disk."
  - The snapshot's own sha256 trailer is checked by the tool. A database copied from a data dir (a cold copy) has
    no trailer; it is restored with C(--skip-hash-check) only when its sha256 matched O(sha256) or the sha256 in
    its C(etcd_cold_copy) manifest.
  - It reads the database in the snapshot itself and returns the revision the restored member will report when it
    starts, RV(expected_revision) - the snapshot's newest key revision plus O(bump_revision), the last compaction
    when that is newer, and on etcd 3.4.32+/3.5.14+/3.6 an unfinished compaction too (O(server_version)). After the
    tool has run it reads the restored database again, and refuses to swap it in unless it stands for that
    revision.
  - In check mode it also has its tool read the file (C(snapshot status)), as M(etcdops.dr.etcd_snapshot_info) does,
    and returns its report in RV(snapshot), so a preflight needs no separate check of the file.
  - An encrypted snapshot (C(.db.enc), see C(docs/encryption.md)) needs O(decryption_key). The plan decrypts it in
    memory, chunk by chunk, to check every chunk, its trailer and its database (no tool reads it in check mode, as etcd's
    tools read plaintext only); the restore decrypts it to C(snapshot.db), mode 0600, in the staging dir, checks that
    it is the plaintext the plan saw, has the tool restore from it and removes it as soon as the tool ends, whether
    the tool succeeded or not. The staging dir then needs room for both the plaintext and the restored database.
  - A restore always changes the data dir; running it twice restores twice and keeps both old dirs.
  - "It records its steps in the member's restore journal (C(<data_dir>.etcdops-restore.json), see
    M(etcdops.dr.etcd_restore_journal)): V(stopped) when it begins, V(staged) once the restored database is proven
    (with the kept dir's real name, before any rename), V(swapped) after the renames. It reads the journal first:
    when an earlier restore of this member did not finish (the controller killed, a host lost), the member's
    pre-restore data stays where that run kept it and is returned as RV(previous_data_dir), and a restored copy it
    left in the data dir is moved aside as C(<data_dir>.failed-restore-<stamp>); so a re-run never takes a restored
    copy for the member's own data. An unreadable journal is refused before anything changes."
attributes:
  check_mode:
    details: Makes every check above and returns the exact command it would run in RV(cmd); changes nothing. A running
      etcd does not fail it (a preflight runs before etcd is stopped); it is reported in RV(etcd_running).
  platform:
    details: Linux; it reads C(/proc) to find a running etcd.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
options:
  snapshot:
    description: The snapshot file (from M(etcdops.dr.etcd_snapshot) or C(etcdctl snapshot save)), or a cold copy.
    type: path
    required: true
  sha256:
    description:
      - sha256 of the whole file as it must be (the manifest's, or what the file had on another host). The restore
        is refused when the file differs.
    type: str
  manifest:
    description:
      - The snapshot's manifest as read where the file came from (the restore role passes the one it read on the
        controller, so that only the snapshot is copied to the hosts). When given, a C(.json) file beside the
        snapshot is not read; the file is checked against this manifest the same way.
    type: dict
  checked_file:
    description:
      - RV(checked_file) of a check-mode run of this module on this host, moments before (the restore role passes
        its preflight's). When the file's identity (device, inode, size, mtime, ctime) is still the one that check
        hashed, the file is not read and hashed again; O(sha256) must then be the check's. A file written to,
        replaced or touched since is hashed again.
    type: dict
    suboptions:
      identity:
        description: The file's identity as the check saw it.
        type: str
        required: true
      sha256:
        description: The sha256 the check computed.
        type: str
        required: true
  name:
    description: This member's name, as in O(initial_cluster) and in etcd's C(--name).
    type: str
    required: true
  initial_advertise_peer_urls:
    description: This member's peer URLs, as etcd's C(--initial-advertise-peer-urls).
    type: list
    elements: str
    required: true
  initial_cluster:
    description: Every member of the restored cluster as C(name=peer-url,...), the same on every member.
    type: str
    required: true
  initial_cluster_token:
    description: Token of the new cluster, the same on every member and new for each restore.
    type: str
    required: true
  data_dir:
    description: The member's data dir (etcd's C(--data-dir)).
    type: path
    required: true
  wal_dir:
    description: The member's WAL dir when etcd runs with C(--wal-dir); it is swapped like the data dir.
    type: path
  client_urls:
    description: This member's client URLs; a process listening on one means etcd still runs here.
    type: list
    elements: str
    default: []
  bump_revision:
    description:
      - Raise the restored revision by this much, with C(--mark-compacted), so that Kubernetes watch caches do not
        serve stale data. 0 leaves the revision as it was. Needs etcdutl 3.5.10+ or etcdctl 3.4.27+.
      - The tool adds it to the newest revision left in the snapshot's key bucket, not to the revision the snapshot
        stands for; a bump too small to raise the revision above the snapshot's is refused.
    type: int
    default: 0
  server_version:
    description:
      - Version of the etcd server that will run on the restored data, such as V(3.5.16) (the running cluster's).
        When not given, the C(etcd_version) in the snapshot's manifest is used, if there is one. It decides
        RV(expected_revision) when the snapshot was cut during a compaction; without any version both possible
        revisions are returned (RV(expected_revision_max)).
    type: str
  decryption_key:
    description:
      - The X25519 private key (PEM, C(-----BEGIN PRIVATE KEY-----)) of one of the recipients of an encrypted
        snapshot. Never logged; keep it in Ansible Vault or an AWX credential. Ignored for a plain snapshot.
      - Missing, not one of the file's recipients, or not a usable key - refused before anything changes.
    type: str
  count_keys:
    description:
      - Count the live keys in the snapshot's database (C(key_count) in RV(snapshot)); this reads every key, so a preflight
        asks it of one host only.
    type: bool
    default: false
  initial_memory_map_size:
    description: etcdutl's C(--initial-memory-map-size) in bytes, for large databases; needs etcdutl 3.5.14+.
    type: int
  etcdutl:
    description: Path of etcdutl. When neither this nor O(etcdctl) is given, etcdutl then etcdctl are looked for on PATH.
    type: path
  etcdctl:
    description: Path of etcdctl, for etcd 3.4 (3.6 has no C(etcdctl snapshot restore)).
    type: path
  owner:
    description: Owner of the restored data dir and everything in it; default the old data dir's, or root.
    type: str
  group:
    description: Group of the restored data dir and everything in it; default the old data dir's, or root.
    type: str
  mode:
    description: Mode of the restored data dir, such as V(0700); default the old data dir's, or V(0700).
    type: raw
  stamp:
    description: Suffix of the kept old dirs; default the UTC time such as V(20261124T101500Z). Give the same on every
      member to name them alike.
    type: str
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Restore this member from the snapshot every member has
  etcdops.dr.etcd_restore:
    snapshot: /var/backups/etcd/etcd-snapshot-20261124T101500Z.db
    sha256: "{{ backup_sha256 }}"
    name: node1
    initial_advertise_peer_urls: [https://10.0.0.11:2380]
    initial_cluster: node1=https://10.0.0.11:2380,node2=https://10.0.0.12:2380,node3=https://10.0.0.13:2380
    initial_cluster_token: etcd-restore-20261124T101500Z
    data_dir: /var/lib/etcd
    bump_revision: 1000000000
    etcdutl: /usr/local/bin/etcdutl
  register: restored
"""

RETURN = r"""
cmd:
  description: The restore command run (in check mode, the one it would run), with the staging paths.
  returned: always
  type: list
  elements: str
tool:
  description: V(etcdutl) or V(etcdctl); null when none was found.
  returned: always
  type: str
tool_version:
  description: The tool's version, such as V(3.5.16).
  returned: always
  type: str
sha256:
  description: sha256 of the snapshot file.
  returned: always
  type: str
checked_file:
  description: For O(checked_file) of the real run, the file's identity and sha256, when the file was whole (and
    matched O(sha256) when given) and did not change while it was hashed; else null.
  returned: always
  type: dict
skip_hash_check:
  description: Whether C(--skip-hash-check) was used (a cold copy whose sha256 matched).
  returned: always
  type: bool
data_dir:
  description: The data dir.
  returned: always
  type: str
data_dir_mount:
  description: Whether the data dir is a mount point (its C(member) dir is swapped, inside the mount).
  returned: always
  type: bool
previous_data_dir:
  description:
    - Where the member's pre-restore data is kept (in check mode, would be kept); null when there was none.
    - After an interrupted restore, the dir that run kept it in (its stamp, not this run's).
  returned: always
  type: str
journal:
  description: The member's restore journal as this run left it (in check mode, as it was found), or null.
  returned: always
  type: dict
previous_wal_dir:
  description: Where the old WAL dir was kept; null when O(wal_dir) is not set or did not exist.
  returned: always
  type: str
staging_dir:
  description: The staging dir beside the data dir (inside it when it is a mount point); removed after the swap.
  returned: always
  type: str
snapshot_revision:
  description: The revision the snapshot stands for (see M(etcdops.dr.etcd_snapshot_info)).
  returned: always
  type: int
snapshot:
  description:
    - The file's report, with the fields of a report of M(etcdops.dr.etcd_snapshot_info) (status, problems,
      sha256, revision, last_key_revision, key_count with O(count_keys), manifest, and more). C(total_keys) and
      C(tool) are set in check mode only, where the tool reads the file.
  returned: always
  type: dict
server_version:
  description: The etcd version RV(expected_revision) was computed for (O(server_version), else the manifest's);
    null when neither was known.
  returned: always
  type: str
expected_revision:
  description: The revision every restored member will report when it starts (the lower end when it is not
    certain, see O(server_version)).
  returned: always
  type: int
expected_revision_max:
  description: The highest revision a restored member may report when it starts; equals RV(expected_revision)
    unless O(server_version) was needed and not given.
  returned: always
  type: int
restored_revision:
  description: The revision the restored database stands for, read from it before the swap; null in check mode.
  returned: always
  type: int
etcd_running:
  description: What shows that etcd runs on this host (in check mode; otherwise the module fails when anything does).
  returned: always
  type: list
  elements: str
stamp:
  description: The suffix of the kept dirs.
  returned: always
  type: str
required_bytes:
  description: Free bytes the restore needs beside the data dir (database, one WAL segment, margin).
  returned: always
  type: int
free_bytes:
  description: Free bytes on each filesystem the restore writes to, by directory.
  returned: always
  type: dict
decrypt_seconds:
  description: Seconds the decryption of an encrypted snapshot took (0.0 for a plain one).
  returned: always
  type: float
restore_seconds:
  description: Seconds the restore took (the decryption of an encrypted snapshot and the restore tool).
  returned: always
  type: float
duration_seconds:
  description: Seconds the whole module took, checks included.
  returned: always
  type: float
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._restore.member import ARGUMENT_SPEC, MemberRestore


def main():
    run_module(ARGUMENT_SPEC, MemberRestore)


if __name__ == "__main__":
    main()
