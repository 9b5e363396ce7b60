"""One member's restore, plan then apply, with only the command seam faked: the tool's `version`, `snapshot status`
and `snapshot restore` (which writes the snapshot's database where etcdutl would). Files, dirs, renames and the
database reads are real."""
import json
import os
import shutil

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.stream import Sealer
from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal
from ansible_collections.etcdops.dr.plugins.module_utils._restore import member as _member
from ansible_collections.etcdops.dr.plugins.module_utils._restore.member import (
    ARGUMENT_SPEC, Failed, MemberRestore, Refused)
from ansible_collections.etcdops.dr.tests.unit.bolt_writer import BoltWriter, EtcdState
from ansible_collections.etcdops.dr.tests.unit.crypto_keys import ALICE, BOB, MALLORY

TRAILER = 32


def etcd_state():
    state = EtcdState()
    state.set_raft(consistent_index=12, term=3)
    state.add_member(0x8E9E05C52164694D, "node1", ["https://10.0.0.1:2380"], ["https://10.0.0.1:2379"])
    for key in (b"/registry/a", b"/registry/b", b"/registry/c"):
        state.put(key, b"value")
    return state


class FakeModule:
    """Defaults from ARGUMENT_SPEC; run_command plays etcdutl: version, snapshot status, snapshot restore."""

    def __init__(self, tmp_path, check_mode=False, **params):
        self.params = ARGUMENT_SPEC.defaults()
        self.params.update(params)
        self.check_mode = check_mode
        self.commands = []
        self.etcdutl = tmp_path / "bin" / "etcdutl"
        if not self.etcdutl.exists():
            self.etcdutl.parent.mkdir()
            self.etcdutl.write_text("#!/bin/sh\n")
            self.etcdutl.chmod(0o755)
        self.params["etcdutl"] = str(self.etcdutl)
        self.fail_restore = False

    def run_command(self, cmd, check_rc=False, environ_update=None):
        self.commands.append(cmd[1:3])
        if cmd[1] == "version":
            return 0, "etcdutl version: 3.5.16\nAPI version: 3.5\n", ""
        if cmd[1:3] == ["snapshot", "status"]:
            return 0, json.dumps(dict(hash=1, revision=4, totalKey=4, totalSize=16384)) + "\n", ""
        if cmd[1:3] == ["snapshot", "restore"]:
            if self.fail_restore:
                return 1, "", "Error: snapshot file has wrong sha256"
            data_dir = cmd[cmd.index("--data-dir") + 1]
            os.makedirs(os.path.join(data_dir, "member", "snap"))
            with open(cmd[3], "rb") as src, open(os.path.join(data_dir, "member", "snap", "db"), "wb") as dst:
                dst.write(src.read()[:-TRAILER])
            return 0, "", ""
        raise AssertionError("unexpected command %r" % cmd)


def member_restore(module):
    """The restore with the fake module as its host."""
    return MemberRestore(module.params, module)


@pytest.fixture
def member(tmp_path):
    """A snapshot with trailer, and a data dir with the old data in it."""
    snapshot = tmp_path / "snap.db"
    BoltWriter().write(str(snapshot), etcd_state().tree(), trailer=True)
    data_dir = tmp_path / "etcd" / "data"
    (data_dir / "member").mkdir(parents=True)
    (data_dir / "member" / "old").write_text("old data")
    data_dir.chmod(0o700)
    return dict(snapshot=str(snapshot), data_dir=str(data_dir), name="node1",
                initial_advertise_peer_urls=["https://10.0.0.1:2380"],
                initial_cluster="node1=https://10.0.0.1:2380", initial_cluster_token="t", stamp="20261126T000000Z")


def test_the_plan_checks_and_decides_and_check_mode_changes_nothing(tmp_path, member):
    module = FakeModule(tmp_path, check_mode=True, **member)
    restore = member_restore(module)
    restore.plan()
    result = restore.result
    assert result["changed"] and result["tool"] == "etcdutl" and result["tool_version"] == "3.5.16"
    assert result["cmd"][:4] == [str(module.etcdutl), "snapshot", "restore", member["snapshot"]]
    assert result["expected_revision"] == result["expected_revision_max"] == 4
    assert result["snapshot"]["status"] == "ok" and result["snapshot"]["total_keys"] == 4
    assert result["previous_data_dir"] == member["data_dir"] + ".pre-restore-20261126T000000Z"
    assert ["snapshot", "status"] in module.commands and ["snapshot", "restore"] not in module.commands
    assert os.listdir(os.path.dirname(member["data_dir"])) == ["data"]
    assert restore.would().startswith("would restore %s from %s with etcdutl 3.5.16" % (
        member["data_dir"], member["snapshot"]))


def test_apply_restores_proves_and_swaps_keeping_the_old_dir(tmp_path, member):
    restore = member_restore(FakeModule(tmp_path, **member))
    restore.plan()
    restore.apply()
    result = restore.result
    kept = member["data_dir"] + ".pre-restore-20261126T000000Z"
    assert result["restored_revision"] == 4 and result["previous_data_dir"] == kept
    assert open(os.path.join(kept, "member", "old")).read() == "old data"
    assert os.path.getsize(os.path.join(member["data_dir"], "member", "snap", "db")) == \
        os.path.getsize(member["snapshot"]) - TRAILER
    assert oct(os.stat(member["data_dir"]).st_mode & 0o777) == "0o700"
    assert not os.path.exists(result["staging_dir"])
    assert "restored %s from %s (revision 4)" % (member["data_dir"], member["snapshot"]) in restore.done()


def test_every_reason_to_refuse_is_given_at_once_before_anything_changes(tmp_path, member):
    restore = member_restore(FakeModule(tmp_path, **dict(member, sha256="0" * 64,
                                                         initial_cluster="node2=https://10.0.0.2:2380")))
    with pytest.raises(Refused) as refused:
        restore.plan()
    message = refused.value.msg
    assert message.startswith("refusing to restore %s: " % member["data_dir"]) and message.endswith(
        ". Nothing was changed.")
    assert "expected %s" % ("0" * 64) in message and "member node1 is not in" in message
    assert not restore.result["changed"] and restore.result["cmd"] == []
    assert os.listdir(os.path.join(member["data_dir"], "member")) == ["old"]


def test_a_failed_tool_leaves_the_data_dir_and_removes_the_staging_dir(tmp_path, member):
    module = FakeModule(tmp_path, **member)
    restore = member_restore(module)
    restore.plan()
    module.fail_restore = True
    with pytest.raises(Failed, match="The staging dir was removed; the data dir was not touched"):
        restore.apply()
    assert not restore.result["changed"] and restore.result["previous_data_dir"] is None
    assert sorted(os.listdir(os.path.dirname(member["data_dir"]))) == ["data", "data.etcdops-restore.json"]
    assert journal.read(member["data_dir"])["step"] == "stopped"


def restored_marker(data_dir):
    return os.path.exists(os.path.join(data_dir, "member", "snap", "db"))


def test_the_journal_records_each_step_with_the_kept_dirs_real_name(tmp_path, member):
    restore = member_restore(FakeModule(tmp_path, **member))
    restore.plan()
    restore.apply()
    entry = journal.read(member["data_dir"])
    assert [step["step"] for step in entry["steps"]] == ["stopped", "staged", "swapped"]
    assert entry["kept_data_dir"] == member["data_dir"] + ".pre-restore-20261126T000000Z"
    assert entry["had_data_dir"] and entry["interrupted"] is None and entry["sha256"] == restore.result["sha256"]
    assert oct(os.stat(journal.journal_path(member["data_dir"])).st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("crash_after", ["stopped", "staged", "data renamed aside", "swapped"])
def test_a_run_over_an_interrupted_one_keeps_the_real_pre_restore_data(tmp_path, member, crash_after):
    """An interrupted run (its journal, its dirs as the crash left them) and then a new run with another stamp: the
    pre-restore data ends up as the new run's previous_data_dir, never a restored copy."""
    first = member_restore(FakeModule(tmp_path, **member))
    first.plan()
    first.apply()
    kept = first.result["previous_data_dir"]
    data_dir = member["data_dir"]
    # Wind the first run back to the crash point: the files as they were when it died.
    if crash_after in ("stopped", "staged"):
        shutil.rmtree(data_dir)
        os.rename(kept, data_dir)
        entry = journal.read(data_dir)
        journal.record(data_dir, "OTHER", "planned")   # a different run id, so the real run's entry is rewritten
        os.unlink(journal.journal_path(data_dir))
        journal.record(data_dir, entry["run_id"], "stopped", wal_dir=None)
        if crash_after == "staged":
            journal.record(data_dir, entry["run_id"], "staged", kept_data_dir=kept)
    elif crash_after == "data renamed aside":
        os.rename(data_dir, os.path.join(os.path.dirname(data_dir), "staging-was-here"))
    second = member_restore(FakeModule(tmp_path, **dict(member, stamp="20261126T010000Z")))
    second.plan()
    # Before the rename the data dir still holds the member's own data: this run keeps it under its own stamp.
    expected_kept = (kept if crash_after in ("data renamed aside", "swapped")
                     else member["data_dir"] + ".pre-restore-20261126T010000Z")
    assert second.result["previous_data_dir"] == expected_kept
    second.apply()
    assert open(os.path.join(expected_kept, "member", "old")).read() == "old data"
    assert restored_marker(data_dir)
    entry = journal.read(data_dir)
    assert entry["run_id"] == "20261126T010000Z" and entry["kept_data_dir"] == expected_kept
    assert entry["interrupted"]["run_id"] == "20261126T000000Z"
    failed_copies = [name for name in os.listdir(os.path.dirname(data_dir)) if ".failed-restore-" in name]
    assert failed_copies == (["data.failed-restore-20261126T010000Z"] if crash_after == "swapped" else [])


def test_a_run_after_a_verified_one_keeps_the_restored_data_as_its_previous(tmp_path, member):
    first = member_restore(FakeModule(tmp_path, **member))
    first.plan()
    first.apply()
    journal.record(member["data_dir"], "20261126T000000Z", "verified")
    second = member_restore(FakeModule(tmp_path, **dict(member, stamp="20261126T010000Z")))
    second.plan()
    second.apply()
    assert second.result["previous_data_dir"] == member["data_dir"] + ".pre-restore-20261126T010000Z"
    assert restored_marker(second.result["previous_data_dir"])
    assert journal.read(member["data_dir"])["interrupted"] is None


def test_an_unreadable_journal_refuses_before_anything_changes(tmp_path, member):
    with open(journal.journal_path(member["data_dir"]), "w") as handle:
        handle.write("{not json")
    with pytest.raises(Refused, match="journal .* cannot be read .*move it away"):
        member_restore(FakeModule(tmp_path, **member)).plan()


def test_a_file_the_check_hashed_is_not_hashed_again_unless_the_sha256_differs(tmp_path, member, monkeypatch):
    from ansible_collections.etcdops.dr.plugins.module_utils._host import files
    monkeypatch.setattr(files, "SETTLED_SECONDS", 0)
    check = member_restore(FakeModule(tmp_path, check_mode=True, **member))
    check.plan()
    checked = check.result["checked_file"]
    assert checked["sha256"] == check.result["sha256"] and checked["identity"]
    again = member_restore(FakeModule(tmp_path, check_mode=True, sha256=checked["sha256"], checked_file=checked,
                                      **member))
    again.plan()
    assert again.result["snapshot"]["verified_by"] == ["checked_file"]
    other = member_restore(FakeModule(tmp_path, sha256="1" * 64, checked_file=checked, **member))
    with pytest.raises(Refused, match="checked_file's sha256 .* is not sha256 1111"):
        other.plan()


def test_a_refusal_for_disk_lists_what_earlier_restores_left(tmp_path, member, monkeypatch):
    kept = member["data_dir"] + ".pre-restore-20261101T000000Z"
    os.makedirs(os.path.join(kept, "member"))
    monkeypatch.setattr(_member, "disk_problems", lambda needs: ({}, ["not enough free disk for %s" % list(needs)]))
    with pytest.raises(Refused) as refused:
        member_restore(FakeModule(tmp_path, check_mode=True, **member)).plan()
    assert "not enough free disk" in refused.value.msg
    assert "earlier restores left %s (0 MiB): remove those no longer needed" % kept in refused.value.msg


def encrypted(member, tmp_path, *publics):
    """The member's snapshot encrypted to `publics`, as etcd_snapshot writes it; the plaintext file is removed."""
    path = member["snapshot"] + ".enc"
    with open(path, "wb") as out, open(member["snapshot"], "rb") as source:
        sealer = Sealer(out, [envelope.public_key(pem) for pem in publics], 4096)
        sealer.write(source.read())
        sealer.close()
    os.unlink(member["snapshot"])
    return dict(member, snapshot=path)


def test_an_encrypted_snapshot_is_decrypted_into_staging_for_the_tool_and_the_plaintext_removed(tmp_path, member):
    member = encrypted(member, tmp_path, ALICE[1], BOB[1])
    seen = []
    module = FakeModule(tmp_path, decryption_key=BOB[0], **member)
    tool = module.run_command

    def run_command(cmd, **kwargs):
        if cmd[1:3] == ["snapshot", "restore"]:
            seen.append((cmd[3], oct(os.stat(cmd[3]).st_mode & 0o777)))
        return tool(cmd, **kwargs)
    module.run_command = run_command
    restore = member_restore(module)
    restore.plan()
    assert restore.result["snapshot"]["verified_by"] == ["layout", "chunks", "trailer"]
    restore.apply()
    staging = restore.result["staging_dir"]
    assert seen == [(os.path.join(staging, "snapshot.db"), "0o600")] and restore.result["restored_revision"] == 4
    assert not os.path.exists(staging) and ["snapshot", "status"] not in module.commands


@pytest.mark.parametrize("case", ["no key", "wrong key", "a flipped bit"])
def test_an_encrypted_snapshot_that_does_not_open_is_refused_before_anything_changes(tmp_path, member, case):
    member = encrypted(member, tmp_path, ALICE[1])
    if case == "a flipped bit":
        data = bytearray(open(member["snapshot"], "rb").read())
        data[-100] ^= 1
        open(member["snapshot"], "wb").write(data)
    key = dict(zip(["no key", "wrong key", "a flipped bit"], [None, MALLORY[0], ALICE[0]]))[case]
    restore = member_restore(FakeModule(tmp_path, decryption_key=key, **member))
    with pytest.raises(Refused) as refused:
        restore.plan()
    words = {"no key": "no decryption_key was given", "wrong key": "the decryption key given has id",
             "a flipped bit": "fails its authentication tag"}[case]
    assert words in refused.value.msg and member["snapshot"] in refused.value.msg
    assert os.listdir(os.path.join(member["data_dir"], "member")) == ["old"]
