"""The fetch action: its reading of ssh arguments (compression on, Ansible's default -C, caps the copy to the
controller at zlib's speed, and the action warns), and the copy it has the host make for the login user when the task
becomes another user (the host side faked: the hosts are this machine)."""
import hashlib
import json
import os
import shutil

import pytest
from ansible.errors import AnsibleError

from ansible_collections.etcdops.dr.plugins.action.etcd_snapshot_fetch import ActionModule, ssh_asks_compression
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import BackupFileError
from ansible_collections.etcdops.dr.plugins.plugin_utils._controller import ControllerHost
from ansible_collections.etcdops.dr.tests.unit.plugins.module_utils.test_snapshot_check import snapshot


@pytest.mark.parametrize("words, compressed", [
    (["-C", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s"], True),
    (["-o", "ControlMaster=auto", "-o", "ControlPersist=60s"], False),
    (["-tC"], True),
    (["-oCompression=yes"], True),
    (["-o", "Compression yes"], True),
    (["-o", "compression=YES"], True),
    (["-o", "Compression=no"], False),
    (["-o", "ControlPath=/tmp/-C"], False),
    (["-4", "-v"], False),
    ([], False),
])
def test_compression_is_read_from_ssh_arguments(words, compressed):
    assert ssh_asks_compression(words) is compressed


class Become:
    def __init__(self, user):
        self.user = user

    def get_option(self, name):
        assert name == "become_user"
        return self.user


class Connection:
    """The hosts are this machine: a fetch is a copy, made as the login user would (refused for root-only files
    unless the test allows them)."""

    def __init__(self, become, cut=False):
        self.become = become
        self.cut = cut
        self.fetched = []

    def fetch_file(self, src, dest):
        self.fetched.append(src)
        if self.cut:
            raise AnsibleError("the transfer was cut")
        shutil.copyfile(src, dest)


def action_on(connection, tmp_path, login="etcdops-login"):
    """The action with the host side faked: `id -un` answers `login`; the builtin modules act on local files."""
    action = object.__new__(ActionModule)
    action._connection = connection
    action._task_vars = {}
    action.calls = []

    def execute_command(cmd, sudoable=True):
        action.calls.append(("command", cmd, sudoable))
        return {"rc": 0, "stdout": login + "\n", "stderr": ""}

    def execute_module(module_name, module_args, task_vars):
        action.calls.append((module_name, module_args))
        if module_name == "ansible.builtin.tempfile":
            path = tmp_path / "var-tmp" / "etcdops-fetch.x"
            path.mkdir(parents=True)
            return {"path": str(path)}
        if module_name == "ansible.builtin.copy":
            shutil.copyfile(module_args["src"], module_args["dest"])
        elif module_name == "ansible.builtin.file" and module_args.get("state") == "absent":
            shutil.rmtree(module_args["path"])
        return {"changed": True}

    action._low_level_execute_command = execute_command
    action._execute_module = execute_module
    return action


@pytest.fixture
def backup(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    path = host / "etcd-snapshot-20261127T000000Z.db"
    path.write_bytes(b"snapshot bytes")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (host / (path.name + ".json")).write_text(json.dumps({"sha256": digest}))
    controller = tmp_path / "controller"
    controller.mkdir()
    return str(path), str(controller / path.name), digest


def test_with_become_to_another_user_the_login_user_fetches_a_private_copy_which_is_removed(tmp_path, backup):
    src, dest, digest = backup
    connection = Connection(Become("root"))
    action = action_on(connection, tmp_path)
    action._fetch_verified(src, dest, digest)   # pylint: disable=protected-access
    handover = str(tmp_path / "var-tmp" / "etcdops-fetch.x")
    readable = os.path.join(handover, os.path.basename(src))
    assert connection.fetched == [readable, readable + ".json"]
    assert ("command", "id -un", False) in action.calls
    copies = [call[1] for call in action.calls if call[0] == "ansible.builtin.copy"]
    assert [(c["src"], c["remote_src"], c["owner"], c["mode"]) for c in copies] == [
        (src, True, "etcdops-login", "0600"), (src + ".json", True, "etcdops-login", "0600")]
    assert ("ansible.builtin.file", dict(path=handover, state="directory", mode="0700", owner="etcdops-login")) \
        in action.calls
    assert not os.path.exists(handover) and open(dest, "rb").read() == b"snapshot bytes"
    assert oct(os.stat(dest).st_mode & 0o777) == "0o600"


def test_a_cut_transfer_still_removes_the_hosts_copy_and_names_nothing(tmp_path, backup):
    src, dest, digest = backup
    action = action_on(Connection(Become("root"), cut=True), tmp_path)
    with pytest.raises(AnsibleError, match="cut"):
        action._fetch_verified(src, dest, digest)   # pylint: disable=protected-access
    handover = str(tmp_path / "var-tmp" / "etcdops-fetch.x")
    assert action.calls[-1] == ("ansible.builtin.file", dict(path=handover, state="absent"))
    assert not os.path.exists(handover) and os.listdir(os.path.dirname(dest)) == []


@pytest.mark.parametrize("become, login", [(None, "root"), (Become("root"), "root"), (Become("etcd"), "etcd")])
def test_without_become_or_as_the_login_user_the_file_is_fetched_where_it_is(tmp_path, backup, become, login):
    src, dest, digest = backup
    connection = Connection(become)
    action = action_on(connection, tmp_path, login=login)
    action._fetch_verified(src, dest, digest)   # pylint: disable=protected-access
    assert connection.fetched == [src, src + ".json"]
    assert [call for call in action.calls if call[0] != "command"] == []
    assert (("command", "id -un", False) in action.calls) is (become is not None)


@pytest.mark.parametrize("whole", [True, False])
def test_a_copy_is_checked_before_it_takes_its_name_and_one_that_fails_never_does(tmp_path, whole):
    """With verify, the staged copy is checked as etcd_snapshot_info checks a file (here without a tool on the
    controller's PATH), not hashed again; a copy that is no etcd snapshot is refused and nothing is named."""
    host = tmp_path / "host"
    host.mkdir()
    if whole:
        path = snapshot(host, name="etcd-snapshot-20261127T000000Z.db")
    else:
        path = host / "etcd-snapshot-20261127T000000Z.db"
        path.write_bytes(b"not a database at all")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (host / (path.name + ".json")).write_text(json.dumps({"sha256": digest}))
    dest = tmp_path / "controller" / path.name
    dest.parent.mkdir()
    action = action_on(Connection(None), tmp_path, login="root")
    result = dict(sha256=digest, dest=str(dest))
    controller = ControllerHost(check_mode=False)
    controller.get_bin_path = lambda name, required=False: None

    def check(staged):
        ActionModule._check_copy(staged, result, dict(etcdutl=None), controller)  # pylint: disable=protected-access

    if whole:
        action._fetch_verified(str(path), str(dest), digest, check=check)   # pylint: disable=protected-access
        assert dest.read_bytes() == path.read_bytes() and result["verified"]["status"] == "ok"
        assert result["verified"]["path"] == str(dest) and result["verified"]["key_count"] is None
    else:
        with pytest.raises(BackupFileError, match="the copy failed its check on the controller: it is not a snapshot"):
            action._fetch_verified(str(path), str(dest), digest, check=check)   # pylint: disable=protected-access
        assert os.listdir(dest.parent) == [], "nothing takes the final name, no staging dir is left"
