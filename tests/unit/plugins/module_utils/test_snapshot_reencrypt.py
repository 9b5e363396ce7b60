"""Re-encryption in place: the new keys open it and the old do not, the snapshot is the same, a re-run changes
nothing, a run cut off before its manifest is finished, and a file that is not its manifest's is left alone."""
import hashlib
import json
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import CryptoError
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.stream import Sealer, open_file
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.reencrypt import Reencrypt
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.stream import TrailerHash
from ansible_collections.etcdops.dr.tests.unit.crypto_keys import ALICE, BOB, MALLORY
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host, drive

SNAPSHOT = os.urandom(3 * 4096 + 99)
SNAPSHOT += hashlib.sha256(SNAPSHOT).digest()


@pytest.fixture
def backup(tmp_path):
    return encrypted_backup(tmp_path)


def encrypted_backup(tmp_path):
    """A backup encrypted to ALICE, with its manifest."""
    path = str(tmp_path / "etcd-snapshot-20261126T100000Z.db.enc")
    with open(path, "wb") as out:
        sealer = Sealer(out, [envelope.public_key(ALICE[1])], 4096)
        sealer.write(SNAPSHOT)
        sealer.close()
    hashed = TrailerHash()
    hashed.update(SNAPSHOT)
    with open(path + ".json", "w") as out:
        json.dump(dict(sha256=sealer.digest.hexdigest(), size=sealer.size, plaintext_sha256=hashed.file_sha256(),
                       encryption=sealer.describe(), revision=4), out)
    os.chmod(path, 0o600)
    return path


def plaintext(path, pair):
    with open_file(path, envelope.private_key(pair[0])) as opened:
        return b"".join(opened.plaintext())


def reencrypt(params, check_mode):
    """The module's result, as run_module returns it."""
    return drive(Reencrypt(params, Host(check_mode)))


def params(path, *publics, key=ALICE):
    return dict(path=path, recipients=[pair[1] for pair in publics], decryption_key=key[0])


def test_rotation_to_a_new_key_keeps_the_snapshot_and_locks_out_the_old_key(backup):
    before = json.load(open(backup + ".json"))
    checked = reencrypt(params(backup, BOB), check_mode=True)
    assert checked["changed"] and checked["msg"].startswith("would re-encrypt") and plaintext(backup, ALICE)
    done = reencrypt(params(backup, BOB), check_mode=False)
    assert done["changed"] and done["previous_sha256"] == before["sha256"] != done["sha256"]
    assert plaintext(backup, BOB) == SNAPSHOT and oct(os.stat(backup).st_mode & 0o777) == "0o600"
    with pytest.raises(CryptoError, match="wrong|encrypted to key ids"):
        plaintext(backup, ALICE)
    after = json.load(open(backup + ".json"))
    assert after["sha256"] == done["sha256"] and after["plaintext_sha256"] == before["plaintext_sha256"]
    assert after["encryption"]["recipients"] == [envelope.public_key(BOB[1])[0]] and after["revision"] == 4
    assert sorted(os.listdir(os.path.dirname(backup))) == [os.path.basename(backup), os.path.basename(backup) + ".json"]
    again = reencrypt(params(backup, BOB, key=BOB), check_mode=False)
    assert not again["changed"] and "already" in again["msg"]


def test_a_run_cut_off_before_its_manifest_is_finished_by_the_next(backup):
    old_manifest = open(backup + ".json").read()
    reencrypt(params(backup, ALICE, BOB), check_mode=False)
    with open(backup + ".json", "w") as out:
        out.write(old_manifest)
    mended = reencrypt(params(backup, BOB, ALICE, key=BOB), check_mode=False)
    assert mended["changed"] and mended["msg"].startswith("recorded the sha256")
    assert json.load(open(backup + ".json"))["sha256"] == mended["sha256"]
    assert not reencrypt(params(backup, ALICE, BOB), check_mode=False)["changed"]


@pytest.mark.parametrize("case, words", [
    ("wrong key", "the decryption key given has id"),
    ("another snapshot", "not the backup its manifest describes"),
    ("no manifest", "has no manifest"),
])
def test_what_cannot_be_proven_is_left_as_it_was(backup, case, words):
    key = ALICE
    if case == "wrong key":
        key = MALLORY
    elif case == "another snapshot":
        doc = json.load(open(backup + ".json"))
        json.dump(dict(doc, plaintext_sha256="0" * 64), open(backup + ".json", "w"))
    else:
        os.unlink(backup + ".json")
    before = open(backup, "rb").read()
    with pytest.raises(EtcdOpsError, match=words):
        reencrypt(params(backup, BOB, key=key), check_mode=False)
    assert open(backup, "rb").read() == before and len(os.listdir(os.path.dirname(backup))) == (
        1 if case == "no manifest" else 2)
