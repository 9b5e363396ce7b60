# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller as a host for the collection's runners, in an action plugin's own process: the command seam
(run_command, as AnsibleModule's: a list, never a shell), tool lookup on PATH, and check mode."""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any


class ControllerHost:
    def __init__(self, check_mode: bool) -> None:
        self.check_mode = check_mode

    def checking(self) -> ControllerHost:
        return ControllerHost(True)

    def run_command(self, cmd: list[str], check_rc: bool = False, environ_update: dict[str, str] | None = None,
                    **kwargs: Any) -> tuple[int, str, str]:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env=dict(os.environ, **(environ_update or {})))
        return done.returncode, done.stdout, done.stderr

    def get_bin_path(self, name: str, required: bool = False) -> str | None:
        return shutil.which(name)
