"""The swap keeps the old data dir, and putting it back restores exactly the old layout."""
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import (
    SwapError, disk_problems, kept_name, prepare_staging, put_back, replace_dir, target_ownership)


def swap_in(new, live, stamp):
    return replace_dir(live, kept_name(live, stamp), new)


def test_swap_keeps_the_old_dir_and_put_back_undoes_it(tmp_path):
    live, new = tmp_path / "data", tmp_path / "staging"
    live.mkdir()
    (live / "old").write_text("old")
    new.mkdir()
    (new / "new").write_text("new")
    kept = swap_in(str(new), str(live), "T1")
    assert kept == str(tmp_path / "data.pre-restore-T1")
    assert (live / "new").exists() and (tmp_path / "data.pre-restore-T1" / "old").exists()
    moved = put_back(str(live), kept, "T1")
    assert moved == str(tmp_path / "data.failed-restore-T1")
    assert (live / "old").exists() and (tmp_path / "data.failed-restore-T1" / "new").exists()


def test_a_second_swap_with_the_same_stamp_gets_its_own_name(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data.pre-restore-T1").mkdir()
    (tmp_path / "new").mkdir()
    assert swap_in(str(tmp_path / "new"), str(tmp_path / "data"), "T1") == str(tmp_path / "data.pre-restore-T1-2")


def test_no_old_dir_means_nothing_kept(tmp_path):
    (tmp_path / "new").mkdir()
    assert swap_in(str(tmp_path / "new"), str(tmp_path / "data"), "T") is None
    assert put_back(str(tmp_path / "data"), None, "T") == str(tmp_path / "data.failed-restore-T")
    assert not (tmp_path / "data").exists()


def test_a_live_dir_is_never_replaced_without_a_name_to_move_it_to(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "new").mkdir()
    with pytest.raises(OSError):
        replace_dir(str(tmp_path / "data"), None, str(tmp_path / "new"))
    assert (tmp_path / "data").is_dir() and (tmp_path / "new").is_dir()


def test_ownership_comes_from_the_old_dir_unless_given(tmp_path):
    (tmp_path / "data").mkdir(mode=0o750)
    os.chmod(tmp_path / "data", 0o750)
    stat = os.stat(tmp_path / "data")
    assert target_ownership(str(tmp_path / "data")) == (stat.st_uid, stat.st_gid, 0o750)
    assert target_ownership(str(tmp_path / "missing")) == (0, 0, 0o700)
    assert target_ownership(str(tmp_path / "data"), owner="0", group="0", mode="0700") == (0, 0, 0o700)
    with pytest.raises(SwapError, match="no such user"):
        target_ownership(str(tmp_path / "data"), owner="no-such-user-here")


def test_staging_is_emptied_and_disk_is_added_up_per_filesystem(tmp_path):
    staging = tmp_path / "data.restore-staging"
    staging.mkdir()
    (staging / "leftover").write_text("x")
    prepare_staging(str(staging))
    assert os.listdir(staging) == []
    free, problems = disk_problems({str(tmp_path / "a"): 1, str(tmp_path / "b"): 1})
    assert len(free) == 1 and problems == []
    free, problems = disk_problems({str(tmp_path / "a"): 1 << 62})
    assert "not enough free disk" in problems[0]
