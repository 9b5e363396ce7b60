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
extends_documentation_fragment:
  - etcdops.dr.attributes
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
  etcdutl:
    description:
      - Not used any more; the module reads the snapshot's revision and key count itself. Accepted so that
        existing playbooks keep working.
    type: path
  etcdctl:
    description: Not used any more, as O(etcdutl).
    type: path
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
manifest_path:
  description: The manifest, RV(path) plus C(.json).
  returned: always
  type: str
manifest:
  description: The manifest's content; null in check mode.
  returned: always
  type: dict
size:
  description: Bytes written, the database plus the 32-byte trailer (in check mode, the member's db size).
  returned: always
  type: int
sha256:
  description: sha256 of the whole file; null in check mode.
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
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.dr.plugins.module_utils._etcd.client import (
    CONNECTION_REQUIRED_TOGETHER, EtcdConnection, EtcdError, check_params,
    connection_argument_spec, load_library)
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDbError, read_facts
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import owner_ids
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import TRAILER, stream_to_file
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import (
    MANIFEST_RESERVE, MANIFEST_SUFFIX, BackupFileError, check_destination, ensure_dir, manifest,
    new_backup_path, write_manifest)


def _member(params):
    endpoint = params["endpoint"]
    if not endpoint:
        if len(params["endpoints"]) != 1:
            raise EtcdError("endpoint is not set and endpoints holds %d URLs: set endpoint to the client URL of the "
                            "one member to snapshot." % len(params["endpoints"]))
        endpoint = params["endpoints"][0]
    member_params = dict(params, endpoints=[endpoint])
    check_params(member_params)
    return EtcdConnection(endpoint, member_params, load_library(params["client_library"]))


def check_written(connection, status, path):
    """What the file at `path` holds, checked against the member it was streamed from: the member's own database
    at a revision between its revisions before (`status`) and after the stream. Returns the file's facts with the
    live key count at that revision; raises BackupFileError when the file is not what the stream promised."""
    after = connection.status()
    try:
        facts = read_facts(path)
    except EtcdDbError as exc:
        raise BackupFileError("the snapshot passed its sha256 trailer but is not a readable etcd database: %s; "
                              "nothing was written." % exc.msg) from None
    facts["revision_after"] = after["revision"]
    if not status["revision"] <= facts["revision"] <= after["revision"]:
        raise BackupFileError(
            "the snapshot stands for revision %d, but the member reported revision %d before the stream and %d "
            "after it: the file is not this member's database at that time; nothing was written."
            % (facts["revision"], status["revision"], after["revision"]))
    member_ids = [member["id"] for member in facts["members"]]
    if member_ids and status["member_id"] not in member_ids:
        raise BackupFileError("the snapshot's members (%s) do not include the member it was streamed from (%s); "
                              "nothing was written." % (", ".join(member_ids), status["member_id"]))
    try:
        facts["key_count"] = connection.count_keys(facts["revision"])
    except EtcdError as exc:
        if exc.code != "OUT_OF_RANGE":
            raise
        # Compacted since the snapshot was cut: count in the file instead.
        facts["key_count"] = read_facts(path, count_keys=True)["key_count"]
    return facts


def main():
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            endpoint=dict(type="str"),
            dest_dir=dict(type="path", required=True),
            prefix=dict(type="str", default="etcd-snapshot"),
            snapshot_timeout=dict(type="float", default=3600),
            owner=dict(type="str"),
            group=dict(type="str"),
            etcdutl=dict(type="path", removed_in_version="1.0.0", removed_from_collection="etcdops.dr"),
            etcdctl=dict(type="path", removed_in_version="1.0.0", removed_from_collection="etcdops.dr"),
        ),
        required_together=CONNECTION_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False, path=None, manifest_path=None, manifest=None, size=None, sha256=None, db_sha256=None,
                  revision=None, revision_before=None, revision_after=None, last_key_revision=None,
                  compact_revision=None, key_count=None, member_id=None, member_name=None, cluster_id=None,
                  etcd_version=None, duration_seconds=0.0, throughput_mib_s=None)
    connection = None
    facts = {}
    try:
        # -1: chown leaves that id as it is.
        uid, gid = (-1 if given is None else given for given in owner_ids(params["owner"], params["group"]))
        connection = _member(params).open()
        status = connection.status()
        names = {m["id"]: m["name"] for m in connection.members()}
        result.update(member_id=status["member_id"], member_name=names.get(status["member_id"]),
                      cluster_id=status["cluster_id"], etcd_version=status["version"],
                      revision_before=status["revision"], size=status["db_size"])
        check_destination(params["dest_dir"], status["db_size"] + TRAILER + MANIFEST_RESERVE)
        path = new_backup_path(params["dest_dir"], params["prefix"], "db")
        result.update(path=path, manifest_path=path + MANIFEST_SUFFIX, changed=True)
        if module.check_mode:
            module.exit_json(msg="would snapshot %s (%s, about %d bytes) to %s" % (
                connection.endpoint, result["member_name"], status["db_size"], path), **result)
        began = time.monotonic()
        ensure_dir(params["dest_dir"])
        try:
            written = stream_to_file(
                connection.stream("maintenancestub", "Snapshot", connection.rpc.SnapshotRequest(),
                                  timeout=params["snapshot_timeout"]),
                path, uid=uid, gid=gid, check=lambda temp: facts.update(check_written(connection, status, temp)))
        except EtcdError as exc:
            raise EtcdError("the snapshot stream broke: %s; the partial file was removed and nothing was written."
                            % exc.msg.rstrip("."), exc.endpoint, exc.code, exc.details) from None
        connection.close()
        result.update(size=written["size"], sha256=written["sha256"], db_sha256=written["db_sha256"],
                      **{name: facts[name] for name in ("revision", "revision_after", "last_key_revision",
                                                        "compact_revision", "key_count")})
        result["manifest"] = manifest("snapshot", path, written["size"], written["sha256"], "etcd_snapshot", dict(
            facts, cluster_id=result["cluster_id"], member_id=result["member_id"], member_name=result["member_name"],
            raft_index=status["raft_index"], db_size=written["size"] - TRAILER, etcd_version=result["etcd_version"]))
        write_manifest(path, result["manifest"], uid, gid)
        duration = time.monotonic() - began
        result.update(duration_seconds=round(duration, 3),
                      throughput_mib_s=round(written["size"] / 1048576.0 / max(duration, 1e-6), 1))
    except EtcdOpsError as exc:
        result["changed"] = False
        module.fail_json(msg=exc.msg, **result)
    except OSError as exc:
        result["changed"] = False
        module.fail_json(msg="writing the snapshot into %s failed: %s; no file took the final name." % (
            params["dest_dir"], exc), **result)
    finally:
        if connection is not None:
            connection.close()
    module.exit_json(msg="snapshot of %s (%s) at revision %s: %s, %s bytes, %s keys, %s MiB/s" % (
        connection.endpoint, result["member_name"], result["revision"], result["path"], result["size"],
        result["key_count"], result["throughput_mib_s"]), **result)


if __name__ == "__main__":
    main()
