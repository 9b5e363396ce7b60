# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stopped member's database copied into a backup file with a manifest, as the etcd_cold_copy module does it:
plan() makes every check and names the file (check mode stops there); apply() copies, proves and names it."""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import BACKUP_DIR_LOCK, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDbError, read_facts
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import DirLock, remove_stale_partials
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import (
    CLUSTER_FACTS, MANIFEST_RESERVE, MANIFEST_SUFFIX, BackupFileError, check_destination, copy_hashed, ensure_dir,
    manifest, new_backup_path, write_manifest)

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = BACKUP_DIR_LOCK.merge(ArgumentSpec(dict(
    data_dir=dict(type="path", required=True),
    dest_dir=dict(type="path", required=True),
    prefix=dict(type="str", default="etcd-cold"),
    cluster_facts=dict(type="dict", default={}),
)))


def _db_facts(path: str) -> dict[str, Any]:
    try:
        return read_facts(path, count_keys=True)
    except EtcdDbError as exc:
        raise BackupFileError("the copied database is not a readable etcd database: %s; the copy was discarded."
                              % exc.msg) from None


class ColdCopy:
    """One cold copy; `result` is what the module returns, filled in as the copy goes."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.source = os.path.join(params["data_dir"], "member", "snap", "db")
        self.result: dict[str, Any] = dict(
            changed=False, path=None, manifest_path=None, manifest=None, size=None, sha256=None, revision=None,
            key_count=None, duration_seconds=0.0, free_bytes=None, required_bytes=None, db_in_use_by=[],
            lock_waited_seconds=0.0, removed_partials=[])

    def plan(self) -> None:
        """Check the options, the source and the destination; name the file. Raises BackupFileError."""
        unknown = sorted(set(self.params["cluster_facts"]) - set(CLUSTER_FACTS))
        if unknown:
            raise BackupFileError("cluster_facts has unknown keys %s: use only %s."
                                  % (unknown, ", ".join(CLUSTER_FACTS)))
        if not os.path.isfile(self.source):
            raise BackupFileError("no etcd database at %s: data_dir must be the member's data dir (the one holding "
                                  "member/snap/db)." % self.source)
        size = os.path.getsize(self.source)
        self.result.update(size=size, required_bytes=size + MANIFEST_RESERVE)
        self.result["free_bytes"] = check_destination(self.params["dest_dir"], self.result["required_bytes"])
        self.result["db_in_use_by"] = [local_member.describe_process(pid)
                                       for pid in local_member.holders_of(self.source)]
        path = self._free_name()
        self.result.update(path=path, manifest_path=path + MANIFEST_SUFFIX, changed=True)

    def would(self) -> str:
        return "would copy %s (%s bytes) to %s" % (self.source, self.result["size"], self.result["path"])

    def apply(self) -> None:
        """Copy, prove the copy is a readable etcd database, write the manifest. Raises BackupFileError, OSError;
        nothing is left under the final name after a failure."""
        if self.result["db_in_use_by"]:
            raise BackupFileError("%s is open in %s: etcd still runs on this member; stop it first "
                                  "(etcdops.dr.etcd_service state=stopped), or take an online snapshot instead."
                                  % (self.source, ", ".join(self.result["db_in_use_by"])))
        ensure_dir(self.params["dest_dir"])
        # Under dest_dir's lock: another run writing there is waited for, the temp files of killed runs are
        # removed, and the name is chosen (again) under the lock and never replaces a file.
        with DirLock(self.params["dest_dir"], self.params["lock_timeout"]) as lock:
            self.result.update(lock_waited_seconds=lock.waited_seconds,
                               removed_partials=remove_stale_partials(self.params["dest_dir"], self.params["prefix"]))
            began = time.monotonic()
            facts: dict[str, Any] = {}
            self.result["size"], self.result["sha256"], path = copy_hashed(
                self.source, self._free_name(), check=lambda temp: facts.update(_db_facts(temp)),
                another_name=self._free_name)
            self.result.update(path=path, manifest_path=path + MANIFEST_SUFFIX, revision=facts["revision"],
                               key_count=facts["key_count"])
            self.result["manifest"] = manifest("cold_copy", path, self.result["size"], self.result["sha256"],
                                               "etcd_cold_copy", dict(self.params["cluster_facts"], **facts))
            write_manifest(path, self.result["manifest"])
        self.result["duration_seconds"] = round(time.monotonic() - began, 3)

    def _free_name(self) -> str:
        return new_backup_path(self.params["dest_dir"], self.params["prefix"], "db")

    def failed(self, exc: BaseException) -> str:
        """The message for a failure of plan() or apply(); nothing was changed."""
        self.result["changed"] = False
        if isinstance(exc, EtcdOpsError):
            return exc.msg
        return "copying %s to %s failed: %s; nothing was left under the final name." % (
            self.source, self.params["dest_dir"], exc)

    def done(self) -> str:
        return "copied %s (%s bytes, sha256 %s) to %s" % (self.source, self.result["size"], self.result["sha256"],
                                                          self.result["path"])
