"""Choosing the restore tool, refusing flags it is too old for, and the exact command for one member."""
import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._etcd.version import parse_version
from ansible_collections.etcdops.dr.plugins.module_utils._restore.plan import (
    RestorePlanError, find_restore_tool, member_problems, restore_command, tool_problems)

MEMBER = dict(name="node1", initial_advertise_peer_urls=["https://10.0.0.1:2380"],
              initial_cluster="node1=https://10.0.0.1:2380,node2=https://10.0.0.2:2380",
              initial_cluster_token="etcd-restore-1")


class FakeModule:
    """The command seam: PATH lookup and run_command, answering `<tool> version` with a given text."""

    def __init__(self, on_path, versions):
        self.on_path, self.versions, self.commands = on_path, versions, []

    def get_bin_path(self, name):
        return self.on_path.get(name)

    def run_command(self, cmd, check_rc=False, environ_update=None):
        self.commands.append(cmd)
        return 0, self.versions[cmd[0]], ""


def executable(tmp_path, name):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_versions_are_read_from_both_tools():
    assert parse_version("etcdutl version: 3.5.16\nAPI version: 3.5\n") == (3, 5, 16)
    assert parse_version("etcdctl version: 3.4.23\nAPI version: 3.4\n") == (3, 4, 23)
    assert parse_version("something else") is None


def test_etcdutl_is_preferred_and_etcdctl_3_6_is_refused(tmp_path):
    etcdutl, etcdctl = executable(tmp_path, "etcdutl"), executable(tmp_path, "etcdctl")
    module = FakeModule({"etcdutl": etcdutl, "etcdctl": etcdctl},
                        {etcdutl: "etcdutl version: 3.5.16\n", etcdctl: "etcdctl version: 3.6.0\n"})
    assert find_restore_tool(module) == ("etcdutl", etcdutl, (3, 5, 16))
    assert module.commands == [[etcdutl, "version"]]
    with pytest.raises(RestorePlanError, match="3.6 removed"):
        find_restore_tool(module, etcdctl=etcdctl)
    with pytest.raises(RestorePlanError, match="no restore tool"):
        find_restore_tool(FakeModule({}, {}))


def test_flags_newer_than_the_tool_are_named():
    assert tool_problems("etcdutl", (3, 5, 10), dict(bump_revision=1)) == []
    assert "needs etcdutl 3.5.10 or newer; this one is 3.5.1" in tool_problems("etcdutl", (3, 5, 1),
                                                                               dict(bump_revision=1))[0]
    assert tool_problems("etcdctl", (3, 4, 27), dict(bump_revision=1)) == []
    assert "etcdctl cannot do it" in tool_problems("etcdctl", (3, 4, 30), dict(initial_memory_map_size=1 << 30))[0]
    assert tool_problems("etcdutl", (3, 5, 1), dict(bump_revision=0)) == []


def test_the_command_carries_every_flag_for_this_member():
    cmd = restore_command("/bin/etcdutl", "/s.db", "/d.restore-staging/data",
                          dict(MEMBER, skip_hash_check=True, bump_revision=1000000000,
                               initial_memory_map_size=1 << 30), wal_dir="/d.restore-staging/wal")
    assert cmd == ["/bin/etcdutl", "snapshot", "restore", "/s.db", "--name", "node1", "--initial-cluster",
                   MEMBER["initial_cluster"], "--initial-cluster-token", "etcd-restore-1",
                   "--initial-advertise-peer-urls", "https://10.0.0.1:2380", "--data-dir", "/d.restore-staging/data",
                   "--wal-dir", "/d.restore-staging/wal", "--skip-hash-check", "--bump-revision", "1000000000",
                   "--mark-compacted", "--initial-memory-map-size", str(1 << 30)]
    plain = restore_command("/bin/etcdutl", "/s.db", "/x", dict(MEMBER))
    assert "--bump-revision" not in plain and "--mark-compacted" not in plain and "--skip-hash-check" not in plain


def test_name_and_urls_must_fit_the_initial_cluster():
    assert member_problems(MEMBER) == []
    assert "is not in initial_cluster" in member_problems(dict(MEMBER, name="node9"))[0]
    assert "must be the same" in member_problems(dict(MEMBER, initial_advertise_peer_urls=["https://x:2380"]))[0]
    shared = dict(MEMBER, initial_cluster="node1=https://10.0.0.1:2380,node2=https://10.0.0.1:2380")
    assert "several members" in member_problems(shared)[0]
    with pytest.raises(RestorePlanError, match="not name=peer-url"):
        member_problems(dict(MEMBER, initial_cluster="node1"))
