# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A member's previous data put back after a failed or interrupted restore, as the etcd_restore_rollback module does
it: plan() finds what is left to put back - from the restore journal, or from the dirs given - and refuses while
etcd runs (check mode stops there); apply() renames it back and records the rollback in the journal. For a data dir that
is a mount point that is its `member` dir, inside the mount (data_dir_swap.swap_path)."""
from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host import local_member
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import utc_stamp
from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import (
    failed_name, is_mount_point, put_back, staging_dir, swap_path)

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = ArgumentSpec(dict(
    data_dir=dict(type="path", required=True),
    previous_data_dir=dict(type="path"),
    wal_dir=dict(type="path"),
    previous_wal_dir=dict(type="path"),
    stamp=dict(type="str"),
    urls=dict(type="list", elements="str", default=[]),
))


class RollbackRefused(EtcdOpsError):
    """Nothing was changed: etcd still runs on this member."""


class Rollback:
    """One member's rollback; `result` is what the module returns."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.stamp = params["stamp"] or utc_stamp()
        self.result: dict[str, Any] = dict(changed=False, data_dir=params["data_dir"], failed_restore_dir=None,
                                           failed_restore_wal_dir=None, journal=None, kubernetes=False,
                                           unfinished=False, etcd_running=[], staging_dir_left=None)
        self.mounted = is_mount_point(params["data_dir"])
        # What a restore swapped for the data dir: the dir itself, or its member dir inside a mount point.
        self.data_swap = swap_path(params["data_dir"], self.mounted)
        self.result["data_dir_mount"] = self.mounted
        self.keys = {self.data_swap: "failed_restore_dir"}
        if params["wal_dir"]:
            self.keys[params["wal_dir"].rstrip("/")] = "failed_restore_wal_dir"
        self.pairs: list[tuple[str, str | None]] = []
        # The journal's entry; empty when there is none.
        self.entry: dict[str, Any] = {}
        self.staging = staging_dir(self.data_swap)

    def _given_pairs(self) -> list[tuple[str, str | None]]:
        """[(live dir, kept dir or None)] that need a rename back, from the dirs given: a pair whose kept dir is
        gone and whose live dir exists was rolled back already (or never restored)."""
        pairs = [(self.data_swap, self.params["previous_data_dir"])]
        if self.params["wal_dir"]:
            pairs.append((self.params["wal_dir"].rstrip("/"), self.params["previous_wal_dir"]))
        return [(live, kept) for live, kept in pairs
                if (kept and os.path.lexists(kept)) or (not kept and os.path.lexists(live))]

    def _journal_pairs(self, entry: dict[str, Any]) -> list[tuple[str, str | None]]:
        """The same from an unfinished restore's journal: a live dir that is a restored copy goes aside, and the
        pre-restore data, wherever that run left it, comes back."""
        pairs = []
        lives = [(self.data_swap, "data")]
        wal_dir = self.params["wal_dir"] or entry.get("wal_dir")
        if wal_dir:
            lives.append((wal_dir.rstrip("/"), "wal"))
            self.keys[wal_dir.rstrip("/")] = "failed_restore_wal_dir"
        for live, kind in lives:
            restored, kept = journal.pre_restore_location(live, entry.get("kept_%s_dir" % kind),
                                                          entry.get("had_%s_dir" % kind, True))
            if restored or kept:
                pairs.append((live, kept))
        return pairs

    def plan(self) -> None:
        """Find what is left to put back; refuse while etcd runs here (in check mode, only report it in
        etcd_running: a rollback stops etcd first). Raises RollbackRefused."""
        try:
            self.entry = journal.read(self.params["data_dir"]) or {}
        except journal.JournalError as exc:
            raise RollbackRefused("refusing to roll back %s: %s. Nothing was changed." % (
                self.params["data_dir"], exc.msg)) from None
        unfinished = journal.unfinished(self.entry)
        mount_problem = journal.mount_problem(self.entry, self.params["data_dir"], self.mounted) if unfinished else None
        if mount_problem:
            raise RollbackRefused("refusing to roll back %s: %s. Nothing was changed." % (
                self.params["data_dir"], mount_problem))
        self.result.update(journal=self.entry or None, unfinished=unfinished,
                           kubernetes=bool(unfinished and self.entry.get("kubernetes")))
        if unfinished:
            self.pairs = self._journal_pairs(self.entry)
        elif self.params["previous_data_dir"] or self.params["previous_wal_dir"]:
            # Without a journal and without the dirs given there is nothing to go by: nothing is moved.
            self.pairs = self._given_pairs()
            self._check_given()
        self.result["changed"] = bool(self.pairs) or unfinished or os.path.isdir(self.staging)
        if not self.result["changed"]:
            return
        self.result["etcd_running"] = local_member.etcd_activity(self.params["data_dir"], self.params["urls"])
        if self.result["etcd_running"] and not self.host.check_mode:
            raise RollbackRefused("refusing to roll back %s: etcd still runs on this host: %s; stop it first. Nothing "
                                  "was changed." % (self.params["data_dir"], "; ".join(self.result["etcd_running"])))

    def _check_given(self) -> None:
        """A kept dir given by hand must be on the filesystem of the dir it goes back to: a rename cannot cross."""
        for live, kept in self.pairs:
            if kept and os.stat(kept).st_dev != os.stat(os.path.dirname(live)).st_dev:
                raise RollbackRefused(
                    "refusing to roll back %s: %s is not on the filesystem of %s%s, so it cannot be renamed back; "
                    "give the kept dir on that filesystem. Nothing was changed." % (
                        self.params["data_dir"], kept, os.path.dirname(live),
                        " (%s is a mount point: its member dir is what a restore keeps aside, inside the mount)"
                        % self.params["data_dir"] if self.mounted else ""))

    def nothing_to_do(self) -> str:
        if self.entry:
            return "nothing to roll back in %s: its last restore (run %s) ended %s" % (
                self.params["data_dir"], self.entry["run_id"], self.entry["step"].replace("_", " "))
        if self.params["previous_data_dir"] or self.params["previous_wal_dir"]:
            return "nothing to put back in %s: no kept dir is left (rolled back already)" % self.params["data_dir"]
        return "nothing to roll back in %s: it has no restore journal, and no previous dir was given" % (
            self.params["data_dir"])

    def would(self) -> str:
        if not self.result["changed"]:
            return self.nothing_to_do()
        for live, dummy in self.pairs:
            self.result[self.keys[live]] = (
                failed_name(live, self.stamp) if os.path.lexists(live) else None)
        return "would %s" % self._what()

    def _what(self) -> str:
        what = ["put back %s from %s" % (live, kept or "nothing (there was no such dir before)")
                for live, kept in self.pairs]
        if os.path.isdir(self.staging):
            what.append("remove the staging dir %s" % self.staging)
        if self.result["unfinished"]:
            what.append("record the rollback of run %s (it had reached %s) in %s" % (
                self.entry["run_id"], self.entry["step"], journal.journal_path(self.params["data_dir"])))
        return "; ".join(what) or "change nothing"

    def apply(self) -> None:
        """Rename each restored dir aside and its kept dir back, remove the staging dir, record the rollback.
        Raises OSError or JournalError."""
        if not self.result["changed"]:
            return
        for live, kept in self.pairs:
            self.result[self.keys[live]] = put_back(live, kept, self.stamp)
        if os.path.isdir(self.staging) and not os.path.islink(self.staging):
            # It holds no data of value (a restore in progress): one that cannot go must not stop the rollback.
            shutil.rmtree(self.staging, ignore_errors=True)
            self.result["staging_dir_left"] = self.staging if os.path.lexists(self.staging) else None
        if self.result["unfinished"]:
            self.result["journal"] = journal.record(self.params["data_dir"], self.entry["run_id"], "rolled_back")

    def failed(self, exc: Exception) -> str:
        if isinstance(exc, RollbackRefused):
            return exc.msg
        return "putting back %s failed: %s" % (self.params["data_dir"], getattr(exc, "msg", exc))

    def done(self) -> str:
        if not self.result["changed"]:
            return self.nothing_to_do()
        moved = [str(self.result[self.keys[live]]) for live, dummy in self.pairs]
        return "%s%s%s" % (self._what_done(), "; the restored data is kept as %s" % ", ".join(moved) if moved else "",
                           "; the staging dir %s could not be removed: remove it by hand" % self.staging
                           if self.result["staging_dir_left"] else "")

    def _what_done(self) -> str:
        if not self.pairs:
            return "no dir needed putting back in %s (the restore had not swapped it)" % self.params["data_dir"]
        return "put back the previous data in %s" % ", ".join(live for live, dummy in self.pairs)
