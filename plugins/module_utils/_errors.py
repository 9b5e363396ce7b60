# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of the collection's own failures: each carries a message meant for the operator."""
from __future__ import annotations


class EtcdOpsError(Exception):
    """A failure whose `msg` names the problem and the fix; a module reports it once, in fail_json."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg
