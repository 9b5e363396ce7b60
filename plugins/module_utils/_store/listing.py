# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backups on a store, as the etcd_store_list module lists them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._runner import ReadOnly
from ansible_collections.etcdops.dr.plugins.module_utils._store import ops
from ansible_collections.etcdops.dr.plugins.module_utils._store.runner import OnStore, store_spec

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = store_spec(
    prefix=dict(type="str", default="etcd-snapshot"),
    verify=dict(type="str"),
    manifests=dict(type="bool", default=True),
)


class StoreList(ReadOnly, OnStore):
    """The backups on a store, newest first, and optionally one read back and verified."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        super().__init__(params, host, dict(changed=False, backups=[], verified=None))

    def plan(self) -> None:
        params = self.params
        store = self._connect()
        store.check_dir()
        found = ops.listing(store, params["prefix"], params["manifests"])
        verified = None
        if params["verify"]:
            entry = ops.choose(store, found, params["verify"])
            verified = dict(entry, sha256=ops.verify(store, entry))
        whole = [entry for entry in found if entry["manifest"] or entry["manifest_present"] and not params["manifests"]]
        self.message = "%d backups on %s (%d with a manifest)%s%s" % (
            len(found), store.url, len(whole),
            "; newest %s" % whole[0]["name"] if whole else "",
            "; %s read back, sha256 %s as its manifest says" % (verified["name"], verified["sha256"]) if verified else "")
        self.result.update(backups=found, verified=verified)
