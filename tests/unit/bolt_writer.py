"""A test-only writer of bbolt files that etcd would recognise, to check the database reader against.

It is written from bbolt's and etcd's own source, not from the reader, so that the two understandings of the
format check each other:

- bbolt (go.etcd.io/bbolt): internal/common/page.go (page header, branch and leaf elements, page flags),
  meta.go (the meta page and its FNV-1a 64 checksum), bucket.go (the bucket header), inode.go
  (WriteInodeToPage: where keys and values go), types.go (magic, version), node.go (split, splitIndex,
  spill: how nodes become pages), bucket.go at the top level (inlineable, write: inline buckets), db.go (init:
  the freelist page) and tx.go (WriteTo: the two meta pages of a snapshot).
- etcd v3.5 (go.etcd.io/etcd): server/mvcc/revision.go and kvstore.go (revision bytes, tombstone mark, meta
  key names), kvstore_txn.go (what a put and a delete write), key_index.go and kvstore_compaction.go (what a
  compaction deletes), server/mvcc/buckets/bucket.go (bucket names), server/lease/lessor.go (lease entries),
  server/etcdserver/api/membership/store.go and member.go (members entries), api/mvccpb/kv.proto (KeyValue),
  etcdutl/snapshot/v3_snapshot.go (what `snapshot restore --bump-revision --mark-compacted` writes).

Checked by hand against etcd 3.5.1's own tools (not in the tests): `etcdutl snapshot status` (whose bbolt
tx.Check walks every page) accepts the files, and a member restored from them reports the revision and key count
EtcdState predicts.

What bbolt would do differently: pages are laid out in one run per tree (in the order they are written, or
`top_down`), never reused from a freelist; the freelist holds only what the newer of two trees freed; `fan_out`
can force pages smaller than bbolt's fill rule makes them (bbolt reads any such tree, it just would not write one).
Not written: nested buckets in etcd's content (etcd has none), the auth, alarm and cluster contents beyond empty
buckets and the cluster version, and etcd 3.6's storage version.
"""
import dataclasses
import hashlib
import json
import struct

# page.go: Page{id Pgid, flags uint16, count uint16, overflow uint32}.
PAGE_HEADER_SIZE = 16
# page.go: branchPageElement{pos uint32, ksize uint32, pgid Pgid}, leafPageElement{flags, pos, ksize, vsize uint32}.
ELEMENT_SIZE = 16
# bucket.go (common): InBucket{root Pgid, sequence uint64}.
BUCKET_HEADER_SIZE = 16
BRANCH_PAGE, LEAF_PAGE, META_PAGE, FREELIST_PAGE = 0x01, 0x02, 0x04, 0x10
BUCKET_LEAF_FLAG = 0x01
# types.go.
MAGIC = 0xED0CDAED
FORMAT_VERSION = 2
NO_FREELIST = 0xFFFFFFFFFFFFFFFF
# page.go MinKeysPerPage; bucket.go DefaultFillPercent.
MIN_KEYS_PER_PAGE = 2
FILL_PERCENT = 0.5
# db.go init: the freelist on page 2, the first free page after it.
FREELIST_PGID = 2
FNV_OFFSET_BASIS = 14695981039346656037
FNV_PRIME = 1099511628211
U64 = 0xFFFFFFFFFFFFFFFF


def fnv1a_64(data):
    """The 64-bit FNV-1a hash (Go's hash/fnv New64a), which bbolt's meta checksum is."""
    result = FNV_OFFSET_BASIS
    for byte in data:
        result = ((result ^ byte) * FNV_PRIME) & U64
    return result


class Bucket:
    """A bucket to write: plain values and sub-buckets by key. `inline`: None lets bbolt's rule decide
    (bucket.go inlineable), False keeps the bucket on pages of its own even when small (as bbolt leaves a small
    bucket that a transaction did not touch). `fan_out` caps the elements per page of this bucket's tree."""

    def __init__(self, items=None, inline=None, sequence=0, fan_out=None):
        self.items = {}
        self.inline = inline
        self.sequence = sequence
        self.fan_out = fan_out
        for key, value in (items or {}).items():
            self.put(key, value)

    def put(self, key, value):
        if not key:
            raise ValueError("bbolt keys are never empty (node.put asserts it)")
        self.items[bytes(key)] = value if isinstance(value, Bucket) else bytes(value)


@dataclasses.dataclass
class PageRecord:
    """Where the writer put one page (or run of pages, with overflow)."""

    pgid: int
    kind: str
    bucket: tuple = ()
    pages: int = 1
    level: int = 0
    children: list = dataclasses.field(default_factory=list)
    first_key: bytes = b""


@dataclasses.dataclass
class Layout:
    """What was written: the page size, byte order and every page, for tests that damage the file on purpose."""

    path: str
    page_size: int
    byte_order: str
    db_size: int
    pages: dict
    high_water: int

    def page_offset(self, pgid):
        return pgid * self.page_size

    def branch_child_offset(self, pgid, index):
        """File offset of the child pgid in element `index` of branch page `pgid`."""
        return self.page_offset(pgid) + PAGE_HEADER_SIZE + index * ELEMENT_SIZE + 8

    def pages_of(self, bucket, kind):
        """Records of the pages of `kind` in top-level bucket `bucket` (a name), lowest pgid first."""
        path = (bucket,) if isinstance(bucket, bytes) else tuple(bucket)
        return sorted((record for record in self.pages.values() if record.bucket == path and record.kind == kind),
                      key=lambda record: record.pgid)

    def root_of(self, bucket):
        """The record of the root page of a bucket kept on pages (the highest level)."""
        return max(self.pages_of(bucket, "branch") or self.pages_of(bucket, "leaf"), key=lambda rec: rec.level)


@dataclasses.dataclass
class _Element:
    key: bytes
    value: bytes = b""
    flags: int = 0
    pgid: int = 0


class BoltWriter:
    """Writes a tree of Buckets as a bbolt file.

    page_size: bbolt's page size (the OS page size when the file was made); byte_order: "<" or ">" (bbolt writes
    its own structures in the machine's order); fan_out: at most this many elements on a page, to force deep trees
    with few entries; freelist: False writes no freelist page (NoFreelistSync); top_down: lay each tree's pages
    out from the end of its span down, the root first and the first leaf last (pages reused from a freelist can
    lie in any order), instead of upwards in the order they are written as in a new file."""

    def __init__(self, page_size=4096, byte_order="<", fan_out=None, freelist=True, top_down=False):
        self.page_size = page_size
        self.order = byte_order
        self.fan_out = fan_out
        self.freelist = freelist
        self.top_down = top_down
        self._pages = {}
        self._records = {}
        self._next_pgid = 0
        self._top = None

    def write(self, path, tree, older=None, txid=7, newer_meta=0, corrupt_meta=(), spare_pages=0, trailer=False):
        """Write `tree` (the root Bucket) to `path` and return its Layout.

        Without `older` both meta pages point to `tree`, the one on page `newer_meta` with `txid` and the other
        with txid - 1, as tx.WriteTo writes a snapshot. With `older` (another root Bucket), the meta page that is
        not `newer_meta` holds txid - 1 and points to `older`, whose pages come first, as after a commit.
        corrupt_meta: meta pages (0, 1) to damage after their checksum is made; spare_pages: zero pages after
        the high water mark (a member's file grows ahead of its data); trailer: append sha256 of the database, as
        etcd's snapshot stream does."""
        self._pages, self._records, self._next_pgid = {}, {}, FREELIST_PGID
        newer_state, older_state = self._write_states(tree, older, txid)
        self._pages[newer_meta] = self._meta_page(newer_meta, *newer_state)
        self._pages[1 - newer_meta] = self._meta_page(1 - newer_meta, *older_state)
        self._records.update((index, PageRecord(index, "meta")) for index in (0, 1))
        data = self._file_bytes(spare_pages)
        for index in corrupt_meta:
            data[self._meta_txid_offset(index)] ^= 0xFF
        db_size = len(data)
        if trailer:
            data += hashlib.sha256(data).digest()
        with open(path, "wb") as handle:
            handle.write(data)
        return Layout(str(path), self.page_size, self.order, db_size, dict(self._records), self._next_pgid)

    def _write_states(self, tree, older, txid):
        """(root, freelist, high water mark, txid) of the newer meta and of the older one."""
        first_freelist = self._add_freelist([])
        if older is None:
            newer_state = (self._write_root(tree), first_freelist, self._next_pgid, txid)
            return newer_state, newer_state[:3] + (txid - 1,)
        older_state = (self._write_root(older), first_freelist, self._next_pgid, txid - 1)
        newer_root = self._write_root(tree)
        # The newer commit freed the older tree and the older freelist (tx.go commit, commitFreelist).
        freed = [first_freelist] + list(range(FREELIST_PGID + 1, older_state[2]))
        return (newer_root, self._add_freelist(freed), self._next_pgid, txid), older_state

    def _add_freelist(self, free_pgids):
        """A freelist page listing `free_pgids` (freelist Write: ids after the header; with 0xFFFF or more, count
        0xFFFF and the real count first); NO_FREELIST when the writer keeps none (NoFreelistSync)."""
        if not self.freelist:
            return NO_FREELIST
        ids = sorted(free_pgids)
        count = len(ids)
        if count >= 0xFFFF:
            ids, count = [count] + ids, 0xFFFF
        pages = -(-(PAGE_HEADER_SIZE + 8 * len(ids)) // self.page_size)
        pgid = self._allocate(pages)
        self._pages[pgid] = self._page_header(pgid, FREELIST_PAGE, count, pages - 1) + b"".join(
            struct.pack(self.order + "Q", free) for free in ids)
        self._records[pgid] = PageRecord(pgid, "freelist", pages=pages)
        return pgid

    def _file_bytes(self, spare_pages):
        data = bytearray(self.page_size * (self._next_pgid + spare_pages))
        for pgid, page in self._pages.items():
            start = pgid * self.page_size
            data[start:start + len(page)] = page
        return data

    def _meta_txid_offset(self, index):
        # meta.go Meta: magic, version, pageSize, flags (uint32 each), root InBucket (16), freelist, pgid, txid.
        return index * self.page_size + PAGE_HEADER_SIZE + 16 + BUCKET_HEADER_SIZE + 16

    def _page_header(self, pgid, flags, count, overflow):
        return struct.pack(self.order + "QHHI", pgid, flags, count, overflow)

    def _meta_page(self, index, root, freelist, high_water, txid):
        """meta.go Meta after a page header whose id is the meta's index; checksum = FNV-1a of the fields before
        it (Sum64 hashes up to Offsetof(checksum))."""
        fields = struct.pack(self.order + "IIIIQQQQQ", MAGIC, FORMAT_VERSION, self.page_size, 0, root, 0,
                             freelist, high_water, txid)
        return (self._page_header(index, META_PAGE, 0, 0) + fields
                + struct.pack(self.order + "Q", fnv1a_64(fields)))

    def _bucket_value(self, bucket, path):
        """A sub-bucket's value in its parent: its header, then its page when it is inline (bucket.go write)."""
        elements = self._leaf_elements(bucket, path)
        if self._inlineable(bucket, elements):
            return (struct.pack(self.order + "QQ", 0, bucket.sequence)
                    + self._encode_node(0, True, elements, 0))
        root = self._write_tree(elements, path, self._fan_out(bucket))
        return struct.pack(self.order + "QQ", root, bucket.sequence)

    def _write_root(self, tree):
        """Root pgid of the root bucket `tree`, with all below it written; top_down: written twice, once to learn
        the span it needs, then with pages handed out from the end of that span down."""
        if not self.top_down:
            return self._write_bucket_pages(tree, ())
        pages, records = dict(self._pages), dict(self._records)
        self._write_bucket_pages(tree, ())
        end = self._next_pgid
        self._pages, self._records, self._top = pages, records, end
        root = self._write_bucket_pages(tree, ())
        self._top, self._next_pgid = None, end
        return root

    def _allocate(self, count):
        if self._top is not None:
            self._top -= count
            return self._top
        self._next_pgid += count
        return self._next_pgid - count

    def _write_bucket_pages(self, bucket, path):
        """Root pgid of `bucket` written on pages of its own (the root bucket always is)."""
        return self._write_tree(self._leaf_elements(bucket, path), path, self._fan_out(bucket))

    def _fan_out(self, bucket):
        return bucket.fan_out or self.fan_out

    def _leaf_elements(self, bucket, path):
        elements = []
        for key in sorted(bucket.items):
            value = bucket.items[key]
            if isinstance(value, Bucket):
                elements.append(_Element(key, self._bucket_value(value, path + (key,)), BUCKET_LEAF_FLAG))
            else:
                elements.append(_Element(key, value))
        return elements

    def _inlineable(self, bucket, elements):
        """bucket.go inlineable: one leaf, no sub-buckets, at most a quarter of a page (maxInlineBucketSize)."""
        fan_out = self._fan_out(bucket)
        if bucket.inline is False or (fan_out and len(elements) > fan_out):
            return False
        if any(element.flags & BUCKET_LEAF_FLAG for element in elements):
            return False
        return self._node_size(elements, True) <= self.page_size // 4

    @staticmethod
    def _element_size(element, leaf):
        return ELEMENT_SIZE + len(element.key) + (len(element.value) if leaf else 0)

    def _node_size(self, elements, leaf):
        return PAGE_HEADER_SIZE + sum(self._element_size(element, leaf) for element in elements)

    def _write_tree(self, elements, path, fan_out, leaf=True, level=0):
        """Write `elements` as one level of nodes and, when there is more than one, the branch levels above them
        (node.go spill: a split root gets a new parent). Returns the root pgid."""
        parents = []
        for node in self._split(elements, leaf, fan_out):
            pgid = self._add_node(node, leaf, path, level)
            parents.append(_Element(node[0].key if node else b"", pgid=pgid))
        if len(parents) == 1:
            return parents[0].pgid
        return self._write_tree(parents, path, fan_out, False, level + 1)

    def _split(self, elements, leaf, fan_out):
        """node.go split: cut off a first node at splitIndex until the rest fits on a page (or has too few
        elements to split), then each node at most `fan_out` elements."""
        nodes, rest = [], list(elements)
        while not self._fits(rest, leaf, fan_out):
            index = self._split_index(rest, leaf)
            if fan_out:
                index = max(1, min(index, fan_out))
            nodes.append(rest[:index])
            rest = rest[index:]
        nodes.append(rest)
        return nodes

    def _fits(self, elements, leaf, fan_out):
        """node.go splitTwo: no split with at most 2 * MinKeysPerPage elements or when they fit on a page."""
        if fan_out and len(elements) > fan_out:
            return False
        return len(elements) <= 2 * MIN_KEYS_PER_PAGE or self._node_size(elements, leaf) < self.page_size

    def _split_index(self, elements, leaf):
        """node.go splitIndex: fill the first node up to FillPercent of a page, keeping MinKeysPerPage elements
        on both sides (when nothing stops the loop, the index is that of its last turn)."""
        threshold = int(self.page_size * FILL_PERCENT)
        size, index = PAGE_HEADER_SIZE, 0
        for index in range(len(elements) - MIN_KEYS_PER_PAGE):
            element_size = self._element_size(elements[index], leaf)
            if index >= MIN_KEYS_PER_PAGE and size + element_size > threshold:
                break
            size += element_size
        return index

    def _add_node(self, elements, leaf, path, level):
        """Allocate contiguous pages for one node (node.go spill: size rounded up to pages) and write it there."""
        count = -(-self._node_size(elements, leaf) // self.page_size)
        pgid = self._allocate(count)
        self._pages[pgid] = self._encode_node(pgid, leaf, elements, count - 1)
        self._records[pgid] = PageRecord(pgid, "leaf" if leaf else "branch", path, count, level,
                                         [] if leaf else [element.pgid for element in elements],
                                         elements[0].key if elements else b"")
        return pgid

    def _encode_node(self, pgid, leaf, elements, overflow):
        """node.go write and inode.go WriteInodeToPage: the element headers, then each key and value in turn;
        `pos` is from an element's header to its key."""
        data_start = PAGE_HEADER_SIZE + ELEMENT_SIZE * len(elements)
        headers, data = [], bytearray()
        for index, element in enumerate(elements):
            if not element.key:
                raise ValueError("bbolt asserts that no key on a page is empty")
            pos = data_start + len(data) - (PAGE_HEADER_SIZE + index * ELEMENT_SIZE)
            if leaf:
                headers.append(struct.pack(self.order + "IIII", element.flags, pos, len(element.key),
                                           len(element.value)))
                data += element.key + element.value
            else:
                if element.pgid == pgid:
                    raise ValueError("write: circular dependency occurred (inode.go)")
                headers.append(struct.pack(self.order + "IIQ", pos, len(element.key), element.pgid))
                data += element.key
        header = self._page_header(pgid, LEAF_PAGE if leaf else BRANCH_PAGE, len(elements), overflow)
        return header + b"".join(headers) + bytes(data)


def patch(path, offset, data):
    """Overwrite bytes of a written file (to damage it on purpose)."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


# --- etcd's content -------------------------------------------------------------------------------------------

TOMBSTONE_MARK = b"t"


def revision_bytes(main, sub=0, tombstone=False):
    """revision.go revToBytes: main big-endian, '_', sub big-endian; kvstore.go appendMarkTombstone adds 't'."""
    return struct.pack(">Q", main) + b"_" + struct.pack(">Q", sub) + (TOMBSTONE_MARK if tombstone else b"")


def main_revision(rev_key):
    return struct.unpack(">Q", rev_key[:8])[0]


def u64_be(number):
    return struct.pack(">Q", number)


def _varint(number):
    number &= U64
    out = bytearray()
    while True:
        low = number & 0x7F
        number >>= 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field_bytes(number, data):
    return _varint(number << 3 | 2) + _varint(len(data)) + data if data else b""


def _field_int(number, value):
    return _varint(number << 3) + _varint(value) if value else b""


def key_value(key, create_revision=0, mod_revision=0, version=0, value=b"", lease=0):
    """mvccpb.KeyValue as gogo/protobuf marshals it (proto3: fields in order, zero values left out)."""
    return (_field_bytes(1, key) + _field_int(2, create_revision) + _field_int(3, mod_revision)
            + _field_int(4, version) + _field_bytes(5, value) + _field_int(6, lease))


def lease_record(lease_id, ttl, remaining_ttl=0):
    """leasepb.Lease{ID: 1, TTL: 2, RemainingTTL: 3}."""
    return _field_int(1, lease_id) + _field_int(2, ttl) + _field_int(3, remaining_ttl)


def member_record(member_id, name, peer_urls, client_urls=()):
    """membership.Member as encoding/json writes it: id (a number), peerURLs, then name and clientURLs (omitted
    when empty)."""
    record = dict(id=member_id, peerURLs=list(peer_urls))
    if name:
        record["name"] = name
    if client_urls:
        record["clientURLs"] = list(client_urls)
    return json.dumps(record, separators=(",", ":")).encode()


def member_key(member_id):
    """store.go backendMemberKey: types.ID.String(), lower-case hex without leading zeros."""
    return b"%x" % member_id


class EtcdState:
    """An etcd member's backend, changed as its mvcc store, lessor and membership change it. `revision` is the
    member's current revision; `keys` is the key bucket (revision bytes -> KeyValue), `owners` the user key of
    each of its entries; `live` the (create revision, version) of each live key."""

    def __init__(self):
        self.revision = 1
        self.keys = {}
        self.owners = {}
        self.meta = {}
        self.leases = {}
        self.members = {}
        self.live = {}

    def put(self, key, value=b"", lease=0):
        return self.txn(("put", key, value, lease))

    def delete(self, key):
        return self.txn(("delete", key))

    def txn(self, *operations):
        """Apply ("put", key, value[, lease]) and ("delete", key) at one main revision, sub revisions counting the
        changes (kvstore_txn.go). Deleting a key that is not there changes nothing; a txn without changes does
        not take a revision."""
        main, sub = self.revision + 1, 0
        for operation in operations:
            if operation[0] == "put":
                sub += self._put(main, sub, *operation[1:])
            elif operation[1] in self.live:
                sub += self._delete(main, sub, operation[1])
        if sub:
            self.revision = main
        return self.revision

    def _put(self, main, sub, key, value, lease=0):
        create_revision, version = self.live.get(key, (main, 0))
        self.live[key] = (create_revision, version + 1)
        rev_key = revision_bytes(main, sub)
        self.keys[rev_key] = key_value(key, create_revision, main, version + 1, value, lease)
        self.owners[rev_key] = key
        return 1

    def _delete(self, main, sub, key):
        del self.live[key]
        rev_key = revision_bytes(main, sub, tombstone=True)
        self.keys[rev_key] = key_value(key)
        self.owners[rev_key] = key
        return 1

    def compact(self, revision, finished=True):
        """Compact at `revision` (kvstore.go compact, key_index.go compact, kvstore_compaction.go): for each key,
        the newest entry at or below it stays unless it is a tombstone, older ones go. `finished`=False stops
        after deleting, before finishedCompactRev is written (the crash of etcd issue #17780)."""
        self.meta[b"scheduledCompactRev"] = revision_bytes(revision)
        newest = {}
        for rev_key in sorted(self.keys):
            if main_revision(rev_key) <= revision:
                newest[self.owners[rev_key]] = rev_key
        keep = {rev_key for rev_key in newest.values() if not rev_key.endswith(TOMBSTONE_MARK)}
        for rev_key in list(self.keys):
            if main_revision(rev_key) <= revision and rev_key not in keep:
                del self.keys[rev_key]
                del self.owners[rev_key]
        if finished:
            self.meta[b"finishedCompactRev"] = revision_bytes(revision)

    def bump(self, amount):
        """What `etcdutl snapshot restore --bump-revision amount --mark-compacted` writes (v3_snapshot.go
        modifyLatestRevision): an empty value at the newest revision in the key bucket (0 when empty) + amount,
        sub 0, and a scheduled compaction there. Returns that revision."""
        latest = max((main_revision(rev_key) for rev_key in self.keys), default=0) + amount
        self.keys[revision_bytes(latest)] = b""
        self.owners[revision_bytes(latest)] = None
        self.meta[b"scheduledCompactRev"] = revision_bytes(latest)
        return latest

    def set_raft(self, consistent_index, term):
        """cindex.go: consistent_index and term, u64 big-endian."""
        self.meta[b"consistent_index"] = u64_be(consistent_index)
        self.meta[b"term"] = u64_be(term)

    def grant_lease(self, lease_id, ttl):
        """lessor.go persistTo: key int64 big-endian, value leasepb.Lease."""
        self.leases[u64_be(lease_id)] = lease_record(lease_id, ttl)

    def add_member(self, member_id, name, peer_urls, client_urls=()):
        self.members[member_key(member_id)] = member_record(member_id, name, peer_urls, client_urls)

    def tree(self, inline=None, fan_out=None, key_fan_out=None):
        """The root Bucket: etcd's buckets (buckets/bucket.go). `inline`: passed to the key, meta, lease and
        members buckets; `fan_out`: of the meta, lease and members buckets; `key_fan_out`: of the key bucket."""
        root = Bucket()
        contents = {b"key": self.keys, b"meta": self.meta, b"lease": self.leases, b"members": self.members}
        for name, items in contents.items():
            root.put(name, Bucket(items, inline=inline, fan_out=key_fan_out if name == b"key" else fan_out))
        root.put(b"cluster", Bucket({b"clusterVersion": b"3.5.0"}))
        for name in (b"alarm", b"auth", b"authRoles", b"authUsers", b"members_removed"):
            root.put(name, Bucket())
        return root
