# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An online snapshot of one member, as the etcd_snapshot module takes it: plan() asks the member and checks the
destination (check mode stops there); apply() streams the file, proves it and writes its manifest."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import BACKUP_DIR_LOCK, CONNECTION, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.client import (
    EtcdConnection, EtcdError, check_params, load_library)
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDbError, read_facts
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import DirLock, owner_ids, remove_stale_partials
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import public_key
from ansible_collections.etcdops.dr.plugins.module_utils._runner import planned
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import (
    ENCRYPTED_EXTENSION, MANIFEST_RESERVE, MANIFEST_SUFFIX, BackupFileError, check_destination, ensure_dir, manifest, new_backup_path,
    write_manifest)
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.check import check_file, find_tool, read_status
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import TRAILER, stream_to_file

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = CONNECTION.merge(BACKUP_DIR_LOCK).merge(ArgumentSpec(dict(
    endpoint=dict(type="str"),
    dest_dir=dict(type="path", required=True),
    prefix=dict(type="str", default="etcd-snapshot"),
    snapshot_timeout=dict(type="float", default=3600),
    owner=dict(type="str"),
    group=dict(type="str"),
    verify=dict(type="bool", default=False),
    etcdutl=dict(type="path"),
    etcdctl=dict(type="path"),
    # Public keys are no secret, but a private key given here by mistake must not reach a log.
    recipients=dict(type="list", elements="str", default=[], no_log=True),
)))
# What the file's database says of itself, returned as it was checked.
FILE_FACTS = ("revision", "revision_after", "last_key_revision", "compact_revision", "key_count")
# What the file read back from disk must say as it was written.
READ_BACK = ("sha256", "revision", "key_count")


def _member(params: dict[str, Any]) -> EtcdConnection:
    endpoint = params["endpoint"]
    if not endpoint:
        if len(params["endpoints"]) != 1:
            raise EtcdError("endpoint is not set and endpoints holds %d URLs: set endpoint to the client URL of the "
                            "one member to snapshot." % len(params["endpoints"]))
        endpoint = params["endpoints"][0]
    member_params = dict(params, endpoints=[endpoint])
    check_params(member_params)
    return EtcdConnection(endpoint, member_params, load_library(params["client_library"]))


def check_written(connection: EtcdConnection, status: dict[str, Any], path: str, source: Any = None) -> dict[str, Any]:
    """What the file at `path` holds (read through `source` when it is encrypted, see read_facts), checked against
    the member it was streamed from: the member's own database at a revision between its revisions before (`status`)
    and after the stream. Returns the file's facts with the live key count at that revision; raises BackupFileError
    when the file is not what the stream promised."""
    after = connection.status()
    try:
        facts = read_facts(path, source=source)
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
        facts["key_count"] = read_facts(path, count_keys=True, source=source)["key_count"]
    return facts


class OnlineSnapshot:
    """The snapshot of one member into dest_dir. `result` holds every return value of the module at any point; the
    connection stays open from plan() to close()."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.host = host
        self.params = params
        self.connection: EtcdConnection | None = None
        self.status: dict[str, Any] | None = None
        # (uid, gid) the files get; -1 leaves that id as it is.
        self.ids: tuple[int, ...] | None = None
        # The file has its final name (a failure after that still changed something).
        self.written = False
        # (key id, raw public key) of each recipient when the file is encrypted; the key that wrote it.
        self.recipients: list[tuple[str, bytes]] | None = None
        self.file_key: bytes | None = None
        self.result: dict[str, Any] = dict(
            changed=False, path=None, manifest_path=None, manifest=None, size=None, sha256=None, db_sha256=None,
            revision=None, revision_before=None, revision_after=None, last_key_revision=None, compact_revision=None,
            key_count=None, member_id=None, member_name=None, cluster_id=None, etcd_version=None, encryption=None,
            plaintext_sha256=None,
            duration_seconds=0.0, throughput_mib_s=None, verified=None, lock_waited_seconds=0.0, removed_partials=[])

    def plan(self) -> None:
        """Ask the member, check the destination and free disk, choose the file name."""
        params, result = self.params, self.result
        self.recipients = [public_key(text, "recipients[%d]" % index)
                           for index, text in enumerate(params["recipients"])] or None
        # -1: chown leaves that id as it is.
        self.ids = tuple(-1 if given is None else given for given in owner_ids(params["owner"], params["group"]))
        self.connection = _member(params).open()
        status = self.status = self.connection.status()
        names = {member["id"]: member["name"] for member in self.connection.members()}
        result.update(member_id=status["member_id"], member_name=names.get(status["member_id"]),
                      cluster_id=status["cluster_id"], etcd_version=status["version"],
                      revision_before=status["revision"], size=status["db_size"])
        check_destination(params["dest_dir"], status["db_size"] + TRAILER + MANIFEST_RESERVE)
        path = self._free_name()
        result.update(path=path, manifest_path=path + MANIFEST_SUFFIX, changed=True)

    def would(self) -> str:
        return "would snapshot %s (%s, about %d bytes) to %s" % (
            planned(self.connection).endpoint, self.result["member_name"], planned(self.status)["db_size"],
            self.result["path"])

    def apply(self) -> None:
        """Stream into a temp file that takes the final name only once whole and proven; then the manifest. Runs
        under dest_dir's lock: another run writing there is waited for, the temp files of killed runs are removed,
        and the name is chosen (again) under the lock and never replaces a file."""
        params, result, connection, status = self.params, self.result, planned(self.connection), planned(self.status)
        uid, gid = planned(self.ids)
        facts: dict[str, Any] = {}
        ensure_dir(params["dest_dir"])
        with DirLock(params["dest_dir"], params["lock_timeout"]) as lock:
            result.update(lock_waited_seconds=lock.waited_seconds,
                          removed_partials=remove_stale_partials(params["dest_dir"], params["prefix"]))
            result["path"] = self._free_name()
            began = time.monotonic()
            try:
                written = stream_to_file(
                    connection.stream("maintenancestub", "Snapshot", connection.rpc.SnapshotRequest(),
                                      timeout=params["snapshot_timeout"]),
                    result["path"], uid=uid, gid=gid,
                    check=lambda temp, source: facts.update(check_written(connection, status, temp, source)),
                    another_name=self._free_name, recipients=self.recipients)
            except EtcdError as exc:
                raise EtcdError("the snapshot stream broke: %s; the partial file was removed and nothing was "
                                "written." % exc.msg.rstrip("."), exc.endpoint, exc.code, exc.details) from None
            self.file_key = written.pop("file_key")
            result.update(path=written["path"], manifest_path=written["path"] + MANIFEST_SUFFIX)
            self.written = True
            self._finish(written, facts, began)
        if params["verify"]:
            self.verify()

    def _free_name(self) -> str:
        return new_backup_path(self.params["dest_dir"], self.params["prefix"],
                               ENCRYPTED_EXTENSION if self.recipients else "db")

    def _finish(self, written: dict[str, Any], facts: dict[str, Any], began: float) -> None:
        """Close the connection, record what was written, write the manifest."""
        result, status = self.result, planned(self.status)
        uid, gid = planned(self.ids)
        self.close()
        result.update(size=written["size"], sha256=written["sha256"], db_sha256=written["db_sha256"],
                      **{name: facts[name] for name in FILE_FACTS})
        encrypted = dict(encryption=written["encryption"], plaintext_sha256=written["plaintext_sha256"],
                         plaintext_size=written["plaintext_size"]) if written["encryption"] else {}
        result.update(encryption=written["encryption"], plaintext_sha256=encrypted.get("plaintext_sha256"))
        result["manifest"] = manifest("snapshot", result["path"], written["size"], written["sha256"], "etcd_snapshot",
                                      dict(facts, cluster_id=result["cluster_id"], member_id=result["member_id"],
                                           member_name=result["member_name"], raft_index=status["raft_index"],
                                           db_size=written["plaintext_size"] - TRAILER,
                                           etcd_version=result["etcd_version"], **encrypted))
        write_manifest(result["path"], result["manifest"], uid, gid)
        duration = time.monotonic() - began
        result.update(duration_seconds=round(duration, 3),
                      throughput_mib_s=round(written["size"] / 1048576.0 / max(duration, 1e-6), 1))

    def verify(self) -> None:
        """Read the named file back from disk as etcd_snapshot_info does - sha256, trailer, database, live keys
        counted in the file, etcd's own tool - once the connection is closed (the tool is a child process).
        BackupFileError unless it is whole and says what was written; the file is kept for inspection."""
        result = self.result
        report = check_file(result["path"], count_keys=True, file_key=self.file_key)
        tool, argv = find_tool(self.host, self.params["etcdutl"], self.params["etcdctl"])
        if report["encryption"]:
            report["notes"].append("etcd's own tool cannot read an encrypted file: the file was decrypted chunk by "
                                   "chunk with the key that wrote it and its trailer and database checked instead")
        elif not tool or not argv:
            report["notes"].append("no etcdutl or etcdctl on this host (set etcdutl): etcd's own tool did not read "
                                   "the file")
        elif report["status"] in ("ok", "unverified"):
            read_status(self.host, report, tool, argv)
        result["verified"] = report
        differ = [name for name in READ_BACK if report[name] != result[name]]
        if report["status"] != "ok" or differ:
            raise BackupFileError(
                "the snapshot %s failed its check when read back from disk: %s (read back: sha256 %s, revision %s, %s "
                "live keys; written: sha256 %s, revision %s, %s live keys by the member's count). It was kept for "
                "inspection." % (result["path"], "; ".join(report["problems"]) or "it differs in " + ", ".join(differ),
                                 report["sha256"], report["revision"], report["key_count"], result["sha256"],
                                 result["revision"], result["key_count"]))

    def failed(self, exc: Exception) -> str:
        """The message for a failure of plan() or apply(); `changed` says whether a file took its final name."""
        self.result["changed"] = self.written
        if isinstance(exc, EtcdOpsError):
            return exc.msg
        return "writing the snapshot into %s failed: %s; no file took the final name." % (self.params["dest_dir"], exc)

    def done(self) -> str:
        result = self.result
        return "snapshot of %s (%s) at revision %s: %s, %s bytes, %s keys, %s MiB/s" % (
            planned(self.connection).endpoint, result["member_name"], result["revision"], result["path"],
            result["size"], result["key_count"], result["throughput_mib_s"])

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
