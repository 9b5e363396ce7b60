"""Service backends: systemd through the one command seam (module.run_command) - it cannot run here (it is not
PID 1), so its command sequence is covered here; supervisor against a supervisord double that speaks supervisor's
XML-RPC on a unix socket. supervisor and static pods run for real in the integration tests."""
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._service import backends as _service
from ansible_collections.etcdops.dr.plugins.module_utils._service.backends import ServiceError, StaticPod, Supervisor, Systemd
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._service.waits import plan
from ansible_collections.etcdops.dr.tests.unit.supervisord_double import Supervisord


class FakeModule:
    """Answers run_command from a list of (rc, stdout, stderr) and records each command."""

    def __init__(self, *replies, params=None, binaries=("systemctl", "journalctl", "supervisorctl")):
        self.replies = list(replies)
        self.calls = []
        self.envs = []
        self.params = params or {}
        self.binaries = binaries

    def run_command(self, cmd, check_rc=False, environ_update=None):
        assert isinstance(cmd, list), "commands are lists, never shell strings"
        self.calls.append(cmd)
        self.envs.append(environ_update)
        return self.replies.pop(0)

    def get_bin_path(self, name, required=False):
        if name in self.binaries:
            return "/usr/bin/" + name
        assert not required
        return None


def show(active, sub="running", load="loaded", pid=42):
    return 0, "LoadState=%s\nActiveState=%s\nSubState=%s\nMainPID=%s\n" % (load, active, sub, pid), ""


@pytest.mark.parametrize("active, running, failed", [
    ("active", True, False), ("activating", True, False), ("deactivating", True, False),
    ("inactive", False, False), ("failed", False, True)])
def test_systemd_state_follows_active_state(active, running, failed):
    module = FakeModule(show(active))
    state = Systemd(module, "etcd").state()
    assert (state.running, state.failed) == (running, failed)
    assert module.calls == [["/usr/bin/systemctl", "show", "--property=LoadState,ActiveState,SubState,MainPID",
                             "etcd.service"]]
    assert module.envs[0]["LANG"] == "C"


def test_systemd_unknown_unit_is_named():
    with pytest.raises(ServiceError, match="systemd has no unit etcd-main.service: set name"):
        Systemd(FakeModule(show("inactive", load="not-found")), "etcd-main").state()


def test_systemd_start_does_not_block_on_quorum_and_stop_waits():
    module = FakeModule((0, "", ""), (0, "", ""))
    unit = Systemd(module, "etcd.service")
    unit.start()
    unit.stop()
    assert module.calls == [["/usr/bin/systemctl", "start", "--no-block", "etcd.service"],
                            ["/usr/bin/systemctl", "stop", "etcd.service"]]


def test_systemd_stop_failure_carries_command_rc_and_stderr():
    module = FakeModule((1, "", "Failed to stop etcd.service: Access denied\n"))
    with pytest.raises(Exception, match=r"stopping systemd unit etcd.service: /usr/bin/systemctl stop etcd.service "
                                        r"failed with rc 1: Failed to stop etcd.service: Access denied"):
        Systemd(module, "etcd").stop()


def test_systemd_log_tail_reads_the_journal():
    module = FakeModule((0, "line 1\nline 2\nline 3\n", ""))
    assert Systemd(module, "etcd").log_tail(2) == ["line 2", "line 3"]
    assert module.calls == [["/usr/bin/journalctl", "--unit", "etcd.service", "--lines", "2", "--no-pager",
                             "--output", "cat"]]


def auto_params(tmp_path, **extra):
    params = dict(manager="auto", name="etcd", supervisor_conf=None, manifest_dir=str(tmp_path / "manifests"),
                  manifest_name="etcd.yaml", held_manifest_dir=str(tmp_path / "held"), pod_log_dir=str(tmp_path))
    params.update(extra)
    return params


def test_auto_picks_systemd_when_it_is_init_and_has_the_unit(tmp_path, monkeypatch):
    monkeypatch.setattr(_service, "SYSTEMD_RUN_DIR", str(tmp_path))
    module = FakeModule(show("active"), params=auto_params(tmp_path), binaries=("systemctl",))
    assert isinstance(_service.select(module, module.params), Systemd)


def test_auto_says_what_it_looked_for(tmp_path, monkeypatch, supervisord):
    monkeypatch.setattr(_service, "SYSTEMD_RUN_DIR", str(tmp_path / "absent"))
    server = supervisord({"etcd-other": "RUNNING"})
    module = FakeModule(params=auto_params(tmp_path, supervisor_conf=server.conf), binaries=())
    with pytest.raises(ServiceError) as caught:
        _service.select(module, module.params)
    assert "no etcd.yaml in %s" % (tmp_path / "manifests") in caught.value.msg
    assert "supervisord of %s knows no program etcd" % server.conf in caught.value.msg
    assert "systemd is not the init system" in caught.value.msg
    assert "set manager" in caught.value.msg
    server.programs["etcd"] = "RUNNING"
    assert isinstance(_service.select(module, module.params), Supervisor)


def test_auto_prefers_a_static_pod_manifest(tmp_path):
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "etcd.yaml").write_text("kind: Pod\n")
    module = FakeModule(params=auto_params(tmp_path))
    assert isinstance(_service.select(module, module.params), StaticPod)
    assert module.calls == []


@pytest.fixture
def supervisord():
    started = []

    def start(programs, logs=None):
        started.append(Supervisord(programs, logs))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.mark.parametrize("word, running, failed", [
    ("RUNNING", True, False), ("STARTING", True, False), ("BACKOFF", True, False), ("STOPPING", True, False),
    ("STOPPED", False, False), ("FATAL", False, True), ("EXITED", False, True)])
def test_supervisor_state_follows_the_state_name(supervisord, word, running, failed):
    server = supervisord({"etcd": word})
    state = Supervisor("etcd", server.conf).state()
    assert (state.running, state.failed) == (running, failed)
    assert state.detail.startswith("etcd " + word)
    assert server.calls == [("getProcessInfo", ("etcd",))]


def test_supervisor_state_after_known_reuses_its_answer_and_asks_afresh_after_that_and_after_an_action(supervisord):
    server = supervisord({"etcd": "RUNNING"})
    supervisor = Supervisor("etcd", server.conf)
    assert supervisor.known() and supervisor.state().running
    assert [call[0] for call in server.calls] == ["getProcessInfo"]
    supervisor.known()
    supervisor.stop()
    assert not supervisor.state().running and not supervisor.state().running
    assert [call[0] for call in server.calls] == ["getProcessInfo", "getProcessInfo", "stopProcess",
                                                  "getProcessInfo", "getProcessInfo"]
    # The stop waits until supervisord has stopped the program, as supervisorctl stop does.
    assert server.calls[2] == ("stopProcess", ("etcd", True))


def test_supervisor_start_does_not_wait_for_startsecs_and_start_and_stop_are_idempotent(supervisord):
    server = supervisord({"etcd": "STOPPED"})
    supervisor = Supervisor("etcd", server.conf)
    supervisor.stop()
    supervisor.start()
    supervisor.start()
    assert server.calls[1] == ("startProcess", ("etcd", False))
    assert server.programs["etcd"] == "STARTING"


def test_supervisor_log_tail_is_the_programs_last_lines(supervisord):
    server = supervisord({"etcd": "EXITED"}, logs={"etcd": "one\ntwo\n\nthree\n"})
    assert Supervisor("etcd", server.conf).log_tail(2) == ["two", "three"]


def test_supervisor_unknown_program_and_dead_supervisord_are_explained(supervisord, tmp_path):
    server = supervisord({"etcd-other": "RUNNING"})
    with pytest.raises(ServiceError, match="supervisor has no program 'etcd' .*: set name"):
        Supervisor("etcd", server.conf).state()
    server.stop_serving()
    with pytest.raises(EtcdOpsError, match="cannot reach supervisord at unix://.*Check that supervisord runs"):
        Supervisor("etcd", server.conf).state()
    conf = tmp_path / "no-ctl.conf"
    conf.write_text("[supervisord]\nlogfile=/tmp/x\n")
    with pytest.raises(EtcdOpsError, match=r"has no \[supervisorctl\] section"):
        Supervisor("etcd", str(conf))


def test_static_pod_moves_the_manifest_out_and_back(tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "etcd.yaml").write_text("kind: Pod\n")
    pod = StaticPod(str(manifests), "etcd.yaml", str(tmp_path / "held"), str(tmp_path))
    assert pod.state().running
    pod.stop()
    assert not (manifests / "etcd.yaml").exists()
    assert (tmp_path / "held" / "etcd.yaml").read_text() == "kind: Pod\n"
    assert oct((tmp_path / "held").stat().st_mode & 0o777) == "0o700"
    assert not pod.state().running
    pod.start()
    assert (manifests / "etcd.yaml").read_text() == "kind: Pod\n"
    assert os.listdir(tmp_path / "held") == []


def test_static_pod_refuses_a_holding_dir_the_kubelet_reads(tmp_path):
    with pytest.raises(ServiceError, match="is inside manifest_dir"):
        StaticPod(str(tmp_path), "etcd.yaml", str(tmp_path / "held"), str(tmp_path))


def test_static_pod_with_two_manifests_is_not_guessed(tmp_path):
    for where in ("manifests", "held"):
        (tmp_path / where).mkdir()
        (tmp_path / where / "etcd.yaml").write_text("kind: Pod\n")
    pod = StaticPod(str(tmp_path / "manifests"), "etcd.yaml", str(tmp_path / "held"), str(tmp_path))
    with pytest.raises(ServiceError, match="both exist"):
        pod.state()


def test_static_pod_log_is_the_newest_container_log(tmp_path):
    old = tmp_path / "kube-system_etcd-cp1_aaa" / "etcd"
    old.mkdir(parents=True)
    (old / "0.log").write_text("old\n")
    os.utime(old / "0.log", (1, 1))
    (old / "1.log").write_text("a\nb\nflag provided but not defined: -x\n")
    pod = StaticPod(str(tmp_path / "m"), "etcd.yaml", str(tmp_path / "h"), str(tmp_path))
    assert pod.log_tail(2) == ["b", "flag provided but not defined: -x"]


@pytest.mark.parametrize("state, running, actions", [
    ("stopped", True, ["stop"]), ("stopped", False, []),
    ("started", True, []), ("started", False, ["start"]),
    ("restarted", True, ["stop", "start"]), ("restarted", False, ["start"])])
def test_plan(state, running, actions):
    assert plan(state, running) == actions
