"""What restores leave beside a data dir: the newest kept dirs stay, older ones and failed restores go, the files
given go, the live dir never."""
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import describe_leftovers
from ansible_collections.etcdops.dr.plugins.module_utils._restore.leftovers import (
    ARGUMENT_SPEC, Leftovers, LeftoversError)
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host


def make(tmp_path, *names):
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "db").write_bytes(b"x" * 8192)


def params(tmp_path, **extra):
    return dict(ARGUMENT_SPEC.defaults(), **dict(dict(data_dir=str(tmp_path / "data"), wal_dir=None, keep_previous=1,
                                                      remove_files=[]), **extra))


def test_the_newest_kept_dirs_stay_older_ones_and_failed_restores_go(tmp_path):
    make(tmp_path, "data", "data.pre-restore-20261101T000000Z", "data.pre-restore-20261120T000000Z",
         "data.pre-restore-20261120T000000Z-2", "data.failed-restore-20261125T000000Z", "data-other.pre-restore-1")
    copy = tmp_path / "snapshot.db"
    copy.write_bytes(b"snap")
    leftovers = Leftovers(params(tmp_path, remove_files=[str(copy), str(tmp_path / "gone.db")]), Host())
    leftovers.plan()
    assert leftovers.result["kept"] == [str(tmp_path / "data.pre-restore-20261120T000000Z-2")]
    assert sorted(leftovers.result["removed"]) == sorted(str(tmp_path / name) for name in (
        "data.failed-restore-20261125T000000Z", "data.pre-restore-20261120T000000Z",
        "data.pre-restore-20261101T000000Z", "snapshot.db"))
    assert leftovers.result["freed_bytes"] >= 3 * 8192 and "would remove" in leftovers.would()
    assert all(os.path.exists(path) for path in leftovers.result["removed"]), "plan removes nothing"
    leftovers.apply()
    assert sorted(os.listdir(tmp_path)) == ["data", "data-other.pre-restore-1", "data.pre-restore-20261120T000000Z-2"]
    again = Leftovers(params(tmp_path), Host())
    again.plan()
    assert again.result["changed"] is False and "nothing left over" in again.done()


def test_keep_previous_zero_removes_every_kept_dir_and_never_the_live_one(tmp_path):
    make(tmp_path, "data", "data.pre-restore-20261120T000000Z", "wal", "wal.pre-restore-20261120T000000Z")
    leftovers = Leftovers(params(tmp_path, wal_dir=str(tmp_path / "wal"), keep_previous=0), Host())
    leftovers.plan()
    leftovers.apply()
    assert sorted(os.listdir(tmp_path)) == ["data", "wal"]
    with pytest.raises(LeftoversError, match="is a directory, not a snapshot copy"):
        Leftovers(params(tmp_path, remove_files=[str(tmp_path / "data")]), Host()).plan()
    with pytest.raises(LeftoversError, match="keep_previous is -1"):
        Leftovers(params(tmp_path, keep_previous=-1), Host()).plan()


def test_a_refusal_for_disk_lists_what_earlier_restores_left_with_sizes(tmp_path):
    make(tmp_path, "data", "data.pre-restore-20261120T000000Z")
    (tmp_path / "data.pre-restore-20261120T000000Z" / "big").write_bytes(os.urandom(3 * 1024 * 1024))
    text = describe_leftovers([str(tmp_path / "data")])
    assert "earlier restores left %s (3 MiB)" % (tmp_path / "data.pre-restore-20261120T000000Z") in text
    assert "restore_keep_previous" in text and describe_leftovers([str(tmp_path / "nothing")]) == ""


def test_the_verified_step_is_recorded_first_and_without_it_nothing_is_removed(tmp_path):
    make(tmp_path, "data", "data.pre-restore-20261101T000000Z", "data.pre-restore-20261120T000000Z")
    data_dir = str(tmp_path / "data")
    journal.record(data_dir, "20261120T000000Z", "started")
    leftovers = Leftovers(params(tmp_path, run_id="20261120T000000Z"), Host(check_mode=True))
    leftovers.plan()
    assert journal.read(data_dir)["step"] == "started", "check mode records nothing"
    assert leftovers.result["journal"]["step"] == "verified" and leftovers.result["changed"] is True

    other = Leftovers(params(tmp_path, run_id="20261125T000000Z"), Host())
    with pytest.raises(LeftoversError, match="belongs to run 20261120T000000Z.*nothing was removed"):
        other.plan()
    assert other.result["journal_recorded"] is False and journal.read(data_dir)["step"] == "started"

    leftovers = Leftovers(params(tmp_path, run_id="20261120T000000Z"), Host())
    leftovers.plan()
    assert journal.read(data_dir)["step"] == "started", "plan records nothing"
    leftovers.apply()
    assert journal.read(data_dir)["step"] == "verified" and leftovers.result["journal_recorded"] is True
    assert sorted(os.listdir(tmp_path)) == ["data", "data.etcdops-restore.json", "data.pre-restore-20261120T000000Z"]
