# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where the collection runs commands on a host (unit tests fake it)."""
from __future__ import annotations

import collections

Completed = collections.namedtuple("Completed", "cmd rc stdout stderr")


class CommandError(Exception):
    """A command that failed; the message carries the command, its rc and what it printed."""

    def __init__(self, completed, why=None):
        out = (completed.stderr or completed.stdout or "").strip()
        tail = "\n".join(out.splitlines()[-10:])
        super().__init__("%s%s failed with rc %s%s" % (
            why + ": " if why else "", " ".join(completed.cmd), completed.rc, (": " + tail) if tail else ""))
        self.msg = str(self)
        self.completed = completed


def run(module, cmd, check=True, why=None):
    """Run `cmd` (a list, never a shell string) with LANG=C; raise CommandError on failure if `check`."""
    cmd = [str(part) for part in cmd]
    rc, stdout, stderr = module.run_command(cmd, check_rc=False, environ_update={"LANG": "C", "LC_ALL": "C"})
    completed = Completed(cmd, rc, stdout, stderr)
    if check and rc != 0:
        raise CommandError(completed, why)
    return completed
