# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backup brought back from a store, as the etcd_store_download module does it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._runner import planned
from ansible_collections.etcdops.dr.plugins.module_utils._store import ops
from ansible_collections.etcdops.dr.plugins.module_utils._store.runner import Transfer, store_spec

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = store_spec(
    name=dict(type="str", required=True),
    dest_dir=dict(type="path", required=True),
    prefix=dict(type="str", default="etcd-snapshot"),
    bundles=dict(type="bool", default=False),
)


class StoreDownload(Transfer):
    """One backup and its manifest brought from a store to a local dir, verified against the manifest."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        super().__init__(params, host, dict(changed=False, bundles=[]))
        self.entry: dict[str, Any] | None = None

    def _check(self) -> None:
        store = self._connect()
        store.check_dir()
        self.entry = ops.choose(store, ops.listing(store, self.params["prefix"], manifests=False), self.params["name"])

    def _transfer(self) -> None:
        self.result.update(ops.download(planned(self.store), planned(self.entry), self.params["dest_dir"],
                                        self.host.check_mode))
        if self.params["bundles"]:
            brought = ops.download_bundles(planned(self.store), planned(self.entry), self.params["dest_dir"],
                                           self.host.check_mode)
            self.result.update(bundles=brought["bundles"], changed=self.result["changed"] or brought["changed"])

    def would(self) -> str:
        return self._message("would bring")

    def done(self) -> str:
        return self._message("brought")

    def _message(self, verb: str) -> str:
        result = self.result
        return "%s %s from %s to %s (sha256 %s, as its manifest says)%s" % (
            verb if result["changed"] else "found", result["name"], result["store"], result["dest"], result["sha256"],
            ", with its %d control-plane bundle(s)" % len(result["bundles"]) if result["bundles"] else "")

    def _host_failure(self, exc: Exception) -> str:
        return "writing to %s failed (%s): choose a dir with room for the backup; nothing was kept" % (
            self.params["dest_dir"], exc)
