# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd_restore_phase, and for a preflight given `src` (a snapshot on the controller) the file sent to the host first:
the module puts it in place itself, in the same run - no copy module runs before it (its stat and its own run)."""
from __future__ import annotations

import os
from typing import Any

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        src = args.get("src")
        if not src or args.get("phase") != "preflight":
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            return result
        if not os.path.isfile(src):
            result.update(failed=True, msg="src %s is not a file on the controller: give the snapshot to send to "
                                           "the hosts. Nothing was sent and nothing was stopped." % src)
            return result
        try:
            tmpdir = self._make_tmp_path()
            remote = self._connection._shell.join_path(tmpdir, "snapshot")
            self._transfer_file(src, remote)
            self._fixup_perms2((tmpdir, remote))
            args["src"] = remote
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
