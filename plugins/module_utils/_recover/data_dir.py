# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a member's data dir holds, read from its database file without etcd's help (the etcd_data_dir_info module):
how far it got (consistent index, term, revision), its members, whether etcd has it open, and the newest backup in
the backup dir beside it. A cluster that lost quorum is recovered from the data dir that got furthest."""
from __future__ import annotations

import glob
import json
import os
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDbError, read_facts
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._runner import ReadOnly

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = ArgumentSpec(dict(
    data_dir=dict(type="path", required=True),
    backup_dir=dict(type="path"),
    count_keys=dict(type="bool", default=False),
))
FACTS = ("consistent_index", "term", "revision", "last_key_revision", "compact_revision", "members", "key_count",
         "lease_count")


def newest_backup(backup_dir: str) -> dict[str, Any] | None:
    """The backup in `backup_dir` whose manifest records the highest revision (then the newest), or None."""
    best = None
    for path in glob.glob(os.path.join(backup_dir, "*.json")):
        try:
            with open(path, "rb") as handle:
                doc = json.loads(handle.read().decode("utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("revision"), int) or not doc.get("file"):
            continue
        entry = dict(path=os.path.join(backup_dir, doc["file"]), revision=doc["revision"], created=doc.get("created"),
                     kind=doc.get("kind"))
        if best is None or (entry["revision"], entry["created"] or "") > (best["revision"], best["created"] or ""):
            best = entry
    return best


class DataDirInfo(ReadOnly):
    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.result: dict[str, Any] = dict(changed=False, data_dir=params["data_dir"], db=None, db_size=None,
                                           readable=False, error=None, etcd_running=False, newest_backup=None,
                                           **{name: None for name in FACTS})

    def plan(self) -> None:
        db = os.path.join(self.params["data_dir"], "member", "snap", "db")
        self.result["db"] = db
        if self.params["backup_dir"] and os.path.isdir(self.params["backup_dir"]):
            self.result["newest_backup"] = newest_backup(self.params["backup_dir"])
        if not os.path.isfile(db):
            self.result["error"] = "no database at %s" % db
            self.message = "%s: %s" % (self.params["data_dir"], self.result["error"])
            return
        self.result["db_size"] = os.path.getsize(db)
        self.result["etcd_running"] = bool(local_member.holders_of(db))
        try:
            facts = read_facts(db, count_keys=self.params["count_keys"])
        except (EtcdDbError, OSError) as exc:
            self.result["error"] = getattr(exc, "msg", None) or str(exc)
            self.message = "%s cannot be read: %s" % (db, self.result["error"])
            return
        self.result.update({name: facts.get(name) for name in FACTS}, readable=True)
        self.message = "%s: consistent index %s, revision %s%s" % (
            db, facts.get("consistent_index"), facts.get("revision"),
            " (etcd has it open)" if self.result["etcd_running"] else "")
