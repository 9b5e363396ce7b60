"""Off-host stores: the backup sends its verified snapshot to the bed's SFTP server (an sshd of its own on the backup
address) and to its S3-compatible store (moto's server, signatures checked), retention applies there, and
a destroyed cluster comes back from each store's newest backup. Every fault - unknown or changed host key, refused
login, wrong credentials, missing dir or bucket, no server, no space, an upload cut off, a file altered on the store
- is refused with what to do, and nothing is stopped or lost."""
import hashlib
import os
import shutil
import subprocess
import time

import boto3
import botocore.exceptions
import pytest

from ansible_collections.etcdops.dr.tests.integration.encryption_keys import MARKER, key_pair, plaintext_files, write_secrets
from ansible_collections.etcdops.dr.tests.integration.test_restore import (
    custom_stats, etcd_pids, keys, restorable, write_keys)
from ansible_collections.etcdops.dr.tests.integration.test_restore_faults import crash, wait_for
from ansible_collections.etcdops.dr.tests.integration.test_round_trips import destroy
from testbed import cluster, faults
from testbed.layout import S3_BUCKET

STATS = {"ANSIBLE_SHOW_CUSTOM_STATS": "1"}
__all__ = ["restorable"]


def empty(directory):
    for path in directory.iterdir():
        if path.is_dir() and not path.is_mount():
            shutil.rmtree(path)
        elif not path.is_dir():
            path.unlink()


def s3_client(bed):
    store = bed.s3_store
    return boto3.session.Session().client("s3", endpoint_url=store["endpoint_url"], region_name=store["region"],
                                          aws_access_key_id=store["access_key"],
                                          aws_secret_access_key=store["secret_key"])


def s3_prefix(bed):
    return bed.s3_store["url"].split("/", 3)[3] + "/"


def empty_s3(bed):
    s3 = s3_client(bed)
    for name in s3_stored(bed):
        s3.delete_object(Bucket=S3_BUCKET, Key=s3_prefix(bed) + name)
    for upload in s3.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=s3_prefix(bed)).get("Uploads", []):
        try:
            s3.abort_multipart_upload(Bucket=S3_BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
        except botocore.exceptions.ClientError:
            pass  # moto lists completed uploads too


def s3_stored(bed):
    answer = s3_client(bed).list_objects_v2(Bucket=S3_BUCKET, Prefix=s3_prefix(bed))
    return sorted(item["Key"][len(s3_prefix(bed)):] for item in answer.get("Contents", []))


@pytest.fixture
def store(restorable):
    """The bed's SFTP store, empty, and its S3 store, empty; the bed's hosts without backups."""
    empty(restorable.sftp_store_dir)
    empty_s3(restorable)
    yield restorable.sftp_store
    empty(restorable.sftp_store_dir)
    empty_s3(restorable)
    cluster.ensure_running(restorable)


def stored(bed):
    return sorted(os.listdir(bed.sftp_store_dir))


def sha256_of(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def backup(ansible, stores, check=False, **extra):
    return ansible.playbook("etcdops.dr.backup", check=check, env=STATS,
                            extra_vars=dict({"backup_stores": stores}, **extra))


def restore_from(ansible, store, name="latest", **extra):
    return ansible.playbook("etcdops.dr.restore", env=STATS, extra_vars=dict({
        "restore_snapshot_from": store["url"], "restore_snapshot": name, "restore_store": store,
        "restore_snapshot_dir": "{{ etcd_backup_dir }}/restore"}, **extra))


def host_fingerprint(bed):
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(bed.ssh_dir / "sftp_host_ed25519_key.pub")],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def test_backups_go_to_the_store_verified_with_retention_and_a_destroyed_cluster_comes_back_from_latest(
        store, ansible, tmp_path):
    # Encrypted (docs/encryption.md): the stores hold ciphertext, and the restores need the private key. The demo
    # sends and restores a plain snapshot.
    bed = ansible.bed
    private, public, dummy = key_pair(tmp_path, "backup-key")
    write_secrets(bed, "before", 20)
    s3_store = bed.s3_store
    entries = [dict(store, keep_last=2), dict(s3_store, keep_last=2)]
    encrypted = {"backup_encryption_recipients": [public]}

    checked = backup(ansible, entries, check=True, **encrypted)
    assert checked.rc == 0, checked.output
    assert f"Stores: {store['url']}, {s3_store['url']} (check mode: reached, nothing sent)" in checked.stdout, \
        checked.output
    assert stored(bed) == s3_stored(bed) == []
    assert s3_store["secret_key"] not in checked.output

    taken = []
    for dummy in range(3):
        run = backup(ansible, entries, **encrypted)
        assert run.rc == 0, run.output
        stats = custom_stats(run)["etcd_backup"]
        sftp_summary, s3_summary = stats["stores"]
        assert [sftp_summary["store"], s3_summary["store"]] == [store["url"], s3_store["url"] + "/"], stats
        assert sftp_summary["sha256"] == s3_summary["sha256"] == stats["sha256"], stats
        assert sftp_summary["verified_by"] == "read back from the store and hashed"
        # moto reports no checksum for an object sent in one request: it is read back.
        assert s3_summary["verified_by"] == "read back from the store and hashed (it reports no checksum)"
        taken.append(stats)
    expected = keys(bed)
    names = [os.path.basename(stats["file"]) for stats in taken]
    # keep_last 2 on each store: the oldest went, with its manifest; nothing else is there (no temporary file).
    assert stored(bed) == s3_stored(bed) == sorted(names[1:] + [name + ".json" for name in names[1:]])
    assert sftp_summary["removed"] == s3_summary["removed"] == [names[0]]
    assert s3_client(bed).get_object(Bucket=S3_BUCKET, Key=s3_prefix(bed) + names[2])["Body"].read() == \
        open(taken[2]["file"], "rb").read()
    for name in names[1:]:
        path = bed.sftp_store_dir / name
        manifest = bed.sftp_store_dir / (name + ".json")
        assert oct(path.stat().st_mode & 0o777) == oct(manifest.stat().st_mode & 0o777) == "0o600"
    assert sha256_of(bed.sftp_store_dir / names[2]) == taken[2]["sha256"]

    # A run that died before naming the manifest: the newest backup cannot be verified, so latest is the one before
    # it; sending the backup again only writes the missing manifest; once more changes nothing.
    (bed.sftp_store_dir / (names[2] + ".json")).unlink()
    listed = ansible.module("etcdops.dr.etcd_store_list", {"store": store, "verify": "latest"},
                            hosts="node1").results["node1"]
    assert [b["name"] for b in listed["backups"]] == [names[2], names[1]], listed
    assert listed["backups"][0]["problem"].startswith("no manifest") and listed["verified"]["name"] == names[1]
    assert listed["verified"]["sha256"] == taken[1]["sha256"] and listed["changed"] is False
    source = taken[2]["source_host"]
    mended, again = (ansible.module("etcdops.dr.etcd_store_upload", {"path": taken[2]["file"], "store": store},
                                    hosts=source).results[source] for dummy in range(2))
    assert mended["changed"] is True and "manifest was missing and was written" in mended["verified_by"], mended
    assert again["changed"] is False and "already on the store, with the manifest's sha256" in again["msg"], again
    assert stored(bed) == sorted(names[1:] + [name + ".json" for name in names[1:]])

    # The disaster: more writes, then every member and every host's backups gone. Only the stores have the backup:
    # the cluster comes back from each one's newest, decrypted with the private key.
    downloaded = tmp_path / "restore-controller"
    # From S3 each host downloads it (restore_store_download_on=hosts); from SFTP the controller does, once.
    for source, restore_store, download_on in (("s3", s3_store, "hosts"), ("sftp", store, "controller")):
        write_secrets(bed, "after", 5)
        destroy(bed)
        for member in bed.members:
            empty(member.backup_dir)
        run = restore_from(ansible, restore_store, restore_decryption_key=private,
                           restore_controller_dir=str(downloaded), restore_store_download_on=download_on)
        assert run.rc == 0, (source, run.output)
        if download_on == "hosts":
            assert "Bring the snapshot from the store to every host" in run.stdout
            assert not downloaded.exists(), "nothing came through the controller"
            # The copies each host brought, and their manifests, are removed once the restore is proven.
            assert [p.name for m in bed.members for p in (m.backup_dir / "restore").iterdir()] == []
        restored = custom_stats(run)["etcd_restore"]
        assert restored["sha256"] == taken[2]["sha256"], (source, restored)
        assert keys(bed) == expected, source
        assert s3_store["secret_key"] not in run.output and private not in run.output
        # No plaintext of the cluster's data but in the data dirs: not on the stores, not on the controller, not in
        # the hosts' backup and restore dirs; the staging dirs it was decrypted into are gone.
        assert plaintext_files(bed.sftp_store_dir, downloaded, *[m.backup_dir for m in bed.members]) == []
        assert not any(MARKER.encode() in s3_client(bed).get_object(Bucket=S3_BUCKET, Key=s3_prefix(bed) + name)[
            "Body"].read() for name in s3_stored(bed))
        assert not any(p.name.endswith(".restore-staging") for m in bed.members for p in m.root.iterdir())
        cluster.remove_restore_leftovers(bed)


def test_store_faults_are_refused_before_the_snapshot_with_what_to_do(store, ansible, tmp_path):
    bed = ansible.bed
    unknown = tmp_path / "known_hosts"
    unknown.write_text("")
    other_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    changed = tmp_path / "changed_known_hosts"
    changed.write_text(f"[127.0.0.14]:2022 {' '.join((other_key.with_suffix('.pub')).read_text().split()[:2])}\n")
    fingerprint = host_fingerprint(bed)
    s3_store = bed.s3_store
    # The store's login key, encrypted with a passphrase (as ssh-keygen -p leaves it, OpenSSH format).
    locked_key = tmp_path / "locked_key"
    shutil.copy(store["key_file"], locked_key)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", "Pw-4q9Zt-phrase", "-f", str(locked_key)], check=True)
    cases = {
        "a wrong key passphrase": (dict(store, key_file=str(locked_key), key_passphrase="Pw-4q9Zt-wrong"),
                                   ["key file %s cannot be used" % locked_key, "key_passphrase"]),
        "unknown host key": (dict(store, known_hosts=str(unknown)),
                             ["host key is not known", fingerprint, "accept_new_host_key"]),
        "changed host key": (dict(store, known_hosts=str(changed)), ["host key has CHANGED", fingerprint]),
        "refused login": (dict(store, key_file=str(other_key)), ["refused user root", "authorized_keys"]),
        "missing dir": (dict(store, url=store["url"] + "/missing"), ["create it on the server"]),
        "no server": (dict(store, url=store["url"].replace(":2022", ":2029")), ["cannot connect", "port 2029"]),
        "a password in the URL": (dict(store, url=store["url"].replace("root@", "root:Pw-4q9Zt@")),
                                  ["credentials go in the store's options"]),
        "S3, a wrong secret key": (dict(s3_store, secret_key="Pw-4q9Zt"), ["SignatureDoesNotMatch", "secret_key"]),
        "S3, an unknown access key": (dict(s3_store, access_key="AKIAUNKNOWN000000000", secret_key="Pw-4q9Zt"),
                                      ["InvalidAccessKeyId", "give the right credentials"]),
        "S3, a missing bucket": (dict(s3_store, url="s3://no-such-bucket/cluster-a"),
                                 ["NoSuchBucket", "create the bucket"]),
        "S3, no server": (dict(s3_store, endpoint_url=s3_store["endpoint_url"].replace(":9000", ":9009")),
                          ["cannot connect to http://127.0.0.14:9009"]),
    }
    for case, (entry, words) in cases.items():
        listed = ansible.module("etcdops.dr.etcd_store_list", {"store": entry}, hosts="node1").results["node1"]
        assert listed.get("failed"), (case, listed)
        for word in words:
            assert word in listed["msg"], (case, word, listed["msg"])
        assert "Pw-4q9Zt" not in str(listed), "a password or secret key given is not shown"
    assert unknown.read_text() == ""

    # The backup role reaches the stores before the snapshot: nothing is written anywhere, and a failed store's
    # secret key is not shown.
    refused = backup(ansible, [dict(s3_store, url="s3://no-such-bucket/cluster-a"),
                               dict(store, known_hosts=str(unknown))])
    assert refused.rc != 0 and fingerprint in refused.stdout and "NoSuchBucket" in refused.stdout, refused.output
    assert s3_store["secret_key"] not in refused.output
    assert all(cluster.backup_files(member) == [] for member in bed.members) and stored(bed) == []

    # Trust on first use only when asked by name: the key is added, then checked as any known key.
    trusted = ansible.module("etcdops.dr.etcd_store_list", {"store": dict(store, known_hosts=str(unknown),
                                                                          accept_new_host_key=True)},
                             hosts="node1").results["node1"]
    assert not trusted.get("failed"), trusted
    assert unknown.read_text().split()[:2] == ["[127.0.0.14]:2022", "ssh-ed25519"]

    # A login key with a passphrase, given as docs/stores.md shows it.
    unlocked = ansible.module("etcdops.dr.etcd_store_list", {"store": dict(
        store, key_file=str(locked_key), key_passphrase="Pw-4q9Zt-phrase")}, hosts="node1").results["node1"]
    assert not unlocked.get("failed"), unlocked
    assert "Pw-4q9Zt" not in str(unlocked)


def test_a_full_store_a_cut_upload_and_an_altered_file_leave_nothing_wrong(store, ansible, tmp_path):
    bed = ansible.bed
    write_keys(bed, "kept", 10)
    node1 = bed.member("node1")

    # No space on the server: refused before a byte is sent.
    small = bed.sftp_root / "small"
    with faults.small_filesystem(small, 8 * 1024):
        full = backup(ansible, [dict(store, url=store["url"].replace("/backups", "/small"))])
        assert full.rc != 0 and "make room on the store" in full.stdout, full.output
        assert os.listdir(small) == []

    # An upload cut off part-way (the controller and the module killed): nothing under the final name; the
    # temporary file it left is removed by a later upload once it is old enough.
    big = node1.backup_dir / "etcd-snapshot-20261101T000000Z.db"
    with open(big, "wb") as handle:
        handle.truncate(400 * 1024 * 1024)
    big.with_name(big.name + ".json").write_text('{"sha256": "%s"}' % sha256_of(big))
    log = open(tmp_path / "cut.log", "w")
    run = ansible.start([{"hosts": "node1", "gather_facts": False, "tasks": [
        {"etcdops.dr.etcd_store_upload": {"path": str(big), "store": store}}]}], output=log)

    def partial_size():
        sizes = [p.stat().st_size for p in bed.sftp_store_dir.glob(".*.partial-*")]
        return max(sizes, default=0)
    wait_for(lambda: partial_size() > 20 * 1024 * 1024, "the upload to be under way")
    crash(run, bed)
    left = stored(bed)
    assert len(left) == 1 and left[0].startswith("." + big.name + ".partial-"), left
    # The server writes what it had received until it sees the connection gone: wait for the file to settle.

    def settled():
        before = partial_size()
        time.sleep(0.5)
        return partial_size() == before
    wait_for(settled, "the cut upload's file to stop growing")
    old = time.time() - 2 * 3600
    os.utime(bed.sftp_store_dir / left[0], (old, old))

    # The same on S3: a multipart upload cut off after a few parts is never completed, nothing has the name.
    s3_store = bed.s3_store
    run = ansible.start([{"hosts": "node1", "gather_facts": False, "tasks": [
        {"etcdops.dr.etcd_store_upload": {"path": str(big), "store": s3_store}}]}], output=log)

    def parts_sent():
        uploads = s3_client(bed).list_multipart_uploads(Bucket=S3_BUCKET, Prefix=s3_prefix(bed)).get("Uploads", [])
        return sum(len(s3_client(bed).list_parts(Bucket=S3_BUCKET, Key=u["Key"], UploadId=u["UploadId"])
                       .get("Parts", [])) for u in uploads)
    wait_for(lambda: parts_sent() >= 3, "the S3 upload to be under way")
    crash(run, bed)
    assert s3_stored(bed) == []
    big.unlink()
    big.with_name(big.name + ".json").unlink()
    # This time the controller's verified copy is sent (backup_ship_from: controller).
    run = backup(ansible, [store, s3_store], backup_ship_from="controller", backup_fetch_dir=str(tmp_path / "copies"))
    assert run.rc == 0, run.output
    stats = custom_stats(run)["etcd_backup"]
    name = os.path.basename(stats["file"])
    assert stored(bed) == s3_stored(bed) == [name, name + ".json"]
    assert "[{} -> localhost] => (item={})".format(stats["source_host"], store["url"]) in run.stdout, run.output
    # The next upload aborted the unfinished one (moto dates every upload 2010, so it counts as old).
    assert not s3_client(bed).list_multipart_uploads(Bucket=S3_BUCKET, Prefix=s3_prefix(bed)).get("Uploads"), \
        "the cut upload was aborted"

    # A file altered on the store: the listing's check and the restore refuse it, before anything is stopped.
    with open(bed.sftp_store_dir / name, "r+b") as handle:
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 1]))
    listed = ansible.module("etcdops.dr.etcd_store_list", {"store": store, "verify": "latest"},
                            hosts="node1").results["node1"]
    assert listed.get("failed") and "altered or damaged on the store" in listed["msg"], listed
    pids = etcd_pids(bed)
    refused = restore_from(ansible, store)
    assert refused.rc != 0 and "altered or damaged on the store" in refused.stdout, refused.output
    assert etcd_pids(bed) == pids and len(keys(bed)) == 10
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    controller_dir = os.path.join(cache, "etcdops.dr", "restore")
    assert not os.path.exists(os.path.join(controller_dir, name)), "nothing of the altered file is kept"

    # An object replaced on S3 (its manifest kept): refused the same way.
    altered = bytearray((bed.sftp_store_dir / name).read_bytes())
    s3_client(bed).put_object(Bucket=S3_BUCKET, Key=s3_prefix(bed) + name, Body=bytes(altered))
    listed = ansible.module("etcdops.dr.etcd_store_list", {"store": s3_store, "verify": "latest"},
                            hosts="node1").results["node1"]
    assert listed.get("failed") and "altered or damaged on the store" in listed["msg"], listed
    # Each host downloading it (restore_store_download_on=hosts): every host refuses it, keeps nothing of it.
    refused = restore_from(ansible, s3_store, restore_store_download_on="hosts")
    assert refused.rc != 0 and "altered or damaged on the store" in refused.stdout, refused.output
    assert etcd_pids(bed) == pids and len(keys(bed)) == 10
    assert [p.name for m in bed.members if (m.backup_dir / "restore").is_dir()
            for p in (m.backup_dir / "restore").iterdir()] == [], "nothing of the altered file is kept on the hosts"
