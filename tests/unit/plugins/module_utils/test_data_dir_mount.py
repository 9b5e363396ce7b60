"""A data dir that is a mount point: how one is recognised (the kernel's mount table, bind mounts included), and the
swap of its member dir inside it, on real dirs. The data dir is never renamed; everything the swap makes stays inside
it. The mounted filesystem itself is the integration tests' (tests/integration/test_restore_mount_point.py)."""
import os

from ansible_collections.etcdops.dr.plugins.module_utils._restore import journal
from ansible_collections.etcdops.dr.plugins.module_utils._restore.data_dir_swap import (
    describe_leftovers, disk_problems, is_mount_point, kept_name, leftover_dirs, mount_points, put_back, replace_dir,
    staging_dir, swap_path)


def mountinfo(tmp_path, *points):
    """A mount table in /proc/self/mountinfo's format with `points` (spaces escaped as the kernel does)."""
    path = tmp_path / "mountinfo"
    path.write_text("".join("%d 1 254:0 /src%d %s rw,relatime - ext4 /dev/vda rw\n" % (
        24 + number, number, point.replace(" ", "\\040")) for number, point in enumerate(points)))
    return str(path)


def test_the_mount_table_is_read_with_its_escapes_and_a_bind_mount_counts(tmp_path):
    spaced = tmp_path / "etcd data"
    spaced.mkdir()
    bound = tmp_path / "bound"
    bound.mkdir()
    table = mountinfo(tmp_path, "/", str(spaced), str(bound))
    assert mount_points(table) == {"/", str(spaced), str(bound)}
    # A bind mount of a dir of the same filesystem: the same device as its parent, so os.path.ismount says no, and
    # rename(2) of it fails with EBUSY all the same.
    assert not os.path.ismount(str(bound))
    assert is_mount_point(str(bound), table) and is_mount_point(str(spaced) + "/", table)
    assert not is_mount_point(str(tmp_path / "other"), table)


def test_without_a_mount_table_ismount_answers(tmp_path):
    assert is_mount_point("/", str(tmp_path / "no-such-mountinfo"))
    assert not is_mount_point(str(tmp_path), str(tmp_path / "no-such-mountinfo"))
    # The real table: this process's root is a mount point, a dir made just now is not.
    assert is_mount_point("/") and not is_mount_point(str(tmp_path))


def test_a_mount_point_swaps_its_member_dir_and_keeps_it_inside(tmp_path):
    data = tmp_path / "etcd"
    (data / "member" / "snap").mkdir(parents=True)
    (data / "member" / "snap" / "db").write_text("old db")
    (data / "lost+found").mkdir()
    unit = swap_path(str(data), True)
    assert unit == str(data / "member") and swap_path(str(data) + "/", False) == str(data)
    staging = staging_dir(unit)
    assert staging == str(data / "member.restore-staging")
    os.makedirs(os.path.join(staging, "data", "member", "snap"))
    with open(os.path.join(staging, "data", "member", "snap", "db"), "w") as handle:
        handle.write("restored db")
    inode = os.stat(str(data)).st_ino
    kept = replace_dir(unit, kept_name(unit, "T1"), os.path.join(staging, "data", "member"))
    assert kept == str(data / "member.pre-restore-T1")
    # The data dir itself was not renamed (a mount point cannot be): the same inode, its other names untouched.
    assert os.stat(str(data)).st_ino == inode and (data / "lost+found").is_dir()
    assert (data / "member" / "snap" / "db").read_text() == "restored db"
    assert (data / "member.pre-restore-T1" / "snap" / "db").read_text() == "old db"
    assert not os.listdir(os.path.join(staging, "data"))
    assert leftover_dirs(unit) == [("pre-restore", kept)]
    assert "member.pre-restore-T1" in describe_leftovers([unit])
    failed = put_back(unit, kept, "T1")
    assert failed == str(data / "member.failed-restore-T1")
    assert (data / "member" / "snap" / "db").read_text() == "old db"
    assert (data / "member.failed-restore-T1" / "snap" / "db").read_text() == "restored db"
    assert os.stat(str(data)).st_ino == inode
    assert sorted(os.listdir(str(data))) == [
        "lost+found", "member", "member.failed-restore-T1", "member.restore-staging"]


def test_an_empty_mount_point_gets_a_member_dir_and_a_rollback_leaves_it_empty(tmp_path):
    data = tmp_path / "etcd"
    data.mkdir()
    unit = swap_path(str(data), True)
    (tmp_path / "restored").mkdir()
    assert replace_dir(unit, kept_name(unit, "T"), str(tmp_path / "restored")) is None
    assert (data / "member").is_dir()
    assert put_back(unit, None, "T") == str(data / "member.failed-restore-T")
    assert os.listdir(str(data)) == ["member.failed-restore-T"]


def test_the_staging_inside_a_mount_point_is_counted_on_the_mounted_filesystem(tmp_path):
    data = tmp_path / "etcd"
    data.mkdir()
    free, problems = disk_problems({staging_dir(swap_path(str(data), True)): 1})
    # The staging dir's filesystem is found from the data dir itself (the mount), not from the data dir's parent.
    assert list(free) == [str(data)] and not problems
    free, dummy = disk_problems({staging_dir(swap_path(str(data), False)): 1})
    assert list(free) == [str(tmp_path)]


def test_the_journal_records_the_mount_and_a_change_of_it_is_a_problem(tmp_path):
    data = tmp_path / "etcd"
    (data / "member").mkdir(parents=True)
    state = journal.pre_restore_state(None, str(data), None)
    assert state["data_dir_mount"] is False and state["had_data_dir"] is True
    assert journal.mount_problem(state, str(data), False) is None
    problem = journal.mount_problem(state, str(data), True)
    assert "was not a mount point" in problem and "unmount %s" % data in problem
    problem = journal.mount_problem(dict(state, data_dir_mount=True), str(data), False)
    assert "was a mount point" in problem and "mount it at %s again" % data in problem
    # A journal written before the mount was recorded says nothing about it: no problem either way.
    assert journal.mount_problem(dict(state, data_dir_mount=None), str(data), True) is None
    entry = journal.record(str(data), "R1", "planned")
    assert entry["data_dir_mount"] is False
    with open(journal.journal_path(str(data))) as handle:
        assert '"data_dir_mount": false' in handle.read()
    # A run that takes over an unfinished one inherits what that run recorded about the mount, not what it sees now.
    journal.record(str(data), "R1", "stopped", data_dir_mount=True)
    assert journal.record(str(data), "R2", "planned")["data_dir_mount"] is True
