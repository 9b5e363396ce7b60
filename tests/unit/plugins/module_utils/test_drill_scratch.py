"""The scratch drill's plan and its clean-up, with the command seam faked (etcd --version, etcdutl) and the
member's start faked by a process that exits at once: its refusals come before anything starts, and whatever fails
after the restore, the run dir is removed and no member is left."""
import os
import socket
import subprocess
import sys
import time

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._drill import scratch as _scratch
from ansible_collections.etcdops.dr.plugins.module_utils._drill.scratch import (
    ARGUMENT_SPEC, CleanupFailed, DrillError, ScratchDrill, stale_runs)
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.client import EtcdError
from ansible_collections.etcdops.dr.plugins.module_utils._restore.member import Refused
from ansible_collections.etcdops.dr.tests.unit.bolt_writer import BoltWriter
from ansible_collections.etcdops.dr.tests.unit.plugins.module_utils.test_restore_member import (
    FakeModule as RestoreFake, etcd_state)


class FakeModule(RestoreFake):
    """The restore's fake etcdutl, and an etcd binary that answers --version."""

    def __init__(self, tmp_path, check_mode=False, **params):
        super().__init__(tmp_path, check_mode)
        self.params = ARGUMENT_SPEC.defaults()
        self.params.update(etcdutl=str(self.etcdutl), work_dir=str(tmp_path / "drills"))
        self.params.update(params)
        self.etcd = tmp_path / "bin" / "etcd"
        self.etcd.write_text("#!/bin/sh\n")
        self.etcd.chmod(0o755)

    def run_command(self, cmd, check_rc=False, environ_update=None):
        if cmd[1:] == ["--version"]:
            self.commands.append(["--version"])
            return 0, "etcd Version: 3.5.16\nGit SHA: x\n", ""
        return super().run_command(cmd, check_rc, environ_update)

    def get_bin_path(self, name):
        return None


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / "snap.db"
    BoltWriter().write(str(path), etcd_state().tree(), trailer=True)
    return str(path)


def test_check_mode_plans_without_creating_anything(tmp_path, snapshot):
    module = FakeModule(tmp_path, check_mode=True, snapshot=snapshot)
    drill = ScratchDrill(module.params, module)
    drill.plan()
    assert drill.result["etcd"] == str(module.etcd) and drill.result["etcd_version"] == "3.5.16"
    assert drill.result["client_url"].startswith("http://127.0.0.1:") and drill.result["expected_revision"] == 4
    assert "--listen-client-urls" in drill.result["cmd"] and not os.path.exists(module.params["work_dir"])
    assert "would restore" in drill.would()


@pytest.mark.parametrize("params, words", [
    ({"address": "10.0.0.5"}, "address 10.0.0.5 is not a loopback address"),
    ({"address": "localhost"}, "address 'localhost' is not an IP address"),
    ({"work_dir": "/nonexistent/parent/drills"}, "the parent of work_dir /nonexistent/parent/drills does not exist"),
    ({"etcd": "/nonexistent/etcd"}, "etcd /nonexistent/etcd is not an executable file"),
])
def test_refusals_come_before_anything_starts(tmp_path, snapshot, params, words):
    module = FakeModule(tmp_path, snapshot=snapshot, **params)
    with pytest.raises(Refused, match=words.replace("(", r"\(")) as refused:
        ScratchDrill(module.params, module).plan()
    assert refused.value.msg.endswith("Nothing was started.")
    assert not os.path.exists(str(tmp_path / "drills")) or os.listdir(str(tmp_path / "drills")) == []


def test_a_taken_port_is_refused_naming_it(tmp_path, snapshot):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        module = FakeModule(tmp_path, snapshot=snapshot, client_port=port)
        with pytest.raises(Refused, match="client_port %d on 127.0.0.1 is taken" % port):
            ScratchDrill(module.params, module).plan()


def test_a_member_that_exits_is_reported_and_everything_is_removed(tmp_path, snapshot, monkeypatch):
    def start(cmd, log_path, cwd):
        with open(log_path, "ab") as log:
            log.write(b"member cannot start: injected\n")
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    def not_serving(params):
        raise EtcdError("connection refused")

    monkeypatch.setattr(_scratch.command_seam, "start", start)
    # Not the real client: it would load a gRPC library into this test process (test_client loads both, in order).
    monkeypatch.setattr(_scratch, "connect_all", not_serving)
    module = FakeModule(tmp_path, snapshot=snapshot)
    drill = ScratchDrill(module.params, module)
    drill.plan()
    assert os.path.isdir(drill.run_dir) and oct(os.stat(drill.run_dir).st_mode & 0o777) == "0o700"
    with pytest.raises(DrillError, match="exited with code 3 before it served; its log ends: member cannot start"
                       ) as failed:
        drill.apply()
    assert not os.path.exists(drill.run_dir) and drill.result["left_behind"] == []
    assert drill.result["phases"]["restore"] >= 0 and "start" not in drill.result["phases"]
    assert drill.failed(failed.value).endswith("member cannot start: injected The throwaway member was stopped and "
                                               "its run dir removed.")
    assert drill.result["duration_seconds"] >= 0


def test_what_a_drill_leaves_behind_is_named_and_fails_even_a_drill_that_served(tmp_path, snapshot, monkeypatch):
    module = FakeModule(tmp_path, snapshot=snapshot)
    drill = ScratchDrill(module.params, module)
    drill.plan()
    monkeypatch.setattr(drill, "_drill", lambda: drill.result["left_behind"].append("etcd pid 7 did not exit"))
    with pytest.raises(CleanupFailed) as failed:
        drill.apply()
    assert drill.failed(failed.value) == "the drill ran but could not clean up: etcd pid 7 did not exit"
    broken = DrillError("the throwaway member started but could not be read: refused.")
    assert drill.failed(broken) == ("the throwaway member started but could not be read: refused. Left behind: etcd "
                                    "pid 7 did not exit.")


def test_only_run_dirs_of_dead_drills_are_stale(tmp_path):
    work = tmp_path / "drills"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    for name in ("run-20261126T000000Z-%s" % dead, "run-20261126T000001Z-%d" % os.getpid(), "incoming", "run-x"):
        (work / name).mkdir(parents=True)
    assert stale_runs(str(work)) == [str(work / ("run-20261126T000000Z-%s" % dead))]
    assert stale_runs(str(tmp_path / "none")) == []


def wait_for_exec(pid, argument):
    """Popen returns once the child's close-on-exec pipe closes, which the kernel does before it sets the new
    program's arguments: under load /proc/<pid>/cmdline is still empty for a while (measured: most of 1500 tries)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            if os.fsencode(argument) in handle.read():
                return
        time.sleep(0.01)
    raise AssertionError("process %d never showed %s in its command line" % (pid, argument))


def test_a_killed_drills_member_is_stopped_and_its_run_dir_removed(tmp_path, snapshot):
    module = FakeModule(tmp_path, snapshot=snapshot)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    stale = tmp_path / "drills" / ("run-20261126T000000Z-%s" % dead)
    (stale / "data").mkdir(parents=True)
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "--data-dir", str(stale / "data")])
    try:
        wait_for_exec(orphan.pid, str(stale))
        drill = ScratchDrill(module.params, module)
        assert drill._remove_stale() == [str(stale)]   # pylint: disable=protected-access
        assert orphan.wait(10) == -9 and not stale.exists()
    finally:
        if orphan.poll() is None:
            orphan.kill()
