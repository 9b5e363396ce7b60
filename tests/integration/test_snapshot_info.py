"""etcd_snapshot_info over SSH on real files: a fresh snapshot, a truncated and a flipped copy of it,
and a cold copy; revision and live keys read from the files themselves, etcdutl's own check."""
import json
import shutil

from testbed import cluster, services

MODULE = "etcdops.dr.etcd_snapshot_info"


def test_reports_whole_corrupt_and_truncated_files(live, ansible, tmp_path):
    bed = live
    for number in range(20):
        cluster.etcdctl(bed, "put", f"info/{number:02d}", "x")
    dest = tmp_path / "node1-backups"
    taken = ansible.module("etcdops.dr.etcd_snapshot", {"endpoint": "{{ etcd_client_url }}", "dest_dir": str(dest)},
                           hosts="node1").results["node1"]
    assert taken["changed"], taken
    good = dest / "a-good.db"
    shutil.move(taken["path"], good)
    shutil.move(taken["manifest_path"], str(good) + ".json")
    data = good.read_bytes()
    (dest / "b-flipped.db").write_bytes(data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:])
    (dest / "c-truncated.db").write_bytes(data[: len(data) // 2 + 5])
    etcdutl = str(services.etcd_bin_dir() / "etcdutl")

    run = ansible.module(MODULE, {"path": str(dest), "etcdutl": etcdutl, "count_keys": True}, hosts="node1", check=True)
    info = run.results["node1"]
    assert info["changed"] is False and info["ok"] is False
    reports = {r["path"].rsplit("/", 1)[1]: r for r in info["snapshots"]}
    assert sorted(reports) == ["a-good.db", "b-flipped.db", "c-truncated.db"]
    whole = reports["a-good.db"]
    assert whole["status"] == "ok" and whole["verified_by"] == ["manifest", "trailer"]
    assert whole["tool"] == "etcdutl"
    expected = json.loads(cluster.etcdctl(bed, "get", "info/", "--prefix", "-w", "json").stdout)
    assert whole["revision"] == whole["last_key_revision"] == max(kv["mod_revision"] for kv in expected["kvs"])
    assert whole["key_count"] == 20 and whole["notes"] == []
    assert whole["total_keys"] >= 20 and whole["total_size"] == len(data) - 32
    assert reports["b-flipped.db"]["status"] == "corrupt"
    assert reports["c-truncated.db"]["status"] == "truncated"
    assert info["bad"] == [str(dest / "b-flipped.db"), str(dest / "c-truncated.db")]
    assert "b-flipped.db is corrupt" in info["msg"] and "c-truncated.db is truncated" in info["msg"]

    single = ansible.module(MODULE, {"path": str(good), "etcdutl": etcdutl}, hosts="node1").results["node1"]
    assert single["ok"] is True and single["msg"] == "1 file(s), all whole"


def test_a_cold_copy_is_checked_against_its_manifest(live, ansible, tmp_path):
    """The cold copy of a member's db (made here from a stopped member) is whole by its manifest."""
    bed = live
    node3 = bed.member("node3")
    cluster.stop_member(bed, node3)
    try:
        copied = ansible.module("etcdops.dr.etcd_cold_copy", {"data_dir": "{{ etcd_data_dir }}",
                                                              "dest_dir": str(tmp_path / "cold")},
                                hosts="node3", defaults=False).results["node3"]
    finally:
        cluster.start_member(bed, node3)
    assert copied["changed"], copied
    info = ansible.module(MODULE, {"path": str(tmp_path / "cold"), "read_status": False},
                          hosts="node3").results["node3"]
    assert info["ok"] and info["snapshots"][0]["verified_by"] == ["manifest"]
    assert info["snapshots"][0]["kind"] == "cold_copy" and info["snapshots"][0]["tool"] is None


def test_a_missing_path_fails(live, ansible, tmp_path):
    result = ansible.module(MODULE, {"path": str(tmp_path / "nothing")}, hosts="node1").results["node1"]
    assert result["failed"] and "does not exist: give a snapshot file or a directory" in result["msg"]
