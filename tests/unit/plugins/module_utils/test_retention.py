"""Retention: only our backup names count, newest by the name's time, limits combine, the backup just
taken always stays, manifests go with their backups."""
import datetime
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._snapshot import retention as _retention
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.retention import RetentionError
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host

NOW = datetime.datetime(2026, 11, 24, 12, 0, 0, tzinfo=datetime.timezone.utc)
DAY = 86400


def backup(directory, hours_ago, number=None, manifest=True, prefix="etcd-snapshot"):
    stamp = (NOW - datetime.timedelta(hours=hours_ago)).strftime("%Y%m%dT%H%M%SZ")
    path = directory / ("%s-%s%s.db" % (prefix, stamp, "-%d" % number if number else ""))
    path.write_bytes(b"db")
    if manifest:
        (directory / (path.name + ".json")).write_text("{}")
    return str(path)


def names(entries):
    return [os.path.basename(path) for path, dummy in entries]


def test_keep_last_keeps_the_newest_by_name_not_mtime(tmp_path):
    old, middle, new = backup(tmp_path, 30), backup(tmp_path, 20), backup(tmp_path, 10)
    os.utime(old, (NOW.timestamp(), NOW.timestamp()))
    keep, remove = _retention.plan(str(tmp_path), "etcd-snapshot", 2, None, [], NOW)
    assert [p for p, dummy in keep] == [new, middle]
    assert remove == [(old, "not among the 2 newest")]


def test_same_second_backups_rank_by_their_number(tmp_path):
    first, second = backup(tmp_path, 1), backup(tmp_path, 1, number=2)
    keep, remove = _retention.plan(str(tmp_path), "etcd-snapshot", 1, None, [], NOW)
    assert [p for p, dummy in keep] == [second] and [p for p, dummy in remove] == [first]


def test_max_age_and_keep_last_both_hold(tmp_path):
    paths = [backup(tmp_path, hours) for hours in (1, 2, 50, 100)]
    keep, remove = _retention.plan(str(tmp_path), "etcd-snapshot", 3, 2 * DAY, [], NOW)
    assert [p for p, dummy in keep] == paths[:2]
    assert remove == [(paths[2], "older than 2d"), (paths[3], "not among the 3 newest and older than 2d")]


def test_the_protected_backup_stays_and_counts_before_it_exists(tmp_path):
    older = [backup(tmp_path, hours) for hours in (5, 6)]
    planned = str(tmp_path / "etcd-snapshot-20261124T120000Z.db")
    keep, remove = _retention.plan(str(tmp_path), "etcd-snapshot", 2, None, [planned], NOW)
    assert [p for p, dummy in keep] == [planned, older[0]] and [p for p, dummy in remove] == [older[1]]
    # Even when every limit says it should go.
    keep, remove = _retention.plan(str(tmp_path), "etcd-snapshot", 1, 60.0, [older[1]], NOW)
    assert (older[1], "the backup just taken") in keep and [p for p, dummy in remove] == [older[0]]


def test_other_files_are_never_considered(tmp_path):
    mine = backup(tmp_path, 100)
    backup(tmp_path, 100, prefix="etcd-cold")
    for name in ("etcd-snapshot-latest.db", "etcd-snapshot-20261124T120000Z.db.partial", "notes.txt",
                 ".etcd-snapshot-20261101T000000Z.db.abc.partial", "etcd-snapshotx-20261101T000000Z.db"):
        (tmp_path / name).write_text("x")
    (tmp_path / "etcd-snapshot-20261101T000000Z.db").mkdir()
    os.symlink(mine, tmp_path / "etcd-snapshot-20261102T000000Z.db")
    keep, remove = _retention.plan(str(tmp_path), "etcd-snapshot", 0, 3600.0, [], NOW)
    assert keep == [] and [p for p, dummy in remove] == [mine]


def test_no_limit_keeps_everything_and_a_missing_dir_holds_nothing(tmp_path):
    paths = [backup(tmp_path, hours) for hours in (1, 1000)]
    keep, remove = _retention.plan(str(tmp_path), "etcd-snapshot", 0, None, [], NOW)
    assert [p for p, dummy in keep] == paths and remove == []
    assert _retention.plan(str(tmp_path / "missing"), "etcd-snapshot", 1, None, [], NOW) == ([], [])


def test_remove_takes_the_manifest_along(tmp_path):
    with_manifest, without = backup(tmp_path, 1), backup(tmp_path, 2, manifest=False)
    removed = []
    _retention.remove_backups([with_manifest, without], removed)
    assert removed == [with_manifest, without]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("text, seconds", [("36h", 129600), ("7d", 604800), (" 2w ", 1209600), ("90m", 5400),
                                           ("1.5h", 5400), ("", None), (None, None)])
def test_max_age_units(text, seconds):
    assert _retention.parse_max_age(text) == seconds


@pytest.mark.parametrize("text", ["7", "7 days", "-1d", "d"])
def test_bad_max_age_says_how_to_write_one(text):
    with pytest.raises(RetentionError, match="give a number and a unit"):
        _retention.parse_max_age(text)


def test_bad_limits_are_refused(tmp_path):
    with pytest.raises(RetentionError, match="prefix is empty"):
        _retention.plan(str(tmp_path), "", 1, None, [], NOW)
    with pytest.raises(RetentionError, match="keep_last is -1"):
        _retention.plan(str(tmp_path), "etcd-snapshot", -1, None, [], NOW)


def test_a_name_with_an_impossible_date_is_not_a_backup(tmp_path):
    (tmp_path / "etcd-snapshot-20261340T000000Z.db").write_text("x")
    assert _retention.plan(str(tmp_path), "etcd-snapshot", 1, 60.0, [], NOW) == ([], [])


def test_a_failed_removal_reports_what_went(tmp_path, monkeypatch):
    first, second = backup(tmp_path, 1), backup(tmp_path, 2)
    real_unlink = os.unlink

    def unlink(path):
        if path == second:
            raise PermissionError(13, "Permission denied", path)
        real_unlink(path)

    monkeypatch.setattr(os, "unlink", unlink)
    removed = []
    with pytest.raises(PermissionError):
        _retention.remove_backups([first, second], removed)
    assert removed == [first] and os.path.exists(second)


def test_prune_decides_without_removing_then_removes_and_says_how_far_a_failure_got(tmp_path, monkeypatch):
    paths = [backup(tmp_path, hours) for hours in (1, 2, 3)]
    params = dict(path=str(tmp_path), prefix="etcd-snapshot", keep_last=1, max_age="", keep=[])
    prune = _retention.Prune(params, Host())
    prune.plan()
    assert prune.result["changed"] and prune.result["kept"] == [paths[0]]
    assert sorted(prune.result["removed"]) == sorted(paths[1:]) and all(os.path.exists(p) for p in paths)
    assert prune.would() == "would remove 2 backup(s) from %s, kept 1" % tmp_path

    unlink = os.unlink

    def fail_on_second(path):
        if path == sorted(paths[1:])[1]:
            raise OSError(13, "Permission denied")
        unlink(path)
    prune.result["removed"] = sorted(paths[1:])
    monkeypatch.setattr(_retention.os, "unlink", fail_on_second)
    with pytest.raises(RetentionError, match="failed after 1 of 2: .*Permission denied"):
        prune.apply()
    assert prune.result["changed"] is True and len(prune.result["removed"]) == 1


def test_prune_without_a_limit_removes_nothing(tmp_path):
    backup(tmp_path, 1)
    prune = _retention.Prune(dict(path=str(tmp_path), prefix="etcd-snapshot", keep_last=0, max_age="", keep=[]), Host())
    prune.plan()
    assert prune.result["changed"] is False and "no retention limit is set" in prune.done()
