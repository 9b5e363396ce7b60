# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects per resource type, counted from kube-apiserver's key layout under /registry/.

kube-apiserver stores an object at /registry/<resource>/<namespace>/<name> (cluster-scoped: without the namespace);
a resource of an API group other than the core and the legacy built-in ones goes under its group first
(/registry/<group>/<resource>/...), and the group always has a dot (apps.openshift.io, cert-manager.io). Services
keep their specs and endpoints apart (/registry/services/specs/..., /registry/services/endpoints/...)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

PREFIX = b"/registry/"
# Keys asked for per request: a large cluster's keys come in pages, never all in one answer.
PAGE = 10000


def resource_type(key: bytes) -> str | None:
    """'secrets', 'services/endpoints', 'cert-manager.io/certificates' for a key under /registry/; None otherwise."""
    if not key.startswith(PREFIX):
        return None
    parts = key[len(PREFIX):].decode("utf-8", "replace").split("/")
    if len(parts) < 2 or not parts[0]:
        return None
    if parts[0] == "services" or "." in parts[0]:
        return "%s/%s" % (parts[0], parts[1]) if len(parts) > 2 else None
    return parts[0]


def count_resources(keys: Iterable[bytes]) -> dict[str, int]:
    """{resource type: number of objects}, sorted by type."""
    counts = Counter(kind for kind in map(resource_type, keys) if kind)
    return dict(sorted(counts.items()))


def registry_keys(conn: Any, revision: int) -> Iterator[bytes]:
    """Every key under /registry/ at `revision`, from one member's own store (keys only, a page at a time)."""
    start, end = PREFIX, PREFIX[:-1] + b"0"   # "0" follows "/": the end of the prefix range
    while True:
        request = conn.rpc.RangeRequest(key=start, range_end=end, keys_only=True, serializable=True,
                                        revision=revision, limit=PAGE, sort_order=0)
        response = conn.call("kvstub", "Range", request)
        for kv in response.kvs:
            yield kv.key
        if not response.more or not response.kvs:
            return
        start = response.kvs[-1].key + b"\0"


def compare(drilled: dict[str, int], live: dict[str, int] | None) -> list[dict[str, Any]]:
    """One row per resource type in either: the drilled count, the live one (None when the live cluster was not
    read) and the difference live - drilled."""
    rows = []
    for kind in sorted(set(drilled) | set(live or {})):
        got = drilled.get(kind, 0)
        now = None if live is None else live.get(kind, 0)
        rows.append(dict(resource=kind, snapshot=got, live=now, difference=None if now is None else now - got))
    return rows
