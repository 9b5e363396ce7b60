"""Classifying backup files: trailer, manifest, truncation, and what the database in them holds."""
import hashlib
import json
import os
import time

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._host.run import CommandError
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.check import check_file, find_tool
from ansible_collections.etcdops.dr.tests.unit.bolt_writer import BoltWriter, EtcdState

PAGE = 4096
# The fixtures' database: two meta pages, the freelist (page 2), then the root page with every bucket inline.
DB_PAGES = 4
ROOT_PAGE = 3
MEMBER = dict(id="8e9e05c52164694d", name="etcd-a", peer_urls=["https://10.0.0.1:2380"])
# What the fixtures' database holds (see etcd_state).
FACTS = dict(revision=6, last_key_revision=6, compact_revision=None, scheduled_compact_revision=None,
             consistent_index=12, lease_count=0, members=[MEMBER])
KEY_COUNT = 3


def etcd_state():
    """A one-member cluster that put four keys and deleted one: revision 6, three keys."""
    state = EtcdState()
    state.set_raft(consistent_index=12, term=3)
    state.add_member(0x8E9E05C52164694D, MEMBER["name"], MEMBER["peer_urls"], ["https://10.0.0.1:2379"])
    for key in (b"/registry/a", b"/registry/b", b"/registry/c", b"/registry/d"):
        state.put(key, b"value")
    state.delete(b"/registry/b")
    return state


def write_manifest(path, kind, manifest):
    """A manifest of today's format (2) for the file at `path`, with `manifest`'s fields over it (None: left out)."""
    data = path.read_bytes()
    doc = dict(dict(format=2, kind=kind, size=len(data), sha256=hashlib.sha256(data).hexdigest()), **manifest)
    path.with_name(path.name + ".json").write_text(json.dumps(
        {name: value for name, value in doc.items() if value is not None}))


def snapshot(tmp_path, name="s.db", manifest=None):
    """A snapshot as etcd streams it: the database, then the sha256 of the database."""
    path = tmp_path / name
    BoltWriter(page_size=PAGE).write(str(path), etcd_state().tree(), trailer=True)
    if manifest is not None:
        write_manifest(path, "snapshot", manifest)
    return path


def cold_copy(tmp_path, name="c.db", manifest=None):
    """A member's database file copied while the member was stopped: no trailer, a manifest."""
    path = tmp_path / name
    BoltWriter(page_size=PAGE).write(str(path), etcd_state().tree())
    write_manifest(path, "cold_copy", manifest or {})
    return path


def flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_whole_files_are_ok(tmp_path):
    plain = check_file(str(snapshot(tmp_path)))
    assert plain["status"] == "ok" and plain["verified_by"] == ["trailer"] and plain["has_trailer"]
    assert plain["size"] == DB_PAGES * PAGE + 32
    with_manifest = check_file(str(snapshot(tmp_path, "m.db", manifest={})))
    assert with_manifest["status"] == "ok" and with_manifest["verified_by"] == ["manifest", "trailer"]
    cold = check_file(str(cold_copy(tmp_path)))
    assert cold["status"] == "ok" and cold["verified_by"] == ["manifest"] and cold["kind"] == "cold_copy"
    for report in (plain, with_manifest, cold):
        assert report["problems"] == [] and report["notes"] == []
        assert {name: report[name] for name in FACTS} == FACTS
        assert report["key_count"] is None


def test_keys_are_counted_when_asked(tmp_path):
    for path in (snapshot(tmp_path), cold_copy(tmp_path)):
        report = check_file(str(path), count_keys=True)
        assert report["status"] == "ok" and report["key_count"] == KEY_COUNT and report["revision"] == 6


# The first byte of the file (meta page 0's page id, which no reader checks), a byte of the freelist page (which
# no reader of etcd's facts reads) and a byte of the trailer: only the trailer tells.
@pytest.mark.parametrize("offset", [0, PAGE * 2 + 7, PAGE * DB_PAGES + 5])
def test_a_flipped_byte_is_corrupt(tmp_path, offset):
    path = snapshot(tmp_path)
    flip(path, offset)
    report = check_file(str(path))
    assert report["status"] == "corrupt"
    assert report["problems"] == ["the sha256 trailer does not match the database before it"]


def test_a_flipped_byte_in_a_page_read_is_corrupt_twice(tmp_path):
    path = snapshot(tmp_path)
    flip(path, PAGE * ROOT_PAGE + 5)
    report = check_file(str(path))
    assert report["status"] == "corrupt" and report["revision"] is None
    assert report["problems"] == ["the sha256 trailer does not match the database before it",
                                  "%s is damaged: page %d holds page %d" % (path, ROOT_PAGE, ROOT_PAGE + (1 << 40))]


def test_random_bytes_with_a_matching_trailer_are_not_a_snapshot(tmp_path):
    path = tmp_path / "random.db"
    data = os.urandom(PAGE * 3)
    path.write_bytes(data + hashlib.sha256(data).digest())
    report = check_file(str(path))
    assert report["status"] == "not_a_snapshot" and report["verified_by"] == ["trailer"]
    assert report["problems"] == ["it does not begin with bbolt's magic number: it is not an etcd snapshot or "
                                  "database (another file given by mistake? a compressed or encrypted backup must "
                                  "be unpacked first)"]
    assert report["revision"] is None and report["members"] is None


@pytest.mark.parametrize("make", [snapshot, cold_copy])
def test_a_format_2_manifest_must_agree_with_the_database(tmp_path, make):
    agreeing = check_file(str(make(tmp_path, "ok.db", manifest=dict(format=2, revision=6, key_count=3))),
                          count_keys=True)
    assert agreeing["status"] == "ok" and agreeing["problems"] == [] and agreeing["notes"] == []
    other_revision = check_file(str(make(tmp_path, "rev.db", manifest=dict(format=2, revision=7, key_count=3))),
                                count_keys=True)
    assert other_revision["status"] == "corrupt" and "manifest" in other_revision["verified_by"]
    assert other_revision["problems"] == ["the database holds revision 6 but the manifest says 7"]
    other_count = make(tmp_path, "keys.db", manifest=dict(format=2, revision=6, key_count=4))
    assert check_file(str(other_count), count_keys=True)["problems"] == [
        "the database holds key count 3 but the manifest says 4"]
    uncounted = check_file(str(other_count))
    assert uncounted["status"] == "ok" and uncounted["key_count"] is None


@pytest.mark.parametrize("manifest", [dict(format=1, revision=999), dict(format=None, revision=999, key_count=1)],
                         ids=["format-1", "no-format"])
def test_a_format_1_manifest_gets_a_note_not_a_comparison(tmp_path, manifest):
    report = check_file(str(snapshot(tmp_path, manifest=manifest)), count_keys=True)
    assert report["status"] == "ok" and report["problems"] == []
    assert report["notes"] == ["the manifest is of format 1, whose revision is the member's before the snapshot, "
                               "not the file's: it was not compared"]
    assert report["revision"] == 6 and report["key_count"] == KEY_COUNT


def test_a_cold_copy_with_a_flipped_byte_is_corrupt(tmp_path):
    path = cold_copy(tmp_path)
    flip(path, 100)
    report = check_file(str(path))
    assert report["status"] == "corrupt" and "the manifest says" in report["problems"][0]


@pytest.mark.parametrize("keep", [1000, PAGE * 2, PAGE * 3 + 31])
def test_cut_files_are_truncated(tmp_path, keep):
    for path in (snapshot(tmp_path, manifest={}), cold_copy(tmp_path)):
        if keep >= path.stat().st_size:
            continue
        path.write_bytes(path.read_bytes()[:keep])
        report = check_file(str(path))
        assert report["status"] == "truncated", (path.name, keep, report)


def test_a_cut_snapshot_without_manifest_is_truncated(tmp_path):
    path = snapshot(tmp_path)
    path.write_bytes(path.read_bytes()[:PAGE + 100])
    report = check_file(str(path))
    assert report["status"] == "truncated" and "no sha256 trailer" in report["problems"][0]


def test_a_raw_db_without_manifest_cannot_be_verified(tmp_path):
    BoltWriter(page_size=PAGE).write(str(tmp_path / "raw.db"), etcd_state().tree())
    report = check_file(str(tmp_path / "raw.db"))
    assert report["status"] == "unverified" and report["verified_by"] == []
    assert report["problems"] == ["no sha256 trailer: %d bytes is not whole 512-byte sectors plus the 32-byte "
                                  "trailer" % (DB_PAGES * PAGE)]
    assert report["revision"] == 6


def test_an_unreadable_manifest_is_reported(tmp_path):
    path = snapshot(tmp_path)
    (tmp_path / "s.db.json").write_text("{not json")
    report = check_file(str(path))
    assert report["status"] == "corrupt" and "unreadable" in report["problems"][0]


class FakeModule:
    """Only the seams find_tool uses: PATH lookup and the command runner."""

    def __init__(self, on_path, results=None):
        self.on_path = on_path
        self.results = results or {}
        self.commands = []

    def get_bin_path(self, name):
        return self.on_path.get(name)

    def run_command(self, cmd, check_rc=False, environ_update=None):
        self.commands.append(cmd)
        return self.results.get(cmd[0], (0, "etcdutl version: 3.5.1\n", ""))


def executable(tmp_path, name):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_the_tool_found_must_run(tmp_path):
    etcdutl, etcdctl = executable(tmp_path, "etcdutl"), executable(tmp_path, "etcdctl")
    module = FakeModule({"etcdutl": etcdutl, "etcdctl": etcdctl})
    assert find_tool(module) == ("etcdutl", [etcdutl])
    assert module.commands == [[etcdutl, "version"]]
    assert find_tool(FakeModule({"etcdctl": etcdctl})) == ("etcdctl", [etcdctl])
    assert find_tool(FakeModule({})) == (None, None)


def test_a_given_tool_comes_before_the_ones_on_path(tmp_path):
    on_path, given = executable(tmp_path, "etcdutl"), executable(tmp_path, "my-etcdctl")
    module = FakeModule({"etcdutl": on_path})
    assert find_tool(module, etcdctl=given) == ("etcdctl", [given])
    assert module.commands == [[given, "version"]]


def test_a_broken_tool_fails_loudly_instead_of_marking_files_corrupt(tmp_path):
    etcdutl = executable(tmp_path, "etcdutl")
    broken = FakeModule({"etcdutl": etcdutl}, {etcdutl: (
        1, "", "Traceback (most recent call last):\nImportError: cannot import name 'etcddutl'\n")})
    with pytest.raises(CommandError) as caught:
        find_tool(broken)
    assert caught.value.msg.startswith("etcdutl at %s does not run; give the path of a working etcdutl (option "
                                       "etcdutl), or set read_status=false" % etcdutl)
    assert "ImportError: cannot import name 'etcddutl'" in caught.value.msg


def test_a_given_path_that_is_not_executable_is_named(tmp_path):
    plain = tmp_path / "etcdutl"
    plain.write_text("not a program")
    module = FakeModule({})
    for path in (str(plain), str(tmp_path / "missing")):
        with pytest.raises(CommandError) as caught:
            find_tool(module, etcdutl=path)
        assert caught.value.msg.startswith("etcdutl at %s does not run" % path)
        assert "not an executable file" in caught.value.msg
    assert module.commands == []


def test_a_file_checked_before_is_not_hashed_again_unless_it_changed(tmp_path, monkeypatch):
    from ansible_collections.etcdops.dr.plugins.module_utils._host import files as _files
    from ansible_collections.etcdops.dr.plugins.module_utils._snapshot import check as _snapshot_check
    path = snapshot(tmp_path)
    assert check_file(str(path))["identity"] is None, "a file written this very moment has no identity yet"
    monkeypatch.setattr(_files, "SETTLED_SECONDS", 0)
    first = check_file(str(path))
    assert first["status"] == "ok" and first["identity"]
    checked = (first["identity"], first["sha256"])

    def must_not_hash(path):
        raise AssertionError("hashed again")

    with monkeypatch.context() as patched:
        patched.setattr(_snapshot_check, "_hash_file", must_not_hash)
        again = check_file(str(path), checked=checked)
    assert again["status"] == "ok" and again["verified_by"] == ["checked_file"] and again["sha256"] == first["sha256"]
    assert {name: again[name] for name in FACTS} == FACTS
    # A byte flipped since the check (after a pause longer than a timestamp tick): another identity (size and inode
    # kept, mtime and ctime not), so it is read again.
    time.sleep(0.05)
    flip(path, DB_PAGES * PAGE - 100)
    changed = check_file(str(path), checked=checked)
    assert changed["identity"] != first["identity"] and changed["sha256"] != first["sha256"]
    assert changed["status"] == "corrupt" and changed["verified_by"] == []


@pytest.mark.parametrize("content, status, words", [
    (b"", "empty", "the file is empty (0 bytes)"),
    (b"root:x:0:0:root:/root:/bin/bash\n" * 40, "not_a_snapshot", "not an etcd snapshot or database"),
    (b"\x1f\x8b\x08" + b"\0" * 5000, "not_a_snapshot", "a compressed or encrypted backup must be unpacked first"),
])
def test_an_empty_file_and_a_file_that_is_no_database_are_named_so_not_truncated(tmp_path, content, status, words):
    path = tmp_path / "given.db"
    path.write_bytes(content)
    report = check_file(str(path), count_keys=True)
    assert report["status"] == status and len(report["problems"]) == 1 and words in report["problems"][0]


def test_a_snapshot_cut_short_is_still_truncated(tmp_path):
    path = snapshot(tmp_path)
    path.write_bytes(path.read_bytes()[:PAGE * 2 + 100])
    assert check_file(str(path))["status"] == "truncated"


def test_a_manifest_given_stands_for_the_one_beside_the_file(tmp_path):
    # The restore copies only the snapshot to the hosts and passes the manifest the controller read.
    path = cold_copy(tmp_path)
    manifest_file = path.with_name(path.name + ".json")
    manifest = json.loads(manifest_file.read_text())
    manifest_file.unlink()
    assert check_file(str(path))["status"] == "unverified"
    report = check_file(str(path), manifest=manifest)
    assert report["status"] == "ok" and report["verified_by"] == ["manifest"] and report["manifest"] == manifest
    flip(path, 100)
    report = check_file(str(path), manifest=manifest)
    assert report["status"] == "corrupt" and "the manifest says" in report["problems"][0]
