# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What restores leave behind, removed once a restore is verified, as the etcd_restore_leftovers module does it:
plan() lists the kept data dirs beyond the newest keep_previous and the files given (check mode stops there);
apply() removes them. The live data dir is never among them. Given the verified run's id, the member's journal records
that step first (plan() checks that it can, apply() records it): until it does, nothing is removed. For a data dir that
is a mount point the kept dirs are inside the mount, beside its member dir (data_dir_swap.swap_path)."""
from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import fsync_dir
from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import (
    disk_usage, is_mount_point, leftover_dirs, swap_path)

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

ARGUMENT_SPEC = ArgumentSpec(dict(
    data_dir=dict(type="path", required=True),
    wal_dir=dict(type="path"),
    keep_previous=dict(type="int", default=1),
    remove_files=dict(type="list", elements="path", default=[]),
    run_id=dict(type="str"),
))


class LeftoversError(EtcdOpsError):
    """A leftover cannot be removed, or the options would remove what must stay."""


class Leftovers:
    """`result` is what the module returns."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.remove: list[str] = []
        self.result: dict[str, Any] = dict(changed=False, removed=[], kept=[], freed_bytes=0, journal=None,
                                           journal_recorded=None)

    def _record_verified(self, check_mode: bool) -> None:
        """With run_id: record that run's verified step in the journal (check mode: say it would). Raises
        LeftoversError, with journal_recorded false, when it cannot: the rollback would then still take the run for
        an interrupted one and needs what it kept."""
        if not self.params["run_id"]:
            return
        try:
            outcome = journal.advance(self.params["data_dir"], self.params["run_id"], "verified", {}, check_mode)
        except journal.JournalError as exc:
            self.result["journal_recorded"] = False
            raise LeftoversError("%s; nothing was removed" % exc.msg) from None
        self.result.update(journal=outcome["journal"], journal_recorded=True)
        self.result["changed"] = self.result["changed"] or outcome["changed"]

    def plan(self) -> None:
        """Decide what goes: per live dir, every pre-restore dir beyond the newest keep_previous and every
        failed-restore dir; the files given that exist; and whether the journal can record the verified run. Raises
        LeftoversError."""
        params = self.params
        self._record_verified(check_mode=True)
        if params["keep_previous"] < 0:
            raise LeftoversError("keep_previous is %d: give 0 or more" % params["keep_previous"])
        lives = [swap_path(params["data_dir"], is_mount_point(params["data_dir"]))] + (
            [params["wal_dir"]] if params["wal_dir"] else [])
        for live in lives:
            kept = 0
            for kind, path in leftover_dirs(live):
                if kind == "pre-restore" and kept < params["keep_previous"]:
                    kept += 1
                    self.result["kept"].append(path)
                else:
                    self.remove.append(path)
        for path in params["remove_files"]:
            if not os.path.lexists(path):
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                raise LeftoversError("%s is a directory, not a snapshot copy: refusing to remove it" % path)
            if os.path.abspath(path).rstrip("/") in {os.path.abspath(live).rstrip("/") for live in lives + [
                    params["data_dir"]]}:
                raise LeftoversError("%s is the live data dir: refusing to remove it" % path)
            self.remove.append(path)
        self.result.update(removed=list(self.remove), changed=self.result["changed"] or bool(self.remove),
                           freed_bytes=sum(disk_usage(path) if os.path.isdir(path) else os.lstat(path).st_blocks * 512
                                           for path in self.remove))

    def would(self) -> str:
        return self._summary("would remove")

    def done(self) -> str:
        return self._summary("removed")

    def _summary(self, verb: str) -> str:
        if not self.remove:
            return "nothing left over to remove; kept %s" % (", ".join(self.result["kept"]) or "nothing")
        return "%s %s (%d MiB); kept %s" % (verb, ", ".join(self.remove),
                                            self.result["freed_bytes"] // (1024 * 1024),
                                            ", ".join(self.result["kept"]) or "nothing")

    def apply(self) -> None:
        """Record the verified run in the journal, then remove what plan() chose. Raises LeftoversError saying how
        far it got."""
        self._record_verified(check_mode=False)
        done = []
        try:
            for path in self.remove:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                elif os.path.lexists(path):
                    # Gone already is as good as removed (another member's run on a shared dir).
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass
                done.append(path)
        except OSError as exc:
            self.result.update(removed=done, changed=bool(done))
            raise LeftoversError("removing %s failed after %d of %d: %s" % (
                path, len(done), len(self.remove), exc)) from None
        finally:
            for parent in {os.path.dirname(os.path.abspath(path)) for path in done}:
                fsync_dir(parent)
