"""etcd_service's main() with systemd, through the one command seam (systemd cannot run here) and a
faked health probe: which commands run, in which order, in check mode, apply and re-apply."""
import json

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.etcdops.dr.plugins.module_utils._service import backends as _service
from ansible_collections.etcdops.dr.plugins.module_utils._service import member as _member_service
from ansible_collections.etcdops.dr.plugins.module_utils._service import waits as _service_control
from ansible_collections.etcdops.dr.plugins.modules import etcd_service
from ansible_collections.etcdops.dr.tests.unit.supervisord_double import Supervisord

SHOW = ["/usr/bin/systemctl", "show", "--property=LoadState,ActiveState,SubState,MainPID", "etcd.service"]
CONFIG_SHOW = ["/usr/bin/systemctl", "show", "--property=ExecStart,Environment,EnvironmentFiles", "etcd.service"]
UNIT = (0, "ExecStart={ path=/usr/bin/etcd ; argv[]=/usr/bin/etcd --name node1 -data-dir /var/lib/etcd ; "
           "ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n"
           "Environment=ETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.1:2380\n", "")
# Ports nothing on a test machine listens on, so the port check passes.
ARGS = dict(manager="systemd", endpoint="http://127.0.0.1:1", peer_url="http://127.0.0.1:2", timeout=3)


def show(active):
    return 0, "LoadState=loaded\nActiveState=%s\nSubState=x\nMainPID=0\n" % active, ""


class Host:
    """The commands main() runs, answered in order. The read-only `systemctl show` of the unit's command (for
    member_config) is answered with `unit` and recorded apart, in config_calls."""

    def __init__(self, monkeypatch, *replies, healthy_after=0, unit=UNIT):
        self.replies = list(replies)
        self.calls = []
        self.config_calls = []
        self.probes = 0
        host = self

        def run_command(module, cmd, check_rc=False, environ_update=None):
            if cmd[:3] == CONFIG_SHOW[:3]:
                host.config_calls.append(cmd)
                return unit
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
        monkeypatch.setattr(_member_service, "HealthProbe", Probe)
        monkeypatch.setattr(_service_control, "POLL_SECONDS", 0.01)
        monkeypatch.setattr(_service_control, "MANAGER_POLL_SECONDS", 0)


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


def test_while_waiting_the_manager_is_asked_at_most_once_a_manager_poll(monkeypatch, capsys):
    host = Host(monkeypatch, show("inactive"), (0, "", ""), show("activating"), show("activating"),
                healthy_after=6)
    monkeypatch.setattr(_service_control, "MANAGER_POLL_SECONDS", 60)
    result = run(capsys, state="started")
    assert result["changed"] and result["healthy"] is True
    # Six failed probes, one question to the manager (the first); the next would be due after a minute.
    assert host.calls == [SHOW, ["/usr/bin/systemctl", "start", "--no-block", "etcd.service"], SHOW]
    assert host.probes == 7


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


def test_member_config_is_returned_in_check_mode_from_the_units_command(monkeypatch, capsys):
    host = Host(monkeypatch, show("active"))
    result = run(capsys, check=True, state="started")
    assert not result["changed"] and host.config_calls == [CONFIG_SHOW]
    assert result["member_config"] == [dict(source="systemd unit etcd.service", kind="systemd", program="/usr/bin/etcd", tls_files={}, name="node1",
                                            initial_advertise_peer_urls=["https://10.0.0.1:2380"],
                                            data_dir="/var/lib/etcd", wal_dir=None)]
    assert result["member_config_missing"] is None and result["member_config_unread"] == []


def test_no_readable_source_is_said_and_changes_nothing_else(monkeypatch, capsys, tmp_path):
    wrapper = (0, "ExecStart={ path=/usr/local/bin/run-etcd ; argv[]=/usr/local/bin/run-etcd ; ignore_errors=no ; "
                  "start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n", "")
    Host(monkeypatch, show("active"), show("active"), unit=wrapper)
    result = run(capsys, check=True, state="stopped", config_file=str(tmp_path / "etcd.yml"))
    assert result["changed"] and result["actions"] == ["stop"] and not result.get("failed")
    assert result["member_config"] == []
    assert result["member_config_missing"] == (
        "etcd does not run on this host (nothing listens on 127.0.0.1:1 or 127.0.0.1:2); systemd unit etcd.service "
        "runs /usr/local/bin/run-etcd, not etcd, so etcd's flags cannot be read from it; cannot read config file %s: "
        "No such file or directory." % (tmp_path / "etcd.yml"))
    assert len(result["member_config_unread"]) == 2
    (tmp_path / "etcd.yml").write_text("name: node1\ndata-dir: /var/lib/etcd\n")
    result = run(capsys, check=True, state="stopped", config_file=str(tmp_path / "etcd.yml"))
    assert result["member_config"][0]["source"] == "config file %s" % (tmp_path / "etcd.yml")
    assert result["member_config_missing"] is None and len(result["member_config_unread"]) == 1


def test_supervisorctl_can_be_named_and_its_prefix_gives_the_configuration(monkeypatch, capsys, tmp_path):
    supervisorctl = tmp_path / "bin" / "supervisorctl"
    supervisorctl.parent.mkdir()
    supervisorctl.write_text("#!/bin/sh\n")
    supervisorctl.chmod(0o755)
    server = Supervisord({"etcd-n1": "RUNNING"})
    # Without supervisor_conf, the configuration is where this supervisorctl looks: <its prefix>/etc.
    conf = tmp_path / "etc" / "supervisord.conf"
    conf.parent.mkdir()
    conf.write_text("[supervisorctl]\nserverurl=unix://%s\n\n[program:etcd-n1]\ncommand=/opt/etcd/etcd -name n1 "
                    "--data-dir /d\n" % server.socket_path)
    host = Host(monkeypatch)
    try:
        result = run(capsys, check=True, state="stopped", manager="auto", name="etcd-n1",
                     supervisorctl=str(supervisorctl), manifest_dir=str(tmp_path / "m"),
                     held_manifest_dir=str(tmp_path / "h"))
    finally:
        server.close()
    assert result["manager"] == "supervisor" and result["actions"] == ["stop"]
    # auto asks supervisord whether it knows the program; that one answer also gives its state. No command runs.
    assert server.calls == [("getProcessInfo", ("etcd-n1",))] and host.calls == []
    assert result["member_config"][0]["source"] == "supervisor program etcd-n1 in %s" % conf
    assert (result["member_config"][0]["name"], result["member_config"][0]["data_dir"]) == ("n1", "/d")
    supervisorctl.chmod(0o644)
    refused = run(capsys, check=True, state="stopped", manager="supervisor", supervisorctl=str(supervisorctl))
    assert refused["failed"] and "supervisorctl %s is not an executable file" % supervisorctl in refused["msg"]
