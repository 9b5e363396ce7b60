# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd versions as its tools print them and as the collection compares them: (3, 5, 16) tuples."""
from __future__ import annotations

import re

VERSION_LINE = re.compile(r"^(etcdutl|etcdctl) version:\s*v?(\d+)\.(\d+)\.(\d+)", re.MULTILINE)


def version_text(version: tuple[int, ...] | None) -> str:
    return ".".join(str(part) for part in version) if version else "unknown"


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """(3, 5, 16) from "3.5.16", "v3.5.16" or "3.5.16-rc.0"; None when `text` is not such a version."""
    found = re.match(r"^\s*v?(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(part) for part in found.groups()) if found else None


def parse_version(stdout: str | None) -> tuple[int, ...] | None:
    """(3, 5, 16) from `etcdutl version` / `etcdctl version` output, or None."""
    found = VERSION_LINE.search(stdout or "")
    return tuple(int(part) for part in found.group(2, 3, 4)) if found else None
