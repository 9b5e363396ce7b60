"""Reading etcd database files, checked against bbolt files that tests/unit/bolt_writer.py writes from bbolt's and
etcd's own source (not from the reader)."""
import contextlib
import random
import signal
import struct

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import (
    MAX_DEPTH, VALUE_HEAD, EtcdDb, EtcdDbError, read_facts, restored_revision)
from ansible_collections.etcdops.dr.tests.unit.bolt_writer import (
    BoltWriter, Bucket, EtcdState, key_value, patch, revision_bytes)

PEER, CLIENT = "https://10.0.0.1:2380", "https://10.0.0.1:2379"
MEMBERS = ((0x8E9E05C52164694D, "etcd-a", ["https://10.0.0.1:2380"]),
           (0x91BC3C398FB3C146, "etcd-b", ["https://10.0.0.2:2380", "https://etcd-b:2380"]),
           (0x0FD422379FDA50E4, "", ["https://10.0.0.3:2380"]))
VERSIONS = ((3, 3, 27), (3, 4, 31), (3, 4, 32), (3, 5, 13), (3, 5, 14), (3, 6, 0), (3, 6, 5), (4, 0, 0))
# Servers that count an unfinished compaction in the restored revision (etcd PR #17815 and its backports).
COUNTING = {(3, 4, 32), (3, 5, 14), (3, 6, 0), (3, 6, 5), (4, 0, 0)}


# --- helpers --------------------------------------------------------------------------------------------------

def write_db(tmp_path, tree, name="member.db", writer=None, **write_options):
    """Write `tree` (a root Bucket) with `writer` and return the Layout; its .path is the file."""
    return (writer or BoltWriter()).write(str(tmp_path / name), tree, **write_options)


def facts_of(tmp_path, state, writer=None, **write_options):
    layout = write_db(tmp_path, state.tree(), writer=writer, **write_options)
    return read_facts(layout.path, count_keys=True)


def new_cluster():
    """A one-member cluster that has not written a key yet."""
    state = EtcdState()
    state.set_raft(consistent_index=4, term=2)
    state.add_member(MEMBERS[0][0], MEMBERS[0][1], [PEER], [CLIENT])
    return state


def trailing_delete(finished=True):
    """Keys a (rev 2) and b (rev 3), b deleted (rev 4), compacted at 4: the newest revisions left no entry."""
    state = new_cluster()
    state.put(b"a", b"1")
    state.put(b"b", b"2")
    state.delete(b"b")
    state.compact(4, finished=finished)
    return state


def busy_cluster(puts, distinct, seed=7):
    """`puts` puts over `distinct` keys with some deletes, re-puts and multi-change txns in between."""
    chance = random.Random(seed)
    state = new_cluster()
    for number in range(puts):
        key = b"/registry/pods/ns-%d/pod-%05d" % (number % 5, chance.randrange(distinct))
        state.put(key, b"v" * chance.randrange(80))
        if number % 13 == 0:
            state.delete(key)
        if number % 101 == 0:
            state.txn(("put", key, b"again"), ("delete", b"/nothing"), ("put", key + b"/x", b"y"))
    return state


def member_list(*members):
    return [dict(id="%x" % member_id, name=name or None, peer_urls=peer_urls)
            for member_id, name, peer_urls in sorted(members, key=lambda member: "%x" % member[0])]


def expected_facts(state, **overrides):
    """What read_facts must say of `state`, from the writer's model of etcd (not from the reader)."""
    last = max((int.from_bytes(key[:8], "big") for key in state.keys), default=0)
    compact = state.meta.get(b"finishedCompactRev")
    scheduled = state.meta.get(b"scheduledCompactRev")
    facts = dict(last_key_revision=last,
                 compact_revision=int.from_bytes(compact[:8], "big") if compact else None,
                 scheduled_compact_revision=int.from_bytes(scheduled[:8], "big") if scheduled else None,
                 consistent_index=4, term=2, members=member_list(MEMBERS[0][:2] + ([PEER],)),
                 lease_count=len(state.leases), key_count=len(state.live),
                 kubernetes_key_count=sum(1 for key in state.live if key.startswith(b"/registry/")),
                 revision=state.revision)
    facts.update(overrides)
    return facts


@contextlib.contextmanager
def deadline(seconds):
    """Turn a hang into a failure: raise TimeoutError in the code under test after `seconds`."""
    def expire(signum, frame):
        raise TimeoutError("no answer after %s s: the reader loops" % seconds)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_error(path, count_keys=True):
    with deadline(3), pytest.raises(EtcdDbError) as caught:
        read_facts(path, count_keys)
    assert str(caught.value) == caught.value.msg
    return caught.value.msg


# --- what a database stands for -------------------------------------------------------------------------------

def test_a_new_cluster_is_at_revision_1(tmp_path):
    facts = facts_of(tmp_path, new_cluster())
    assert facts == dict(last_key_revision=0, compact_revision=None, scheduled_compact_revision=None,
                         consistent_index=4, term=2, members=member_list(MEMBERS[0][:2] + ([PEER],)),
                         lease_count=0, key_count=0, kubernetes_key_count=0, revision=1)
    assert restored_revision(facts) == (1, 1)


def test_keys_are_counted_only_when_asked(tmp_path):
    state = new_cluster()
    state.put(b"a")
    layout = write_db(tmp_path, state.tree())
    assert read_facts(layout.path)["key_count"] is None
    assert read_facts(layout.path)["kubernetes_key_count"] is None
    assert read_facts(layout.path, count_keys=True)["key_count"] == 1


def test_keys_under_registry_are_counted_live_only_and_by_prefix_not_by_name(tmp_path):
    """A Kubernetes cluster's database holds its objects under /registry/; a deleted one does not count, nor a key
    that only looks alike (no slash after registry, or registry further in), nor a key longer than the first read."""
    state = new_cluster()
    state.put(b"/registry/pods/default/web", b"pod")
    state.put(b"/registry/" + b"n" * (VALUE_HEAD * 2), b"long")
    state.put(b"/registry/secrets/default/gone", b"secret")
    state.delete(b"/registry/secrets/default/gone")
    state.put(b"/registryx/a", b"1")
    state.put(b"/calico/registry/b", b"2")
    state.put(b"registry/c", b"3")
    facts = facts_of(tmp_path, state)
    assert (facts["key_count"], facts["kubernetes_key_count"]) == (5, 2)
    assert facts == expected_facts(state)

    plain = new_cluster()
    plain.put(b"/registryx/a", b"1")
    plain.put(b"/registry/gone", b"2")
    plain.delete(b"/registry/gone")
    assert facts_of(tmp_path, plain)["kubernetes_key_count"] == 0


def test_many_revisions_of_few_keys(tmp_path):
    state = new_cluster()
    for number in range(300):
        state.put(b"key-%d" % (number % 7), b"value %d" % number)
    assert facts_of(tmp_path, state) == expected_facts(state, last_key_revision=301, revision=301, key_count=7)


def test_deleted_keys_are_not_counted_and_a_key_put_again_is(tmp_path):
    state = new_cluster()
    for key in (b"a", b"b", b"c", b"d"):
        state.put(key, b"1")
    state.delete(b"b")
    state.delete(b"a")
    state.put(b"a", b"again")
    state.txn(("put", b"e", b"1"), ("delete", b"c"), ("put", b"f", b"1"))
    assert sorted(state.live) == [b"a", b"d", b"e", b"f"]
    assert facts_of(tmp_path, state) == expected_facts(state, key_count=4, revision=9, last_key_revision=9)


def test_a_tombstone_is_the_newest_revision(tmp_path):
    state = new_cluster()
    state.put(b"a")
    state.put(b"b")
    state.delete(b"b")
    assert facts_of(tmp_path, state) == expected_facts(state, last_key_revision=4, revision=4, key_count=1)


def test_a_compacted_trailing_delete_leaves_the_compaction_as_revision(tmp_path):
    facts = facts_of(tmp_path, trailing_delete())
    assert facts == expected_facts(trailing_delete(), last_key_revision=2, compact_revision=4,
                                   scheduled_compact_revision=4, revision=4, key_count=1)
    for version in VERSIONS + (None,):
        assert restored_revision(facts, server_version=version) == (4, 4), version


@pytest.mark.parametrize("version", VERSIONS + (None,))
def test_an_unfinished_compaction_counts_on_newer_servers(tmp_path, version):
    facts = facts_of(tmp_path, trailing_delete(finished=False))
    assert facts == expected_facts(trailing_delete(False), last_key_revision=2, compact_revision=None,
                                   scheduled_compact_revision=4, revision=4, key_count=1)
    expected = (2, 4) if version is None else (4, 4) if version in COUNTING else (2, 2)
    assert restored_revision(facts, server_version=version) == expected


@pytest.mark.parametrize("version", VERSIONS + (None,))
def test_a_finished_compaction_is_the_floor_under_an_unfinished_one(tmp_path, version):
    state = trailing_delete()
    state.put(b"x")
    state.delete(b"x")
    state.compact(6, finished=False)
    facts = facts_of(tmp_path, state)
    assert facts == expected_facts(state, last_key_revision=2, compact_revision=4, scheduled_compact_revision=6,
                                   revision=6, key_count=1)
    expected = (4, 6) if version is None else (6, 6) if version in COUNTING else (4, 4)
    assert restored_revision(facts, server_version=version) == expected


def test_a_compaction_keeps_the_newest_revision_of_each_live_key(tmp_path):
    state = new_cluster()
    for number in range(40):
        state.put(b"k%d" % (number % 4), b"%d" % number)
    state.delete(b"k3")
    state.compact(30)
    facts = facts_of(tmp_path, state)
    assert facts == expected_facts(state, compact_revision=30, scheduled_compact_revision=30, key_count=3,
                                   last_key_revision=42, revision=42)


# --- etcdutl snapshot restore --bump-revision -----------------------------------------------------------------

def lots_of_puts():
    state = new_cluster()
    for number in range(10):
        state.put(b"k%d" % number)
    return state


@pytest.mark.parametrize("make_state, bump, expected", [
    (lots_of_puts, 1000, 1011),
    # The bump starts from the key bucket's newest revision (2), not from the compaction above it (4) ...
    (trailing_delete, 10, 12),
    # ... and the compaction still counts when it is above the bumped revision.
    (trailing_delete, 1, 4),
    # An empty key bucket starts from 0, not from the new cluster's revision 1.
    (new_cluster, 5, 5),
])
def test_a_bumped_restore_adds_to_the_key_bucket_newest_revision(tmp_path, make_state, bump, expected):
    state = make_state()
    facts = facts_of(tmp_path, state, name="before.db")
    for version in VERSIONS + (None,):
        assert restored_revision(facts, bump, version) == (expected, expected), version
    assert state.bump(bump) == facts["last_key_revision"] + bump
    bumped = facts_of(tmp_path, state, name="bumped.db")
    assert bumped["revision"] == expected
    assert bumped["last_key_revision"] == facts["last_key_revision"] + bump
    assert bumped["scheduled_compact_revision"] == facts["last_key_revision"] + bump
    for version in VERSIONS + (None,):
        assert restored_revision(bumped, server_version=version) == (expected, expected), version


def test_the_bump_marker_is_not_a_key(tmp_path):
    state = lots_of_puts()
    state.bump(50)
    facts = facts_of(tmp_path, state)
    assert state.keys[revision_bytes(61)] == b""
    assert facts["key_count"] == 10 and facts["last_key_revision"] == 61 and facts["revision"] == 61


# --- the shapes of bbolt files --------------------------------------------------------------------------------

# levels: branch levels above the key bucket's leaves (bbolt's own split rule makes the first and the fourth).
@pytest.mark.parametrize("writer, puts, levels", [
    (BoltWriter(), 6000, 2),
    (BoltWriter(fan_out=3), 2500, 7),
    (BoltWriter(fan_out=4, top_down=True), 2500, 5),
    (BoltWriter(page_size=16384), 12000, 1),
    (BoltWriter(page_size=16384, fan_out=5, byte_order=">"), 2500, 4),
], ids=["bbolt-split", "fan-out-3", "top-down", "16k", "16k-big-endian"])
def test_a_deep_tree(tmp_path, writer, puts, levels):
    state = busy_cluster(puts, distinct=900)
    state.compact(state.revision // 2)
    layout = write_db(tmp_path, state.tree(fan_out=2), writer=writer)
    assert max(record.level for record in layout.pages_of(b"key", "branch")) == levels
    facts = read_facts(layout.path, count_keys=True)
    assert facts == expected_facts(state, last_key_revision=state.revision)
    assert len(state.live) > 500


@pytest.mark.parametrize("writer", [BoltWriter(fan_out=3), BoltWriter(top_down=True), BoltWriter(page_size=16384)],
                         ids=["fan-out-3", "top-down", "16k"])
def test_every_entry_is_found_by_descent_and_by_walk(tmp_path, writer):
    state = busy_cluster(1500, distinct=400)
    layout = write_db(tmp_path, state.tree(), writer=writer)
    entries = sorted(state.keys.items())
    with EtcdDb(layout.path) as db:
        keys = db.bucket(b"key")
        assert list(db.items(keys)) == entries
        assert list(db.items(keys, reverse=True)) == entries[::-1]
        for revision_key, value in entries:
            assert db.get(keys, revision_key) == value
        for missing in (b"\x00", revision_bytes(0), revision_bytes(state.revision + 1), entries[5][0] + b"\x00"):
            assert db.get(keys, missing) is None


@pytest.mark.parametrize("page_size", [4096, 16384])
def test_values_on_overflow_pages(tmp_path, page_size):
    state = new_cluster()
    state.put(b"first", b"1")
    big = bytes(range(256)) * (3 * page_size // 256 + 1)
    state.put(b"big-in-the-middle", big)
    for number in range(50):
        state.put(b"k%d" % number, b"v")
    state.put(b"big-at-the-end", big + b"!")
    layout = write_db(tmp_path, state.tree(), writer=BoltWriter(page_size=page_size, fan_out=8))
    assert [record.pages for record in layout.pages_of(b"key", "leaf") if record.pages > 1] == [4, 4]
    assert read_facts(layout.path, count_keys=True) == expected_facts(state, key_count=53)
    with EtcdDb(layout.path) as db:
        assert db.get(db.bucket(b"key"), revision_bytes(54)) == key_value(b"big-at-the-end", 54, 54, 1, big + b"!")


@pytest.mark.parametrize("writer", [BoltWriter(fan_out=3), BoltWriter(page_size=16384)], ids=["fan-out-3", "16k"])
def test_keys_longer_than_the_value_head(tmp_path, writer):
    state = new_cluster()
    lengths = (VALUE_HEAD - 20, VALUE_HEAD - 3, VALUE_HEAD + 1, 300, 5000, 70000)
    for length in lengths:
        state.put(b"k" * length, b"first")
        state.put(b"/short/%d" % length, b"x")
    for length in lengths:
        state.put(b"k" * length, b"second")
    state.delete(b"k" * 300)
    state.delete(b"k" * 70000)
    state.put(b"k" * 70000, b"back")
    layout = write_db(tmp_path, state.tree(), writer=writer)
    assert any(record.pages > 1 for record in layout.pages_of(b"key", "leaf"))
    assert read_facts(layout.path, count_keys=True) == expected_facts(state, key_count=11)


def test_long_keys_that_differ_only_past_the_value_head_are_different_keys(tmp_path):
    state = new_cluster()
    for ending in (b"a", b"b", b"c"):
        state.put(b"/registry/" + b"k" * 400 + ending, b"v")
    state.delete(b"/registry/" + b"k" * 400 + b"b")
    layout = write_db(tmp_path, state.tree(), writer=BoltWriter(fan_out=2))
    assert read_facts(layout.path, count_keys=True) == expected_facts(state, key_count=2)


def test_members_and_leases(tmp_path):
    state = new_cluster()
    state.members.clear()
    for member_id, name, peer_urls in MEMBERS:
        state.add_member(member_id, name, peer_urls, [CLIENT] if name else [])
    state.grant_lease(0x694D7A0B1C2D3E4F, 60)
    state.grant_lease(0x694D7A0B1C2D3E50, 3600)
    state.put(b"leased", b"v", lease=0x694D7A0B1C2D3E4F)
    facts = facts_of(tmp_path, state)
    assert facts["members"] == member_list(*MEMBERS)
    assert facts["members"][2] == dict(id="fd422379fda50e4", name=None, peer_urls=["https://10.0.0.3:2380"])
    assert facts["lease_count"] == 2 and facts["key_count"] == 1


def test_a_restored_database_without_members_or_leases(tmp_path):
    state = lots_of_puts()
    tree = state.tree()
    del tree.items[b"members"], tree.items[b"lease"]
    facts = read_facts(write_db(tmp_path, tree).path)
    assert facts["members"] == [] and facts["lease_count"] == 0 and facts["revision"] == 11


@pytest.mark.parametrize("inline", [None, False], ids=["inline", "own-pages"])
def test_inline_buckets_and_buckets_on_pages_read_alike(tmp_path, inline):
    state = lots_of_puts()
    state.grant_lease(7, 60)
    layout = write_db(tmp_path, state.tree(inline=inline))
    on_pages = {name for name in (b"key", b"meta", b"lease", b"members") if layout.pages_of(name, "leaf")}
    assert on_pages == (set() if inline is None else {b"key", b"meta", b"lease", b"members"})
    assert read_facts(layout.path, count_keys=True) == expected_facts(state, lease_count=1)


@pytest.mark.parametrize("options", [
    dict(trailer=True), dict(spare_pages=20), dict(txid=2 ** 40, newer_meta=1)], ids=["trailer", "spare", "txid"])
@pytest.mark.parametrize("writer", [BoltWriter(), BoltWriter(freelist=False, byte_order=">")], ids=["le", "be"])
def test_what_surrounds_the_tree_does_not_matter(tmp_path, options, writer):
    state = busy_cluster(300, distinct=50)
    assert facts_of(tmp_path, state, writer=writer, **options) == expected_facts(state)


# --- the two meta pages ---------------------------------------------------------------------------------------

def two_states():
    older, newer = lots_of_puts(), lots_of_puts()
    for number in range(20):
        newer.put(b"n%d" % number)
    return older, newer


@pytest.mark.parametrize("page_size", [4096, 16384])
@pytest.mark.parametrize("newer_meta", [0, 1])
def test_the_valid_meta_with_the_newer_txid_wins(tmp_path, page_size, newer_meta):
    older, newer = two_states()
    writer = BoltWriter(page_size=page_size)
    layout = write_db(tmp_path, newer.tree(), writer=writer, older=older.tree(inline=False), newer_meta=newer_meta)
    assert read_facts(layout.path)["revision"] == newer.revision == 31
    for corrupt, expected in ((newer_meta, older.revision), (1 - newer_meta, newer.revision)):
        layout = write_db(tmp_path, newer.tree(), writer=writer, older=older.tree(inline=False),
                          newer_meta=newer_meta, corrupt_meta=(corrupt,))
        assert read_facts(layout.path)["revision"] == expected, "meta page %d corrupt" % corrupt


@pytest.mark.parametrize("page_size", [4096, 16384])
def test_both_metas_corrupt(tmp_path, page_size):
    layout = write_db(tmp_path, lots_of_puts().tree(), writer=BoltWriter(page_size=page_size), corrupt_meta=(0, 1))
    assert read_error(layout.path) == "%s: both of its meta pages fail their checksum: the file is damaged" % (
        layout.path)


# --- files that are not etcd databases, or damaged ------------------------------------------------------------

def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    assert read_error(str(path)) == "%s is not an etcd database: 0 bytes is too short for one (an empty file)" % path


def test_a_file_too_short_for_a_meta_page(tmp_path):
    path = tmp_path / "short.db"
    path.write_bytes(b"\x00" * 40)
    assert read_error(str(path)) == "%s is not an etcd database: 40 bytes is too short for one (cut short?)" % path


@pytest.mark.parametrize("content", [
    b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" * 20,
    random.Random(3).randbytes(3 * 4096),
], ids=["passwd", "random"])
def test_a_file_that_is_not_a_database(tmp_path, content):
    path = tmp_path / "not.db"
    path.write_bytes(content)
    assert read_error(str(path)) == ("%s: the bbolt magic number is missing: it is not an etcd database (nor a "
                                     "snapshot of one)" % path)


@pytest.mark.parametrize("buckets, missing", [
    ({b"members": {b"1": b"{}"}}, "'key'"),
    ({b"key": {revision_bytes(2): key_value(b"a", 2, 2, 1)}}, "'meta'"),
    ({b"meta": {b"term": b"\x00" * 8}}, "'key'"),
])
def test_a_bolt_file_that_is_not_etcds(tmp_path, buckets, missing):
    tree = Bucket({name: Bucket(items) for name, items in buckets.items()})
    tree.put(b"plain", b"a value, not a bucket")
    layout = write_db(tmp_path, tree)
    assert read_error(layout.path) == "%s is a bbolt database but not etcd's: it has no %s bucket" % (
        layout.path, missing)


def test_a_key_that_is_a_value_not_a_bucket(tmp_path):
    tree = lots_of_puts().tree()
    tree.put(b"key", b"not a bucket")
    layout = write_db(tmp_path, tree)
    assert "it has no 'key' bucket" in read_error(layout.path)


def deep_file(tmp_path, **write_options):
    """A busy cluster whose key, meta and root buckets are trees of several levels (fan-out 3 or 2)."""
    state = busy_cluster(800, distinct=300)
    layout = write_db(tmp_path, state.tree(fan_out=2), writer=BoltWriter(fan_out=3), **write_options)
    return state, layout


@pytest.mark.parametrize("count_keys", [False, True])
@pytest.mark.parametrize("cut", ["half", "half+7", "into the element headers of the last page"])
def test_a_cut_file_is_truncated(tmp_path, cut, count_keys):
    state, layout = deep_file(tmp_path)
    pages = layout.db_size // layout.page_size
    keep = {"half": pages // 2 * layout.page_size, "half+7": pages // 2 * layout.page_size + 7,
            "into the element headers of the last page": (pages - 1) * layout.page_size + 40}[cut]
    with open(layout.path, "r+b") as handle:
        handle.truncate(keep)
    message = read_error(layout.path, count_keys)
    assert message.startswith(layout.path + " is truncated"), message
    assert len(state.live) > 100


def test_a_cut_file_names_the_missing_page(tmp_path):
    state, layout = deep_file(tmp_path)
    keep = 10 * layout.page_size
    with open(layout.path, "r+b") as handle:
        handle.truncate(keep)
    root = layout.root_of(()).pgid
    assert root > 10
    assert read_error(layout.path) == (
        "%s is truncated or damaged: page %d (at byte %d) lies outside the database (%d pages, %d bytes on disk)"
        % (layout.path, root, root * layout.page_size, layout.high_water, keep))
    assert state.revision > 800


def test_a_cut_inside_the_overflow_of_the_last_page(tmp_path):
    state = new_cluster()
    state.put(b"L" * 20000, b"v")
    for number in range(30):
        state.put(b"k%d" % number)
    layout = write_db(tmp_path, state.tree(inline=False), writer=BoltWriter(top_down=True, fan_out=4))
    first_leaf = layout.pages_of(b"key", "leaf")[-1]
    assert first_leaf.pages == 5 and first_leaf.pgid + first_leaf.pages == layout.high_water
    with open(layout.path, "r+b") as handle:
        handle.truncate(layout.page_offset(first_leaf.pgid + 1))
    message = read_error(layout.path)
    assert message.startswith(layout.path + " is truncated"), message


def test_a_key_value_whose_key_runs_past_its_end(tmp_path):
    state = lots_of_puts()
    state.keys[revision_bytes(5)] = b"\x0a\x90\x4e" + b"x" * 300
    layout = write_db(tmp_path, state.tree())
    assert read_facts(layout.path)["revision"] == 11
    assert read_error(layout.path).startswith(layout.path + " is damaged")


@pytest.mark.parametrize("value", [b"\x10\x05\x18\x05", b"\x0a\xff", b"\x2a\x01x"],
                         ids=["revisions-only", "cut-varint", "value-only"])
def test_a_key_bucket_entry_without_a_key(tmp_path, value):
    state = lots_of_puts()
    state.keys[revision_bytes(5)] = value
    layout = write_db(tmp_path, state.tree())
    assert read_error(layout.path) == "%s is damaged: the key bucket entry at revision 5 holds no key" % layout.path


@pytest.mark.parametrize("bucket", [b"key", ()], ids=["key-bucket", "root-bucket"])
def test_a_page_that_says_it_is_another(tmp_path, bucket):
    dummy, layout = deep_file(tmp_path)
    leaf = layout.pages_of(bucket, "leaf")[len(layout.pages_of(bucket, "leaf")) // 2]
    patch(layout.path, layout.page_offset(leaf.pgid), struct.pack("<Q", leaf.pgid + 1000))
    assert read_error(layout.path) == "%s is damaged: page %d holds page %d" % (
        layout.path, leaf.pgid, leaf.pgid + 1000)


def test_a_page_beyond_the_high_water_mark(tmp_path):
    dummy, layout = deep_file(tmp_path, spare_pages=8)
    branch = layout.root_of(b"key")
    patch(layout.path, layout.branch_child_offset(branch.pgid, len(branch.children) - 1),
          struct.pack("<Q", layout.high_water + 2))
    beyond = layout.high_water + 2
    assert read_error(layout.path) == (
        "%s is truncated or damaged: page %d (at byte %d) lies outside the database (%d pages, %d bytes on disk)"
        % (layout.path, beyond, beyond * layout.page_size, layout.high_water, layout.db_size))


def test_a_page_of_the_wrong_kind(tmp_path):
    dummy, layout = deep_file(tmp_path)
    leaf = layout.pages_of(b"key", "leaf")[-1]
    patch(layout.path, layout.page_offset(leaf.pgid) + 8, struct.pack("<H", 0x10))
    assert read_error(layout.path) == "%s is damaged: page %d holds flags 0x10" % (layout.path, leaf.pgid)


# Without count_keys the reader walks the key bucket backwards only to its last entry: a loop elsewhere is not seen.
@pytest.mark.parametrize("which, count_keys", [("first", True), ("last", True), ("last", False)])
def test_a_loop_in_the_key_bucket_tree_is_reported(tmp_path, which, count_keys):
    dummy, layout = deep_file(tmp_path)
    root = layout.root_of(b"key")
    above_leaves = [record for record in layout.pages_of(b"key", "branch") if record.level == 1]
    branch = above_leaves[0] if which == "first" else above_leaves[-1]
    index = 0 if which == "first" else len(branch.children) - 1
    patch(layout.path, layout.branch_child_offset(branch.pgid, index), struct.pack("<Q", root.pgid))
    assert read_error(layout.path, count_keys) == (
        "%s is damaged: its page tree is deeper than %d levels (a loop?)" % (layout.path, MAX_DEPTH))


@pytest.mark.parametrize("bucket, looking_for", [((), b"key"), (b"meta", b"finishedCompactRev")],
                         ids=["root-bucket", "meta-bucket"])
def test_a_loop_on_the_way_to_one_key_is_reported(tmp_path, bucket, looking_for):
    state = busy_cluster(300, distinct=100)
    state.compact(state.revision // 2)
    layout = write_db(tmp_path, state.tree(fan_out=2), writer=BoltWriter(fan_out=2))
    root = layout.root_of(bucket)
    towards = max([0] + [index for index, child in enumerate(root.children)
                         if layout.pages[child].first_key <= looking_for])
    patch(layout.path, layout.branch_child_offset(root.pgid, towards), struct.pack("<Q", root.pgid))
    assert read_error(layout.path) == (
        "%s is damaged: its page tree is deeper than %d levels (a loop?)" % (layout.path, MAX_DEPTH))
