"""etcd_service's main() with systemd, through the one command seam (systemd cannot run here) and a
faked health probe: which commands run, in which order, in check mode, apply and re-apply."""
import json

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.etcdops.dr.plugins.module_utils import _service, _service_control
from ansible_collections.etcdops.dr.plugins.modules import etcd_service

SHOW = ["/usr/bin/systemctl", "show", "--property=LoadState,ActiveState,SubState,MainPID", "etcd.service"]
# Ports nothing on a test machine listens on, so the port check passes.
ARGS = dict(manager="systemd", endpoint="http://127.0.0.1:1", peer_url="http://127.0.0.1:2", timeout=3)


def show(active):
    return 0, "LoadState=loaded\nActiveState=%s\nSubState=x\nMainPID=0\n" % active, ""


class Host:
    """The commands main() runs, answered in order."""

    def __init__(self, monkeypatch, *replies, healthy_after=0):
        self.replies = list(replies)
        self.calls = []
        self.probes = 0
        host = self

        def run_command(module, cmd, check_rc=False, environ_update=None):
            host.calls.append(cmd)
            return host.replies.pop(0)

        class Probe:
            last_error = "etcd endpoint http://127.0.0.1:1: connection refused."

            def __init__(self, params):
                pass

            def __call__(self, time_left):
                host.probes += 1
                return host.probes > healthy_after

        monkeypatch.setattr(AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda module, name, required=False: "/usr/bin/" + name)
        monkeypatch.setattr(etcd_service, "HealthProbe", Probe)
        monkeypatch.setattr(_service_control, "POLL_SECONDS", 0.01)


def run(capsys, check=False, **args):
    args = dict(ARGS, **args)
    if check:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            etcd_service.main()
    return json.loads(capsys.readouterr().out)


def test_stop_runs_stop_then_proves_it(monkeypatch, capsys):
    host = Host(monkeypatch, show("active"), (0, "", ""), show("inactive"))
    result = run(capsys, state="stopped")
    assert result["changed"] and result["actions"] == ["stop"] and result["manager"] == "systemd"
    assert host.calls == [SHOW, ["/usr/bin/systemctl", "stop", "etcd.service"], SHOW]


def test_stop_in_check_mode_and_when_stopped(monkeypatch, capsys):
    host = Host(monkeypatch, show("active"), show("inactive"), show("inactive"), show("inactive"))
    checked = run(capsys, check=True, state="stopped")
    assert checked["changed"] and checked["actions"] == ["stop"] and "would stop" in checked["msg"]
    again = run(capsys, state="stopped")
    assert not again["changed"] and again["actions"] == []
    again_checked = run(capsys, check=True, state="stopped")
    assert not again_checked["changed"]
    assert ["/usr/bin/systemctl", "stop", "etcd.service"] not in host.calls


def test_start_does_not_block_and_waits_for_health(monkeypatch, capsys):
    host = Host(monkeypatch, show("inactive"), (0, "", ""), show("activating"), show("activating"),
                healthy_after=2)
    result = run(capsys, state="started")
    assert result["changed"] and result["healthy"] is True
    assert host.calls == [SHOW, ["/usr/bin/systemctl", "start", "--no-block", "etcd.service"], SHOW, SHOW]
    assert host.probes == 3


def test_restart_of_a_running_unit_stops_then_starts(monkeypatch, capsys):
    host = Host(monkeypatch, show("active"), (0, "", ""), show("inactive"), (0, "", ""))
    result = run(capsys, state="restarted")
    assert result["actions"] == ["stop", "start"] and result["changed"]
    assert [c[1] for c in host.calls] == ["show", "stop", "show", "start"]


def test_a_unit_that_fails_to_start_fails_with_its_journal(monkeypatch, capsys):
    journal = (0, "etcd starting\nflag provided but not defined: -bogus\n", "")
    host = Host(monkeypatch, show("inactive"), (0, "", ""), show("failed"), journal, healthy_after=99)
    result = run(capsys, state="started")
    assert result["failed"]
    assert "etcd failed to start: etcd.service: failed" in result["msg"]
    assert "flag provided but not defined: -bogus" in result["msg"]
    assert result["log_tail"] == ["etcd starting", "flag provided but not defined: -bogus"]
    assert host.calls[-1][:3] == ["/usr/bin/journalctl", "--unit", "etcd.service"]


def test_a_member_that_never_gets_healthy_fails_at_the_timeout(monkeypatch, capsys):
    Host(monkeypatch, show("active"), *[show("active")] * 1000, (0, "", ""), healthy_after=10 ** 6)
    result = run(capsys, state="started", timeout=0.3)
    assert result["failed"] and not result["changed"]
    assert "did not answer a health check within 0.3s" in result["msg"]
    assert "connection refused" in result["msg"]
    assert "majority" in result["msg"]


def test_auto_without_any_manager_fails_before_acting(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(_service, "SYSTEMD_RUN_DIR", str(tmp_path / "absent"))
    host = Host(monkeypatch)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda module, name, required=False: None)
    result = run(capsys, state="stopped", manager="auto", manifest_dir=str(tmp_path / "m"),
                 held_manifest_dir=str(tmp_path / "h"))
    assert result["failed"] and result["manager"] is None
    assert "cannot tell how etcd is run on this host" in result["msg"]
    assert host.calls == []


def test_a_malformed_peer_url_is_refused_before_acting(monkeypatch, capsys):
    host = Host(monkeypatch)
    result = run(capsys, state="stopped", peer_url="10.0.0.1:2380")
    assert result["failed"] and "endpoint '10.0.0.1:2380' must start with https:// or http://" in result["msg"]
    assert host.calls == []
