"""Snapshots encrypted end to end: with recipient keys set, the backup encrypts as it streams and no plaintext copy is
written; keys rotate (old backups stay readable with the old key, and are re-encrypted to the new one in place); each
bad input - no key, a wrong key, a changed chunk, a cut file, an unknown format version - is refused before anything
is stopped. Backup to the stores and restore from them with a key: test_stores.py's first test."""
import json
import os
import shutil

import pytest

from ansible_collections.etcdops.dr.tests.integration.encryption_keys import key_pair, plaintext_files, write_secrets
from ansible_collections.etcdops.dr.tests.integration.test_restore import custom_stats, etcd_pids, restorable
from ansible_collections.etcdops.dr.tests.integration.test_stores import STATS, empty, store

__all__ = ["restorable", "store"]


@pytest.fixture
def no_backups_left(restorable):
    """The tests here leave no backup on the hosts for the tests that run after them on the same bed."""
    yield restorable
    for member in restorable.members:
        empty(member.backup_dir)


def info(ansible, path, key=None):
    args = {"path": str(path), "count_keys": True, **({"decryption_key": key} if key else {})}
    return ansible.module("etcdops.dr.etcd_snapshot_info", args, hosts="localhost", defaults=False).results["localhost"]


def test_keys_rotate_old_backups_stay_readable_and_are_reencrypted_in_place(store, no_backups_left, ansible, tmp_path):
    # Backup to a store and restore from it with a key, with no plaintext anywhere: test_stores.py's first test.
    bed = ansible.bed
    old, new = key_pair(tmp_path, "old"), key_pair(tmp_path, "new")
    controller = tmp_path / "controller"
    write_secrets(bed, "a", 20)
    first = ansible.playbook("etcdops.dr.backup", env=STATS, extra_vars={
        "backup_fetch_dir": str(controller), "backup_encryption_recipients": [old[1]], "backup_stores": [store]})
    assert first.rc == 0, first.output
    write_secrets(bed, "b", 5)
    # Rotation: the new key joins; this backup opens with either.
    second = ansible.playbook("etcdops.dr.backup", env=STATS, extra_vars={
        "backup_fetch_dir": str(controller), "backup_encryption_recipients": [old[1], new[1]]})
    assert second.rc == 0, second.output
    one, two = (custom_stats(run)["etcd_backup"] for run in (first, second))
    for stats, recipients in ((one, [old[2]]), (two, [old[2], new[2]])):
        assert stats["file"].endswith(".db.enc") and stats["encrypted_to"] == recipients, stats
        manifest = json.loads(open(stats["file"] + ".json").read())
        assert manifest["encryption"]["recipients"] == recipients and manifest["sha256"] == stats["sha256"]
        assert manifest["plaintext_sha256"] != manifest["sha256"] and manifest["key_count"] > 0
    assert plaintext_files(controller, *[m.backup_dir for m in bed.members]) == []
    copies = [controller / os.path.basename(stats["file"]) for stats in (one, two)]

    # Without a key: the ciphertext's sha256 and layout; with one: all of it; the first backup is not the new key's.
    blind = info(ansible, controller)
    assert blind["ok"] and all("only its ciphertext's sha256 and layout" in r["notes"][0] for r in blind["snapshots"])
    by_old, by_new = info(ansible, controller, old[0]), info(ansible, controller, new[0])
    assert by_old["ok"] and [r["key_count"] for r in by_old["snapshots"]] == [20, 25], by_old
    assert [r["status"] for r in by_new["snapshots"]] == ["undecryptable", "ok"], by_new
    assert f"encrypted to key ids {old[2]}" in by_new["snapshots"][0]["problems"][0]
    assert old[0] not in by_old["msg"] + str(by_old["snapshots"])

    # The old backup on the store re-encrypted to the new key alone, as docs/encryption.md says: downloaded, then in
    # place: the new key opens it, the old one no longer does, and it is the same snapshot; a re-run changes nothing.
    # Then it goes to a new store URL (a store never replaces a backup under its name), verified there.
    fetched = ansible.module("etcdops.dr.etcd_store_download", {
        "store": store, "name": os.path.basename(one["file"]), "dest_dir": str(tmp_path / "from-store")},
        hosts="localhost", defaults=False).results["localhost"]
    assert fetched["sha256"] == one["sha256"], fetched
    copies[0] = fetched["dest"]
    args = {"path": str(copies[0]), "recipients": [new[1]], "decryption_key": old[0]}
    rotated = ansible.module("etcdops.dr.etcd_snapshot_reencrypt", args, hosts="localhost",
                             defaults=False).results["localhost"]
    assert rotated["changed"] and rotated["recipients"] == [new[2]] and rotated["previous_recipients"] == [old[2]]
    again = ansible.module("etcdops.dr.etcd_snapshot_reencrypt", dict(args, decryption_key=new[0]),
                           hosts="localhost", defaults=False).results["localhost"]
    assert again["changed"] is False, again
    assert [r["status"] for r in info(ansible, copies[0], old[0])["snapshots"]] == ["undecryptable"]
    reread = info(ansible, copies[0], new[0])["snapshots"][0]
    assert reread["status"] == "ok" and reread["plaintext_sha256"] == by_old["snapshots"][0]["plaintext_sha256"]
    assert json.loads(open(str(copies[0]) + ".json").read())["sha256"] == reread["sha256"] == rotated["sha256"]
    rotated_store = dict(store, url=store["url"] + "/rotated")
    (bed.sftp_store_dir / "rotated").mkdir()
    sent = ansible.module("etcdops.dr.etcd_store_upload", {"path": str(copies[0]), "store": rotated_store},
                          hosts="localhost", defaults=False).results["localhost"]
    assert sent["changed"] and sent["sha256"] == rotated["sha256"], sent
    listed = ansible.module("etcdops.dr.etcd_store_list", {"store": rotated_store, "verify": "latest"},
                            hosts="localhost", defaults=False).results["localhost"]
    assert listed["verified"]["sha256"] == rotated["sha256"], listed
    assert listed["backups"][0]["manifest"]["encryption"]["recipients"] == [new[2]], listed
    assert plaintext_files(controller, tmp_path / "from-store", bed.sftp_store_dir) == []


def changed_copy(source, directory, change):
    directory.mkdir()
    path = directory / os.path.basename(source)
    shutil.copy(source, path)
    shutil.copy(str(source) + ".json", str(path) + ".json")
    data = bytearray(path.read_bytes())
    path.write_bytes(change(data))
    return path


def test_each_bad_encrypted_input_is_refused_before_anything_stops(no_backups_left, ansible, tmp_path):
    bed = no_backups_left
    owner, stranger = key_pair(tmp_path, "owner"), key_pair(tmp_path, "stranger")
    write_secrets(bed, "c", 10)
    controller = tmp_path / "controller"
    backup = ansible.playbook("etcdops.dr.backup", env=STATS, extra_vars={
        "backup_fetch_dir": str(controller), "backup_encryption_recipients": [owner[1]]})
    assert backup.rc == 0, backup.output
    good = controller / os.path.basename(custom_stats(backup)["etcd_backup"]["file"])
    size = good.stat().st_size

    def flip(data):
        data[size // 2] ^= 1
        return data

    def version(data):
        data[8] = 9
        return data
    cases = {
        "no key": (good, None, f"it is encrypted (to key ids {owner[2]}) and restore_decryption_key is empty"),
        "a wrong key": (good, stranger[0], f"the decryption key given has id {stranger[2]}"),
        "a changed chunk": (changed_copy(good, tmp_path / "flipped", flip), owner[0],
                            "fails its authentication tag"),
        "a cut file": (changed_copy(good, tmp_path / "cut", lambda data: data[:size - 5000]), owner[0],
                       "is truncated"),
        "an unknown format version": (changed_copy(good, tmp_path / "v9", version), owner[0],
                                      "format version 9; this collection reads version 1: upgrade etcdops.dr"),
    }
    pids = etcd_pids(bed)
    for case, (path, key, words) in cases.items():
        run = ansible.playbook("etcdops.dr.restore", extra_vars={
            "restore_snapshot_from": "controller", "restore_snapshot": str(path),
            "restore_snapshot_dir": "{{ etcd_backup_dir }}/restore",
            **({"restore_decryption_key": key} if key else {})})
        assert run.rc != 0, (case, run.output)
        assert words in run.stdout and str(path) in run.stdout, (case, run.output)
        assert "Nothing was copied to the hosts and nothing was stopped" in run.stdout, (case, run.output)
        if key:
            assert key not in run.output, case
    assert etcd_pids(bed) == pids
    assert not any((m.backup_dir / "restore").exists() for m in bed.members)
