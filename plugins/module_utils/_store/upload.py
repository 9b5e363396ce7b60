# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backup put on a store, then the store's retention, as the etcd_store_upload module does it."""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._runner import planned
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import MANIFEST_SUFFIX
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.retention import RetentionError, parse_max_age
from ansible_collections.etcdops.dr.plugins.module_utils._store import ops
from ansible_collections.etcdops.dr.plugins.module_utils._store.runner import Transfer, store_spec

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = store_spec(
    path=dict(type="path", required=True),
    sha256=dict(type="str"),
    prefix=dict(type="str", default="etcd-snapshot"),
    keep_last=dict(type="int", default=0),
    max_age=dict(type="str", default=""),
)


class NothingSent(EtcdOpsError):
    """The local backup cannot be sent as given; msg says why."""


class StoreUpload(Transfer):
    """A local backup and its manifest put on a store and verified there, then the store's retention applied."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        super().__init__(params, host, dict(changed=False))
        self.max_age: float | None = None
        self.sha256 = ""

    def _check(self) -> None:
        """The retention options, the backup and its manifest, then the store. Raises RetentionError, NothingSent,
        StoreError."""
        params, path = self.params, self.params["path"]
        self.max_age = parse_max_age(params["max_age"])
        if params["keep_last"] < 0:
            raise RetentionError("keep_last is %d: give 0 (no count limit) or the number of backups to keep"
                                 % params["keep_last"])
        if not os.path.isfile(path) or not os.path.isfile(path + MANIFEST_SUFFIX):
            raise NothingSent("%s: give a backup file with its manifest %s beside it (as etcd_snapshot writes them); "
                              "nothing was sent" % (path, os.path.basename(path) + MANIFEST_SUFFIX))
        try:
            with open(path + MANIFEST_SUFFIX) as handle:
                manifest = json.load(handle)
        except ValueError as exc:
            raise NothingSent("%s's manifest is not JSON (%s): nothing was sent" % (path, exc)) from None
        self.sha256 = (params["sha256"] or manifest.get("sha256") or "").lower()
        if not self.sha256:
            raise NothingSent("%s: its manifest records no sha256 and none was given (sha256): nothing was sent" % path)
        self._connect()

    def _transfer(self) -> None:
        params, check_mode, store = self.params, self.host.check_mode, planned(self.store)
        result = ops.upload(store, params["path"], self.sha256, check_mode)
        result["retention"] = ops.apply_retention(store, params["prefix"], params["keep_last"], self.max_age,
                                                  [os.path.basename(params["path"])], check_mode)
        result["changed"] = result["changed"] or bool(result["retention"]["removed"])
        self.result.update(result)

    def would(self) -> str:
        return self._message("would send", "would remove")

    def done(self) -> str:
        return self._message("sent", "removed")

    def _message(self, send: str, remove: str) -> str:
        result, name = self.result, os.path.basename(self.params["path"])
        removed = result["retention"]["removed"]
        if result["changed"] and not result["verified_by"].startswith("already"):
            what = "%s %s to %s (%s)" % (send, name, result["store"], result["verified_by"])
        else:
            what = "%s is on %s already (%s)" % (name, result["store"], result["verified_by"])
        return "%s%s" % (what, "; retention %s %s" % (remove, ", ".join(removed)) if removed else "")
