"""etcd_snapshot over SSH: a snapshot of one member, written on another host, restores to exactly
the keys written before it; check mode writes nothing; failures leave no file."""
import functools
import hashlib
import json
import os
import pwd

from testbed import cluster, scratch

MODULE = "etcdops.dr.etcd_snapshot"


def snapshot_args(dest, **extra):
    return dict({"endpoint": "{{ hostvars.node2.etcd_client_url }}", "dest_dir": str(dest)}, **extra)


def test_snapshot_restores_to_the_keys_written_before_it(live, ansible, tmp_path):
    bed = live
    dest = tmp_path / "node1-backups"
    for number in range(50):
        cluster.etcdctl(bed, "put", f"snap/{number:02d}", f"v{number}")
    expected = scratch.key_values(functools.partial(cluster.etcdctl, bed))
    node2 = {s["Endpoint"]: s["Status"] for s in cluster.endpoint_status(bed)}[bed.member("node2").client_url]

    checked = ansible.module(MODULE, snapshot_args(dest), hosts="node1", check=True).results["node1"]
    assert checked["changed"] is True and checked["sha256"] is None
    assert checked["path"].startswith(f"{dest}/etcd-snapshot-") and checked["member_name"] == "node2"
    assert not dest.exists()

    result = ansible.module(MODULE, snapshot_args(dest), hosts="node1").results["node1"]
    assert result["changed"] is True, result
    cluster.etcdctl(bed, "put", "snap/after", "not in the snapshot")
    path = result["path"]
    data = open(path, "rb").read()
    assert os.path.dirname(path) == str(dest) and sorted(os.listdir(dest)) == sorted(
        [os.path.basename(path), os.path.basename(path) + ".json"])
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert result["size"] == len(data) and result["sha256"] == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(data[:-32]).digest() == data[-32:], "the file keeps the server's sha256 trailer"
    assert result["db_sha256"] == data[-32:].hex()
    manifest = json.loads(open(result["manifest_path"]).read())
    assert manifest == result["manifest"]
    assert manifest["kind"] == "snapshot" and manifest["sha256"] == result["sha256"]
    assert manifest["member_id"] == "%x" % node2["header"]["member_id"] and manifest["member_name"] == "node2"
    assert manifest["cluster_id"] == "%x" % node2["header"]["cluster_id"]
    # Nothing was written between the status above and the snapshot: the file stands for exactly that revision.
    assert manifest["revision"] == result["revision"] == node2["header"]["revision"] == result["revision_before"]
    assert manifest["key_count"] == result["key_count"] == 50 and manifest["format"] == 2
    assert manifest["last_key_revision"] == result["last_key_revision"] == node2["header"]["revision"]
    assert manifest["db_size"] == len(data) - 32
    assert result["throughput_mib_s"] > 0 and result["duration_seconds"] > 0

    # With its trailer the file restores without --skip-hash-check.
    restored = scratch.restore_copy(bed, path, tmp_path / "restored", skip_hash_check=False)
    assert restored.returncode == 0, restored.stderr
    with scratch.scratch_member(bed, tmp_path / "restored") as member:
        assert scratch.key_values(member.etcdctl) == expected

    again = ansible.module(MODULE, snapshot_args(dest), hosts="node1").results["node1"]
    assert again["changed"] is True and again["path"] != path and len(os.listdir(dest)) == 4
    assert result["verified"] is None and again["verified"] is None


def test_verify_reads_the_named_file_back_with_etcds_own_tool(live, ansible, tmp_path):
    dest = tmp_path / "node1-backups"
    for number in range(7):
        cluster.etcdctl(live, "put", f"verify/{number}", "v")
    args = snapshot_args(dest, verify=True, etcdutl="{{ etcd_etcdutl }}")
    result = ansible.module(MODULE, args, hosts="node1").results["node1"]
    assert result["changed"] is True, result
    verified = result["verified"]
    assert verified["path"] == result["path"] and verified["status"] == "ok" and verified["problems"] == []
    assert verified["verified_by"] == ["manifest", "trailer"] and verified["tool"] == "etcdutl"
    assert (verified["sha256"], verified["revision"], verified["key_count"]) == (
        result["sha256"], result["revision"], result["key_count"]) and result["key_count"] >= 7
    assert verified["total_keys"] is not None, "etcdutl snapshot status read the file"


def test_owner_and_group(live, ansible, tmp_path):
    dest = tmp_path / "node1-backups"
    result = ansible.module(MODULE, snapshot_args(dest, owner="nobody", group="nogroup"), hosts="node1")
    snapshot = result.results["node1"]
    assert snapshot["changed"], snapshot
    nobody = pwd.getpwnam("nobody")
    for path in (snapshot["path"], snapshot["manifest_path"]):
        assert os.stat(path).st_uid == nobody.pw_uid
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_an_unreachable_member_leaves_no_file(live, ansible, tmp_path):
    bed = live
    dest = tmp_path / "node1-backups"
    cluster.stop_member(bed, bed.member("node2"))
    result = ansible.module(MODULE, snapshot_args(dest), hosts="node1").results["node1"]
    assert result["failed"] and result["changed"] is False
    assert "etcd endpoint https://127.0.0.12:2379: connection refused" in result["msg"]
    assert not dest.exists()


def test_endpoint_must_name_one_member(live, ansible, tmp_path):
    dest = tmp_path / "node1-backups"
    result = ansible.module(MODULE, {"dest_dir": str(dest)}, hosts="node1").results["node1"]
    assert result["failed"]
    assert "endpoint is not set and endpoints holds 3 URLs: set endpoint" in result["msg"]
    assert not dest.exists()
