# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot files on a host inspected, as the etcd_snapshot_info module does it: each file checked (trailer,
manifest, database, optionally keys counted) and read by etcd's own tool when one is there."""
from __future__ import annotations

import fnmatch
import os
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import private_key
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import MANIFEST_SUFFIX, companions
from ansible_collections.etcdops.dr.plugins.module_utils._runner import ReadOnly
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.check import check_file, find_tool, read_status

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = ArgumentSpec(dict(
    path=dict(type="path", required=True),
    pattern=dict(type="list", elements="str", default=["*.db", "*.db.enc"]),
    read_status=dict(type="bool", default=True),
    count_keys=dict(type="bool", default=False),
    etcdutl=dict(type="path"),
    etcdctl=dict(type="path"),
    decryption_key=dict(type="str", no_log=True),
))


class NoSuchPath(EtcdOpsError):
    """The path to inspect does not exist."""


def snapshot_files(path: str, patterns: list[str]) -> list[str]:
    """`path` itself, or the files in the directory `path` whose names match one of `patterns`, sorted."""
    if os.path.isdir(path):
        return sorted(os.path.join(path, name) for name in os.listdir(path)
                      if any(fnmatch.fnmatch(name, pattern) for pattern in patterns)
                      and os.path.isfile(os.path.join(path, name)))
    return [path]


class SnapshotInfo(ReadOnly):
    """A report per file, the bad ones, and a message naming each problem: read in plan(), as in both modes."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.result: dict[str, Any] = dict(changed=False, snapshots=[], ok=False, bad=[])

    def plan(self) -> None:
        """Raises NoSuchPath, and CommandError when a tool named in the options cannot be used."""
        params = self.params
        if not os.path.exists(params["path"]):
            raise NoSuchPath("%s does not exist: give a snapshot file or a directory of them." % params["path"])
        key = private_key(params["decryption_key"], "decryption_key") if params["decryption_key"] else None
        tool, argv = (find_tool(self.host, params["etcdutl"], params["etcdctl"]) if params["read_status"]
                      else (None, None))
        reports = []
        for path in snapshot_files(params["path"], params["pattern"]):
            report = check_file(path, params["count_keys"], key=key)
            # The rest of its backup set beside it: the control-plane bundles (names only; docs/bundle.md).
            report["bundles"] = [name for name in companions(os.listdir(os.path.dirname(path) or "."),
                                                             os.path.basename(path))
                                 if not name.endswith(MANIFEST_SUFFIX)]
            # etcd's tool reads plaintext only; an encrypted file's trailer and database were checked decrypted.
            if tool and argv and report["status"] in ("ok", "unverified") and not report["encryption"]:
                read_status(self.host, report, tool, argv)
            reports.append(report)
        bad = [r["path"] for r in reports if r["status"] != "ok"]
        if not reports:
            self.message = "no file matching %s in %s" % (" or ".join(params["pattern"]), params["path"])
        elif bad:
            self.message = "; ".join(
                "%s is %s: %s" % (r["path"], r["status"].replace("_", " "), "; ".join(r["problems"]))
                for r in reports if r["status"] != "ok")
        else:
            self.message = "%d file(s), all whole" % len(reports)
        self.result.update(snapshots=reports, ok=bool(reports) and not bad, bad=bad)

    def failed(self, exc: Exception) -> str:
        # A failure reports no file, and no `changed`.
        self.result.clear()
        self.result.update(snapshots=[], ok=False, bad=[])
        return getattr(exc, "msg", None) or str(exc)
