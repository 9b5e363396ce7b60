"""An online snapshot, plan then apply, against a stand-in for the member's connection (status, members, the
snapshot stream, key count); the file, its checks, its manifest and the rename are real."""
import hashlib
import json
import os
import types

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope, stream
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot import take
from ansible_collections.etcdops.dr.tests.unit.bolt_writer import BoltWriter, EtcdState
from ansible_collections.etcdops.dr.tests.unit.crypto_keys import ALICE, BOB
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host

MEMBER_ID = "8e9e05c52164694d"


def snapshot_bytes(tmp_path):
    state = EtcdState()
    state.set_raft(consistent_index=12, term=3)
    state.add_member(int(MEMBER_ID, 16), "node1", ["https://10.0.0.1:2380"], ["https://10.0.0.1:2379"])
    for key in (b"/registry/a", b"/registry/b", b"/registry/c"):
        state.put(key, b"value")
    path = tmp_path / "source.db"
    BoltWriter().write(str(path), state.tree(), trailer=True)
    return path.read_bytes()


class FakeConnection:
    endpoint = "https://10.0.0.1:2379"

    def __init__(self, data, revisions=(4, 4)):
        self.data = data
        self.revisions = list(revisions)
        self.rpc = types.SimpleNamespace(SnapshotRequest=lambda: "snapshot-request")
        self.closed = 0

    def open(self):
        return self

    def status(self):
        return dict(member_id=MEMBER_ID, cluster_id="cdf818194e3a8c32", version="3.5.16", db_size=len(self.data) - 32,
                    revision=self.revisions.pop(0), raft_index=12)

    def members(self):
        return [dict(id=MEMBER_ID, name="node1")]

    def stream(self, stub, method, request, timeout):
        assert (stub, method, request) == ("maintenancestub", "Snapshot", "snapshot-request")
        for start in range(0, len(self.data), 32768):
            yield types.SimpleNamespace(blob=self.data[start:start + 32768])

    def count_keys(self, revision):
        assert revision == 4
        return 3

    def close(self):
        self.closed += 1


def params(tmp_path, **extra):
    values = take.ARGUMENT_SPEC.defaults()
    values.update(dest_dir=str(tmp_path / "backups"), endpoint=FakeConnection.endpoint, **extra)
    return values


def test_plan_names_the_file_and_apply_writes_it_proven_with_its_manifest(tmp_path, monkeypatch):
    connection = FakeConnection(snapshot_bytes(tmp_path))
    monkeypatch.setattr(take, "_member", lambda params: connection)
    snapshot = take.OnlineSnapshot(params(tmp_path), Host())
    snapshot.plan()
    path = snapshot.result["path"]
    assert snapshot.result["changed"] and path.startswith(str(tmp_path / "backups" / "etcd-snapshot-"))
    assert not os.path.exists(path) and snapshot.would().startswith("would snapshot %s (node1" % connection.endpoint)
    snapshot.apply()
    result = snapshot.result
    assert (result["revision"], result["key_count"], result["member_name"]) == (4, 3, "node1")
    assert open(path, "rb").read() == connection.data and oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert json.load(open(path + ".json"))["sha256"] == result["sha256"] and connection.closed == 1
    assert sorted(os.listdir(tmp_path / "backups")) == [os.path.basename(path), os.path.basename(path) + ".json"]
    assert "at revision 4" in snapshot.done()


def test_a_file_outside_the_members_revisions_takes_no_name(tmp_path, monkeypatch):
    # The member says revision 5 before and after, the file stands for 4: not this member's database now.
    connection = FakeConnection(snapshot_bytes(tmp_path), revisions=(5, 5))
    monkeypatch.setattr(take, "_member", lambda params: connection)
    snapshot = take.OnlineSnapshot(params(tmp_path), Host())
    snapshot.plan()
    with pytest.raises(EtcdOpsError, match="stands for revision 4, but the member reported revision 5") as failed:
        snapshot.apply()
    assert os.listdir(tmp_path / "backups") == []
    assert snapshot.failed(failed.value) == failed.value.msg and snapshot.result["changed"] is False
    disk = snapshot.failed(OSError(28, "No space left on device"))
    assert disk == "writing the snapshot into %s failed: [Errno 28] No space left on device; no file took the final " \
                   "name." % (tmp_path / "backups")


class ToolModule:
    """The command seam for verify: etcdutl's version and snapshot status."""

    def __init__(self, tmp_path, **extra):
        etcdutl = tmp_path / "etcdutl"
        etcdutl.write_text("#!/bin/sh\n")
        etcdutl.chmod(0o755)
        self.params = params(tmp_path, verify=True, etcdutl=str(etcdutl), **extra)
        self.check_mode = False
        self.commands = []

    def run_command(self, cmd, check_rc=False, environ_update=None):
        self.commands.append(cmd[1:3])
        if cmd[1] == "version":
            return 0, "etcdutl version: 3.5.16\n", ""
        return 0, json.dumps(dict(hash=1, revision=4, totalKey=4, totalSize=16384)) + "\n", ""


def test_verify_reads_the_file_back_after_the_connection_is_closed(tmp_path, monkeypatch):
    connection = FakeConnection(snapshot_bytes(tmp_path))
    monkeypatch.setattr(take, "_member", lambda params: connection)
    module = ToolModule(tmp_path)
    snapshot = take.OnlineSnapshot(module.params, module)
    snapshot.plan()
    snapshot.apply()
    verified = snapshot.result["verified"]
    assert verified["status"] == "ok" and verified["key_count"] == 3 and verified["tool"] == "etcdutl"
    assert verified["sha256"] == snapshot.result["sha256"] and module.commands == [["version"], ["snapshot", "status"]]


def test_a_read_back_that_differs_fails_and_keeps_the_file(tmp_path, monkeypatch):
    # The member counted 99 live keys; the file holds 3.
    connection = FakeConnection(snapshot_bytes(tmp_path))
    connection.count_keys = lambda revision: 99
    monkeypatch.setattr(take, "_member", lambda params: connection)
    module = ToolModule(tmp_path)
    snapshot = take.OnlineSnapshot(module.params, module)
    snapshot.plan()
    with pytest.raises(EtcdOpsError, match="failed its check when read back from disk: the database holds key count 3 but the manifest says 99"):
        snapshot.apply()
    assert snapshot.written and os.path.exists(snapshot.result["path"])
    assert snapshot.failed(EtcdOpsError("read back")) == "read back" and snapshot.result["changed"] is True


def test_an_encrypted_snapshot_never_writes_plaintext_and_is_proven_through_its_key(tmp_path, monkeypatch):
    connection = FakeConnection(snapshot_bytes(tmp_path))
    monkeypatch.setattr(take, "_member", lambda params: connection)
    module = ToolModule(tmp_path, recipients=[ALICE[1], BOB[1]])
    snapshot = take.OnlineSnapshot(module.params, module)
    snapshot.plan()
    snapshot.apply()
    result, path = snapshot.result, snapshot.result["path"]
    assert path.endswith(".db.enc") and (result["revision"], result["key_count"]) == (4, 3)
    data = open(path, "rb").read()
    assert data.startswith(b"ETCDOPSE") and b"/registry/a" not in data and oct(os.stat(path).st_mode & 0o777) == "0o600"
    manifest = json.load(open(path + ".json"))
    assert manifest["sha256"] == result["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["size"] == len(data) and manifest["plaintext_size"] == len(connection.data)
    assert manifest["plaintext_sha256"] == hashlib.sha256(connection.data).hexdigest()
    assert manifest["encryption"]["recipients"] == [envelope.public_key(ALICE[1])[0], envelope.public_key(BOB[1])[0]]
    # Read back with the key that wrote it: chunks, trailer and database; etcd's tool is not run on ciphertext.
    verified = result["verified"]
    assert verified["status"] == "ok" and verified["key_count"] == 3 and module.commands == [["version"]]
    assert verified["verified_by"] == ["layout", "chunks", "trailer", "manifest"]
    with stream.open_file(path, envelope.private_key(BOB[0])) as opened:
        assert b"".join(opened.plaintext()) == connection.data
    assert "file_key" not in result and all(not isinstance(value, bytes) for value in result.values())


def test_a_private_key_given_as_recipient_is_refused_before_the_member_is_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(take, "_member", lambda params: pytest.fail("asked the member"))
    module = ToolModule(tmp_path, recipients=[ALICE[0]])
    snapshot = take.OnlineSnapshot(module.params, module)
    with pytest.raises(EtcdOpsError, match=r"recipients\[0\] is a PRIVATE key"):
        snapshot.plan()
