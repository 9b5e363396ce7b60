"""Classifying backup files: trailer, manifest, truncation."""
import hashlib
import json
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._run import CommandError
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot_check import check_file, find_tool

PAGE = 4096


def snapshot(tmp_path, name="s.db", pages=3, manifest=None):
    db = os.urandom(PAGE * pages)
    path = tmp_path / name
    path.write_bytes(db + hashlib.sha256(db).digest())
    if manifest is not None:
        data = path.read_bytes()
        (tmp_path / (name + ".json")).write_text(json.dumps(dict(
            dict(kind="snapshot", size=len(data), sha256=hashlib.sha256(data).hexdigest()), **manifest)))
    return path


def cold_copy(tmp_path, name="c.db", pages=2):
    path = tmp_path / name
    path.write_bytes(os.urandom(PAGE * pages))
    data = path.read_bytes()
    (tmp_path / (name + ".json")).write_text(json.dumps(
        dict(kind="cold_copy", size=len(data), sha256=hashlib.sha256(data).hexdigest())))
    return path


def flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_whole_files_are_ok(tmp_path):
    plain = check_file(str(snapshot(tmp_path)))
    assert plain["status"] == "ok" and plain["verified_by"] == ["trailer"] and plain["has_trailer"]
    with_manifest = check_file(str(snapshot(tmp_path, "m.db", manifest={})))
    assert with_manifest["status"] == "ok" and with_manifest["verified_by"] == ["manifest", "trailer"]
    cold = check_file(str(cold_copy(tmp_path)))
    assert cold["status"] == "ok" and cold["verified_by"] == ["manifest"] and cold["kind"] == "cold_copy"


@pytest.mark.parametrize("offset", [0, PAGE * 2 + 7, PAGE * 3 + 5])
def test_a_flipped_byte_is_corrupt(tmp_path, offset):
    path = snapshot(tmp_path)
    flip(path, offset)
    report = check_file(str(path))
    assert report["status"] == "corrupt"
    assert report["problems"] == ["the sha256 trailer does not match the database before it"]


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
    (tmp_path / "raw.db").write_bytes(os.urandom(PAGE * 2))
    report = check_file(str(tmp_path / "raw.db"))
    assert report["status"] == "unverified" and report["verified_by"] == []


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
