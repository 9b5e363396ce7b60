# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A member's previous data put back after a failed restore, as the etcd_restore_rollback module does it: plan()
finds what is left to put back and refuses while etcd runs (check mode stops there); apply() renames it back."""
from __future__ import annotations

import os
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import utc_stamp
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import failed_name, put_back

ARGUMENT_SPEC = dict(
    data_dir=dict(type="path", required=True),
    previous_data_dir=dict(type="path"),
    wal_dir=dict(type="path"),
    previous_wal_dir=dict(type="path"),
    stamp=dict(type="str"),
    urls=dict(type="list", elements="str", default=[]),
)


class RollbackRefused(EtcdOpsError):
    """Nothing was changed: etcd still runs on this member."""


class Rollback:
    """One member's rollback; `result` is what the module returns."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.stamp = params["stamp"] or utc_stamp()
        self.result: dict[str, Any] = dict(changed=False, data_dir=params["data_dir"], failed_restore_dir=None,
                                           failed_restore_wal_dir=None)
        self.keys = {params["data_dir"].rstrip("/"): "failed_restore_dir"}
        if params["wal_dir"]:
            self.keys[params["wal_dir"].rstrip("/")] = "failed_restore_wal_dir"
        self.pairs: list[tuple[str, str | None]] = []

    def _all_pairs(self) -> list[tuple[str, str | None]]:
        """[(live dir, kept dir or None)] that may need a rename back."""
        pairs = [(self.params["data_dir"].rstrip("/"), self.params["previous_data_dir"])]
        if self.params["wal_dir"]:
            pairs.append((self.params["wal_dir"].rstrip("/"), self.params["previous_wal_dir"]))
        return pairs

    def plan(self) -> None:
        """Find what is left to put back; refuse while etcd runs here. Raises RollbackRefused."""
        # A pair whose kept dir is gone and whose live dir exists was rolled back already (or never restored).
        self.pairs = [(live, kept) for live, kept in self._all_pairs()
                      if (kept and os.path.lexists(kept)) or (not kept and os.path.lexists(live))]
        problems = ["etcd still runs on this host: %s; stop it first" % found
                    for found in local_member.etcd_activity(self.params["data_dir"], self.params["urls"])]
        if problems:
            raise RollbackRefused("refusing to roll back %s: %s. Nothing was changed." % (
                self.params["data_dir"], "; ".join(problems)))
        self.result["changed"] = bool(self.pairs)

    def nothing_to_do(self) -> str:
        return "nothing to put back in %s: no kept dir is left (rolled back already)" % self.params["data_dir"]

    def would(self) -> str:
        for live, dummy in self.pairs:
            self.result[self.keys[live]] = failed_name(live, self.stamp) if os.path.lexists(live) else None
        return "would put back %s" % ", ".join(live for live, dummy in self.pairs)

    def apply(self) -> None:
        """Rename each restored dir aside and its kept dir back. Raises OSError."""
        for live, kept in self.pairs:
            self.result[self.keys[live]] = put_back(live, kept, self.stamp)

    def failed(self, exc: OSError) -> str:
        return "putting back %s failed: %s" % (self.params["data_dir"], exc)

    def done(self) -> str:
        return "put back the previous data in %s; the restored data is kept as %s" % (
            ", ".join(live for live, dummy in self.pairs),
            ", ".join(str(self.result[self.keys[live]]) for live, dummy in self.pairs))
