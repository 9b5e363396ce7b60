# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every backup store kind shares: its error and the files it lists."""
from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError


class StoreError(EtcdOpsError):
    """A store that cannot be reached, read or written; msg names the store, the problem and the fix."""


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    mtime: float
