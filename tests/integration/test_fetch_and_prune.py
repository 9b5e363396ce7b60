"""etcd_snapshot_fetch and etcd_snapshot_prune over SSH, each run four ways (check, apply, re-apply,
re-apply in check): the fetched copy is verified, private and never replaces another file; retention
removes exactly the backups it reports."""
import datetime
import hashlib
import os


def take_snapshot(ansible, dest):
    result = ansible.module("etcdops.dr.etcd_snapshot", {"endpoint": "{{ etcd_client_url }}", "dest_dir": str(dest)},
                            hosts="node2").results["node2"]
    assert result["changed"], result
    return result


def fetch(ansible, snapshot, controller, check=False, **extra):
    args = dict({"src": snapshot["path"], "sha256": snapshot["sha256"], "dest_dir": str(controller)}, **extra)
    return ansible.module("etcdops.dr.etcd_snapshot_fetch", args, hosts="node2", check=check).results["node2"]


def test_fetch_four_ways(live, ansible, tmp_path):
    snapshot = take_snapshot(ansible, tmp_path / "host")
    controller = tmp_path / "controller"
    name = os.path.basename(snapshot["path"])

    checked = fetch(ansible, snapshot, controller, check=True)
    assert checked["changed"] is True and checked["dest"] == str(controller / name), checked
    assert not controller.exists()

    fetched = fetch(ansible, snapshot, controller)
    assert fetched["changed"] is True and fetched["manifest_dest"] == str(controller / (name + ".json")), fetched
    assert sorted(os.listdir(controller)) == [name, name + ".json"]
    data = (controller / name).read_bytes()
    assert data == open(snapshot["path"], "rb").read() and hashlib.sha256(data).hexdigest() == snapshot["sha256"]
    assert oct(controller.stat().st_mode & 0o777) == "0o700"
    for path in controller.iterdir():
        assert oct(path.stat().st_mode & 0o777) == "0o600", path

    again = fetch(ansible, snapshot, controller)
    assert again["changed"] is False and "already on the controller" in again["msg"], again
    assert fetch(ansible, snapshot, controller, check=True)["changed"] is False

    # Without sha256, the host's own sha256 is the reference.
    (controller / (name + ".json")).unlink()
    restored = ansible.module("etcdops.dr.etcd_snapshot_fetch", {"src": snapshot["path"], "dest_dir": str(controller)},
                              hosts="node2").results["node2"]
    assert restored["changed"] is True and restored["sha256"] == snapshot["sha256"], restored
    assert sorted(os.listdir(controller)) == [name, name + ".json"]

    # A copy found there already still gets the controller dir's retention: an older backup goes.
    older = backup_named(controller, 100)
    would = fetch(ansible, snapshot, controller, check=True, keep_last=1)
    assert would["changed"] is True and would["retention"]["removed"] == [older], would
    assert os.path.exists(older)
    pruned = fetch(ansible, snapshot, controller, keep_last=1)
    assert pruned["changed"] is True and pruned["retention"]["removed"] == [older], pruned
    assert sorted(os.listdir(controller)) == [name, name + ".json"]
    assert fetch(ansible, snapshot, controller, keep_last=1)["changed"] is False


def test_fetch_refuses_a_wrong_sha256_and_a_different_file(live, ansible, tmp_path):
    snapshot = take_snapshot(ansible, tmp_path / "host")
    controller = tmp_path / "controller"
    name = os.path.basename(snapshot["path"])

    wrong = fetch(ansible, dict(snapshot, sha256="0" * 64), controller)
    assert wrong["failed"] and wrong["changed"] is False
    assert f"the fetched file's sha256 is {snapshot['sha256']}, not {'0' * 64}" in wrong["msg"]
    assert "nothing took the final name" in wrong["msg"]
    assert os.listdir(controller) == [], "no file, no staging dir left"

    (controller / name).write_bytes(b"someone else's file")
    other = fetch(ansible, snapshot, controller)
    assert other["failed"] and "already exists on the controller with sha256" in other["msg"]
    assert "refusing to replace it" in other["msg"]
    assert (controller / name).read_bytes() == b"someone else's file"

    missing = fetch(ansible, dict(snapshot, path=snapshot["path"] + ".gone"), tmp_path / "elsewhere")
    assert missing["failed"] and f"{snapshot['path']}.gone is not a file on the host" in missing["msg"]
    assert not (tmp_path / "elsewhere").exists()


def backup_named(directory, hours_ago):
    stamp = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours_ago)
    path = directory / ("etcd-snapshot-%s.db" % stamp.strftime("%Y%m%dT%H%M%SZ"))
    path.write_bytes(b"db")
    (directory / (path.name + ".json")).write_text("{}")
    return str(path)


def test_prune_four_ways(live, ansible, tmp_path):
    directory = tmp_path / "backups"
    directory.mkdir()
    paths = [backup_named(directory, hours) for hours in (1, 2, 3, 4)]
    protected = backup_named(directory, 100)
    (directory / "unrelated.db").write_text("x")
    args = {"path": str(directory), "prefix": "etcd-snapshot", "keep_last": 2, "keep": [protected]}
    before = sorted(os.listdir(directory))

    def prune(check=False, **extra):
        return ansible.module("etcdops.dr.etcd_snapshot_prune", dict(args, **extra), hosts="node1",
                              check=check).results["node1"]

    checked = prune(check=True)
    assert checked["changed"] is True and checked["removed"] == paths[2:], checked
    assert "would remove 2" in checked["msg"] and sorted(os.listdir(directory)) == before

    applied = prune()
    assert applied["changed"] is True and applied["removed"] == paths[2:]
    assert applied["kept"] == paths[:2] + [protected] and applied["reasons"][protected] == "the backup just taken"
    left = [os.path.basename(p) for p in paths[:2] + [protected]]
    assert sorted(os.listdir(directory)) == sorted(left + [name + ".json" for name in left] + ["unrelated.db"])
    assert prune()["changed"] is False
    assert prune(check=True)["changed"] is False

    bad = prune(max_age="a week")
    assert bad["failed"] and "max_age 'a week' is not an age" in bad["msg"]
