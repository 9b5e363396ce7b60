"""Service backends through the one command seam (module.run_command): systemd cannot run here
(it is not PID 1), so its command sequence is covered here; supervisor and static pods run for
real in the integration tests."""
import os

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils import _service
from ansible_collections.etcdops.dr.plugins.module_utils._service import ServiceError, StaticPod, Supervisor, Systemd
from ansible_collections.etcdops.dr.plugins.module_utils._service_control import plan


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
    assert isinstance(_service.select(module), Systemd)


def test_auto_says_what_it_looked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(_service, "SYSTEMD_RUN_DIR", str(tmp_path / "absent"))
    module = FakeModule((4, "etcd: ERROR (no such process)\n", ""), params=auto_params(tmp_path),
                        binaries=("supervisorctl",))
    with pytest.raises(ServiceError) as caught:
        _service.select(module)
    assert "no etcd.yaml in %s" % (tmp_path / "manifests") in caught.value.msg
    assert "supervisorctl knows no program etcd" in caught.value.msg
    assert "systemd is not the init system" in caught.value.msg
    assert "set manager" in caught.value.msg


def test_auto_prefers_a_static_pod_manifest(tmp_path):
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "etcd.yaml").write_text("kind: Pod\n")
    module = FakeModule(params=auto_params(tmp_path))
    assert isinstance(_service.select(module), StaticPod)
    assert module.calls == []


@pytest.mark.parametrize("out, rc, running, failed", [
    ("etcd RUNNING   pid 12, uptime 0:01:00", 0, True, False),
    ("etcd STARTING", 3, True, False),
    ("etcd STOPPED   Nov 24 01:00 PM", 3, False, False),
    ("etcd FATAL     Exited too quickly (process log may have details)", 3, False, True),
    ("etcd EXITED    Nov 24 01:00 PM", 3, False, True)])
def test_supervisor_state_follows_the_status_word(out, rc, running, failed):
    module = FakeModule((rc, out + "\n", ""))
    state = Supervisor(module, "etcd", "/etc/supervisord.conf").state()
    assert (state.running, state.failed) == (running, failed)
    assert module.calls == [["/usr/bin/supervisorctl", "-c", "/etc/supervisord.conf", "status", "etcd"]]


def test_supervisor_state_after_known_reuses_its_status_and_reads_afresh_after_that_and_after_an_action():
    running, stopped = (0, "etcd RUNNING   pid 12\n", ""), (3, "etcd STOPPED   Nov 24 01:00 PM\n", "")
    module = FakeModule(running, running, (0, "etcd: stopped\n", ""), stopped, stopped)
    supervisor = Supervisor(module, "etcd")
    assert supervisor.known() and supervisor.state().running
    assert [call[1] for call in module.calls] == ["status"]
    supervisor.known()
    supervisor.stop()
    assert not supervisor.state().running and not supervisor.state().running
    assert [call[1] for call in module.calls] == ["status", "status", "stop", "status", "status"]


def test_supervisor_unknown_program_and_dead_supervisord_are_explained():
    with pytest.raises(ServiceError, match="supervisor has no program 'etcd': set name"):
        Supervisor(FakeModule((4, "etcd: ERROR (no such process)\n", "")), "etcd").state()
    with pytest.raises(ServiceError, match="Check that supervisord runs"):
        Supervisor(FakeModule((7, "unix:///run/supervisor.sock no such file\n", "")), "etcd").state()


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
