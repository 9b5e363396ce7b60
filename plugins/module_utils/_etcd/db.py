# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what an etcd database file says about itself: a snapshot, a cold copy or a member's member/snap/db.

etcd keeps its state in a bbolt file. This reads it directly (read-only, with pread, so memory does not grow with
the file) instead of asking `etcdutl snapshot status`, whose "revision" is only the newest revision left in the
key bucket: 0 for a new cluster, and lower than the member's revision when the newest revisions were compacted
tombstones. Layouts, from bbolt's internal/common (page.go, meta.go, bucket.go) and etcd's mvcc (revision.go,
kvstore.go, util.go):

- page: id u64, flags u16, count u16, overflow u32, then `count` element headers; a page spans
  (overflow + 1) * page size bytes. Branch element: pos u32, ksize u32, child pgid u64. Leaf element: flags u32,
  pos u32, ksize u32, vsize u32. `pos` counts from the element header itself. Native byte order.
- meta (pages 0 and 1, after the page header): magic u32 0xED0CDAED, version u32 2, page size u32, flags u32,
  root bucket (root pgid u64, sequence u64), freelist u64, pgid (high water mark) u64, txid u64, checksum u64 =
  FNV-1a 64 of the bytes before it. The valid meta with the higher txid is current.
- a bucket's value: root pgid u64, sequence u64; root 0 means an inline bucket whose page follows in the value.
- etcd's "key" bucket: keys are revisions, main u64 big-endian, "_", sub u64 big-endian, plus "t" for a
  tombstone; values are mvccpb.KeyValue (field 1: the user key). "meta" bucket: finishedCompactRev and
  scheduledCompactRev (revision bytes), consistent_index and term (u64 big-endian).
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.proto_fields import read_varint

MAGIC = 0xED0CDAED
VERSION = 2
PAGE_HEADER = 16
ELEMENT = 16
META_SIZE = 64
BRANCH, LEAF, META = 0x01, 0x02, 0x04
BUCKET_LEAF = 0x01
# Page sizes to try for the second meta page when the first cannot be trusted to say it.
PAGE_SIZES = (4096, 8192, 16384, 32768, 65536)
TOMBSTONE = ord("t")
# Far deeper than any real tree (each level multiplies the pages by dozens): deeper means a damaged loop.
MAX_DEPTH = 64
# Bytes of a KeyValue read to find its key; a longer key is read in full with a second pread.
VALUE_HEAD = 256
# Where kube-apiserver keeps its objects (its --etcd-prefix, /registry by default): keys under it mean that the
# database is a Kubernetes cluster's.
KUBERNETES_PREFIX = b"/registry/"
# etcd's server code that first sets the restored revision to the scheduled compaction too (issue #17780, PR #17815
# and backports): before these, a member restarted on a db whose last compaction had not finished reported the
# newest revision left in the key bucket or the finished compaction, whichever is higher.
SCHEDULED_COMPACT_COUNTS_SINCE = ((3, 4, 32), (3, 5, 14), (3, 6, 0))


def starts_like_a_database(path: str) -> bool:
    """Whether `path` begins as a bbolt file does: bbolt's magic number in the first meta page (either byte
    order). A file that does not is no etcd database nor a snapshot of one, whatever else is wrong with it."""
    with open(path, "rb") as handle:
        head = handle.read(PAGE_HEADER + 4)
    if len(head) < PAGE_HEADER + 4:
        return False
    return MAGIC in (struct.unpack_from("<I", head, PAGE_HEADER)[0], struct.unpack_from(">I", head, PAGE_HEADER)[0])


class EtcdDbError(EtcdOpsError):
    """The file is not an etcd database, or is damaged; the message names the file and what is wrong."""


def _fnv1a64(data: bytes) -> int:
    value = 0xcbf29ce484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return value


def _u64_be(data: bytes) -> int | None:
    return struct.unpack(">Q", data[:8])[0] if len(data) >= 8 else None


class _Page:
    """One page: its first bytes in memory, the rest read from the file on demand (overflow pages)."""

    def __init__(self, db: EtcdDb, head: bytes, file_offset: int | None = None) -> None:
        self.db = db
        self.head = head
        self.offset = file_offset
        dummy, self.flags, self.count, dummy = struct.unpack_from(db.order + "QHHI", head, 0)

    def read(self, start: int, size: int) -> bytes:
        if start + size <= len(self.head) or self.offset is None:
            data = self.head[start:start + size]
        else:
            data = self.db.pread(self.offset + start, size)
        if len(data) < size:
            raise EtcdDbError("%s is truncated: a page at offset %s runs past the end of the %s" % (
                self.db.path, self.offset, "file" if self.offset is not None else "inline bucket"))
        return data

    def elements(self, reverse: bool = False) -> Iterator[tuple[int, tuple[int, ...]]]:
        """(header offset, fields) of each element, in key order (or reversed)."""
        fmt = self.db.order + ("IIQ" if self.flags == BRANCH else "IIII")
        headers = self.read(PAGE_HEADER, self.count * ELEMENT)
        if len(headers) < self.count * ELEMENT:
            raise EtcdDbError("%s is truncated: a page at offset %s lists %d elements that are not all there"
                              % (self.db.path, self.offset, self.count))
        order = range(self.count - 1, -1, -1) if reverse else range(self.count)
        for index in order:
            yield PAGE_HEADER + index * ELEMENT, struct.unpack_from(fmt, headers, index * ELEMENT)


class EtcdDb:
    """A read-only view of an etcd database file; use as a context manager."""

    def __init__(self, path: str, source: Any = None) -> None:
        """`source`: where the bytes come from instead of the file at `path` (an object with size and pread, such
        as an encrypted file opened with its key); `path` then only names it in messages."""
        self.path = path
        self.source = source
        self.fd: int | None = None if source else os.open(path, os.O_RDONLY)
        try:
            self.size = source.size if self.fd is None else os.fstat(self.fd).st_size
            self.order, self.page_size, self.root, self.high_water = self._meta()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> EtcdDb:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def pread(self, offset: int, size: int) -> bytes:
        if self.fd is None:
            return self.source.pread(offset, size)
        return os.pread(self.fd, size, offset)

    def _meta_at(self, offset: int) -> tuple[str, int, int, int, int] | None:
        """(order, page size, root pgid, high water mark, txid) of the meta at `offset`, or None if invalid."""
        data = self.pread(offset + PAGE_HEADER, META_SIZE)
        if len(data) < META_SIZE:
            return None
        for order in "<>":
            magic, version, page_size = struct.unpack_from(order + "III", data, 0)
            if magic != MAGIC:
                continue
            root, dummy, dummy, high_water, txid, checksum = struct.unpack_from(order + "QQQQQQ", data, 16)
            if version != VERSION or checksum != _fnv1a64(data[:56]):
                return None
            return order, page_size, root, high_water, txid
        return None

    def _meta(self) -> tuple[str, int, int, int]:
        if self.size < PAGE_HEADER + META_SIZE:
            raise EtcdDbError("%s is not an etcd database: %d bytes is too short for one (%s)"
                              % (self.path, self.size, "an empty file" if not self.size else "cut short?"))
        first = self._meta_at(0)
        sizes = (first[1],) if first else PAGE_SIZES
        second = next((meta for meta in (self._meta_at(size) for size in sizes) if meta), None)
        metas = [meta for meta in (first, second) if meta]
        if not metas:
            head = self.pread(0, 64)
            why = ("the bbolt magic number is missing: it is not an etcd database (nor a snapshot of one)"
                   if MAGIC not in (struct.unpack_from("<I", head, 16)[0], struct.unpack_from(">I", head, 16)[0])
                   else "both of its meta pages fail their checksum: the file is damaged")
            raise EtcdDbError("%s: %s" % (self.path, why))
        order, page_size, root, high_water, dummy = max(metas, key=lambda meta: meta[4])
        return order, page_size, root, high_water

    def _page(self, pgid: int) -> _Page:
        offset = pgid * self.page_size
        if pgid < 2 or pgid >= self.high_water or offset + PAGE_HEADER > self.size:
            raise EtcdDbError("%s is truncated or damaged: page %d (at byte %d) lies outside the database (%d "
                              "pages, %d bytes on disk)" % (self.path, pgid, offset, self.high_water, self.size))
        page = _Page(self, self.pread(offset, self.page_size), offset)
        page_id = struct.unpack_from(self.order + "Q", page.head, 0)[0]
        if page_id != pgid or page.flags not in (BRANCH, LEAF):
            raise EtcdDbError("%s is damaged: page %d holds %s" % (
                self.path, pgid, "page %d" % page_id if page_id != pgid else "flags 0x%x" % page.flags))
        return page

    def _walk(self, page: _Page | int, reverse: bool = False) -> Iterator[tuple[_Page, int, tuple[int, ...]]]:
        """(page, element offset, (flags, pos, ksize, vsize)) of every leaf element below `page`, in key order
        (or reversed). Pages are read as the walk reaches them."""
        stack = [(page, 0)]
        while stack:
            page, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise EtcdDbError("%s is damaged: its page tree is deeper than %d levels (a loop?)"
                                  % (self.path, MAX_DEPTH))
            if not isinstance(page, _Page):
                page = self._page(page)
            if page.flags == BRANCH:
                # Pushed last-to-first, so that the first child is walked first.
                stack.extend((fields[2], depth + 1) for dummy, fields in page.elements(reverse=not reverse))
            else:
                for offset, fields in page.elements(reverse):
                    yield page, offset, fields

    def _bucket_page(self, bucket_value: bytes) -> _Page:
        root = struct.unpack_from(self.order + "Q", bucket_value, 0)[0]
        if root == 0:
            return _Page(self, bucket_value[16:])
        return self._page(root)

    def _find(self, page: _Page, key: bytes) -> tuple[_Page, int, tuple[int, ...]] | None:
        """(page, offset, fields) of the leaf element `key` below `page`, or None. In a branch page each element
        carries the first key of its child: descend into the last child whose first key is not above `key` (the
        first child when all are, as bbolt's cursor does)."""
        for dummy in range(MAX_DEPTH + 1):
            if page.flags != BRANCH:
                break
            child = None
            for offset, fields in page.elements():
                if child is not None and page.read(offset + fields[0], fields[1]) > key:
                    break
                child = fields[2]
            if child is None:
                return None
            page = self._page(child)
        else:
            raise EtcdDbError("%s is damaged: its page tree is deeper than %d levels (a loop?)" % (self.path, MAX_DEPTH))
        for offset, fields in page.elements():
            if page.read(offset + fields[1], fields[2]) == key:
                return page, offset, fields
        return None

    @staticmethod
    def _value(page: _Page, offset: int, fields: tuple[int, ...], size: int | None = None) -> bytes:
        dummy, pos, ksize, vsize = fields
        return page.read(offset + pos + ksize, vsize if size is None else min(size, vsize))

    def bucket(self, name: bytes) -> _Page | None:
        """The root page of top-level bucket `name` (bytes), or None when the file has no such bucket."""
        found = self._find(self._page(self.root), name)
        if not found or not found[2][0] & BUCKET_LEAF:
            return None
        return self._bucket_page(self._value(*found))

    def get(self, bucket: _Page, key: bytes) -> bytes | None:
        found = self._find(bucket, key)
        return self._value(*found) if found else None

    def items(self, bucket: _Page, reverse: bool = False,
              value_bytes: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of every entry in `bucket`; `value_bytes` reads only the start of each value."""
        for page, offset, fields in self._walk(bucket, reverse):
            yield page.read(offset + fields[1], fields[2]), self._value(page, offset, fields, value_bytes)

    @staticmethod
    def user_key(entry_value: bytes | None, whole: bool = True) -> bytes | None:
        """The etcd key a KeyValue is for; None for an entry without one. For the first bytes of a KeyValue
        (`whole` false), also None when the key runs past them."""
        if not entry_value or entry_value[0] != 0x0A:
            return None
        try:
            length, start = read_varint(entry_value, 1)
        except ValueError:
            return None
        if start + length > len(entry_value):
            return None
        return entry_value[start:start + length]


def revision_of(revision_bytes: bytes) -> int | None:
    """The main revision of etcd's revision bytes (8 bytes big-endian, then '_' and the sub revision)."""
    return _u64_be(revision_bytes)


def _key_bucket(db: EtcdDb) -> tuple[_Page, _Page]:
    keys = db.bucket(b"key")
    meta = db.bucket(b"meta")
    if keys is None or meta is None:
        raise EtcdDbError("%s is a bbolt database but not etcd's: it has no %s bucket" % (
            db.path, "'key'" if keys is None else "'meta'"))
    return keys, meta


def count_live_keys(db: EtcdDb, keys: _Page) -> int:
    """Live keys in the database (see live_key_counts)."""
    return live_key_counts(db, keys)[0]


def live_key_counts(db: EtcdDb, keys: _Page, prefix: bytes = KUBERNETES_PREFIX) -> tuple[int, int]:
    """(live keys in the database, those of them under `prefix`): keys whose newest entry is not a tombstone.
    Memory: 8 bytes of hash per live key, not the keys. An entry with an empty value (the marker `etcdutl snapshot
    restore --bump-revision` writes) is not a key."""
    live = set()
    under = set()
    for revision_key, head in db.items(keys, value_bytes=VALUE_HEAD):
        if not head:
            continue
        key = db.user_key(head, whole=False)
        if key is None and len(head) == VALUE_HEAD:
            key = db.user_key(db.get(keys, revision_key))
        if key is None:
            raise EtcdDbError("%s is damaged: the key bucket entry at revision %s holds no key" % (
                db.path, revision_of(revision_key)))
        digest = hashlib.blake2b(key, digest_size=8).digest()
        if len(revision_key) == 18 and revision_key[17] == TOMBSTONE:
            live.discard(digest)
            under.discard(digest)
        else:
            live.add(digest)
            if key.startswith(prefix):
                under.add(digest)
    return len(live), len(under)


def read_facts(path: str, count_keys: bool = False, source: Any = None) -> dict[str, Any]:
    """What the database file at `path` (or read from `source`, see EtcdDb) stands for. `revision` is the revision its member reported when it was
    written: the newest revision in the key bucket, or the last compaction when that is newer (compacted
    tombstones leave no entry), and at least 1 (a new cluster's)."""
    try:
        return _read_facts(path, count_keys, source)
    except (struct.error, ValueError, IndexError) as exc:
        raise EtcdDbError("%s is damaged: %s" % (path, exc)) from None


def _read_facts(path: str, count_keys: bool, source: Any) -> dict[str, Any]:
    with EtcdDb(path, source) as db:
        keys, meta = _key_bucket(db)
        last = next(db.items(keys, reverse=True, value_bytes=0), None)
        facts: dict[str, Any] = dict(
            last_key_revision=revision_of(last[0]) if last else 0,
            compact_revision=revision_of(db.get(meta, b"finishedCompactRev") or b""),
            scheduled_compact_revision=revision_of(db.get(meta, b"scheduledCompactRev") or b""),
            consistent_index=_u64_be(db.get(meta, b"consistent_index") or b""),
            term=_u64_be(db.get(meta, b"term") or b""),
            members=_members(db),
            lease_count=_count(db, b"lease"),
            key_count=None,
            kubernetes_key_count=None,
        )
        facts["revision"] = max(1, facts["last_key_revision"], facts["compact_revision"] or 0,
                                facts["scheduled_compact_revision"] or 0)
        if count_keys:
            facts["key_count"], facts["kubernetes_key_count"] = live_key_counts(db, keys)
    return facts


def _count(db: EtcdDb, name: bytes) -> int:
    bucket = db.bucket(name)
    return sum(1 for dummy in db.items(bucket, value_bytes=0)) if bucket is not None else 0


def _members(db: EtcdDb) -> list[dict[str, Any]]:
    """[{id, name, peer_urls}] from the members bucket (a snapshot keeps its cluster's; a restored db has none)."""
    bucket = db.bucket(b"members")
    found = []
    for key, value in (db.items(bucket) if bucket is not None else ()):
        try:
            member = json.loads(value.decode("utf-8"))
        except ValueError:
            member = {}
        found.append(dict(id=key.decode("ascii", "replace"), name=member.get("name"),
                          peer_urls=member.get("peerURLs") or []))
    return found


def counts_scheduled_compaction(server_version: tuple[int, ...]) -> bool:
    """Whether etcd `server_version` (a tuple) sets the restored revision to the scheduled compaction too."""
    for since in SCHEDULED_COMPACT_COUNTS_SINCE:
        if server_version[:2] == since[:2]:
            return server_version >= since
    return server_version >= SCHEDULED_COMPACT_COUNTS_SINCE[-1]


def restored_revision(facts: dict[str, Any], bump: int = 0,
                      server_version: tuple[int, ...] | None = None) -> tuple[int, int]:
    """(lowest, highest) revision etcd `server_version` reports when it starts on a restore of the database
    described by `facts`, restored with --bump-revision `bump` --mark-compacted (0: no bump).

    From etcd's store.restore(): the revision is the newest in the key bucket (1 when it is empty), raised to the
    finished compaction, and on newer servers to the scheduled one. --bump-revision writes a marker at the key
    bucket's newest revision + bump and schedules a compaction there (etcdutl's modifyLatestRevision: it starts
    from the key bucket, not from a compaction above it). The two ends differ only when the last compaction had
    not finished and the server's version is not known."""
    last, scheduled = facts["last_key_revision"], facts["scheduled_compact_revision"] or 0
    if bump:
        last = scheduled = last + bump
    low = max(1, last, facts["compact_revision"] or 0)
    high = max(low, scheduled)
    if server_version is None:
        return low, high
    return (high, high) if counts_scheduled_compaction(server_version) else (low, low)
