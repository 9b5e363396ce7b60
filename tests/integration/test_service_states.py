"""etcd_service over SSH on the three hosts, with each backend that can run here: supervisor (the
test bed's own) and static_pod (a kubelet stand-in runs the members' manifests). systemd cannot
run on this machine; its command sequence is unit-tested through the command seam."""
import socket
import subprocess
import sys
import time

import pytest
import yaml

from testbed import cluster, services

SERVICE_ARGS = {
    "name": "{{ etcd_service_name }}",
    "supervisor_conf": "{{ etcd_supervisor_conf }}",
    "manifest_dir": "{{ etcd_manifest_dir }}",
    "held_manifest_dir": "{{ etcd_held_manifest_dir }}",
    "pod_log_dir": "{{ etcd_pod_log_dir }}",
    "endpoint": "{{ etcd_client_url }}",
    "peer_url": "{{ etcd_peer_url }}",
    "timeout": 60,
}


@pytest.fixture(scope="module", params=["supervisor", "static_pod"])
def backend(request, bed):
    """Every test here runs once with the members as supervisor programs, once as static pods."""
    if request.param == "static_pod":
        cluster.run_as_static_pods(bed)
        yield request.param
        cluster.run_as_supervisor_programs(bed)
    else:
        cluster.ensure_running(bed)
        yield request.param


def service(ansible, state, check=False, hosts="etcd", **extra):
    return ansible.module("etcdops.dr.etcd_service", dict(SERVICE_ARGS, state=state, **extra), hosts=hosts,
                          check=check)


def listening(member):
    """Whether anything accepts connections on the member's client or peer port."""
    for port in (2379, 2380):
        with socket.socket() as sock:
            sock.settimeout(2)
            if sock.connect_ex((member.address, port)) == 0:
                return True
    return False


def assert_run(run, changed, hosts=("node1", "node2", "node3")):
    assert run.rc == 0, run.output
    for host in hosts:
        assert run.results[host]["changed"] is changed, (host, run.results[host])


def test_stop_start_restart_four_ways(live, ansible, backend):
    bed = live
    cluster.etcdctl(bed, "put", "before", "stop")

    checked = service(ansible, "stopped", check=True)
    assert_run(checked, True)
    assert all(r["actions"] == ["stop"] and r["manager"] == backend and r["manager_auto"]
               for r in checked.results.values())
    cluster.wait_healthy(bed, timeout=5)

    stopped = service(ansible, "stopped")
    assert_run(stopped, True)
    for member in bed.members:
        assert not listening(member), member.name
        assert any("etcd" in p for p in stopped.results[member.name]["stopped_processes"])
    if backend == "static_pod":
        assert all(not (m.manifest_dir / "etcd.yaml").exists() and (m.held_manifest_dir / "etcd.yaml").exists()
                   for m in bed.members)
    assert_run(service(ansible, "stopped"), False)
    assert_run(service(ansible, "stopped", check=True), False)
    assert not any(listening(m) for m in bed.members)

    assert_run(service(ansible, "started", check=True), True)
    assert not any(listening(m) for m in bed.members)
    started = service(ansible, "started")
    assert_run(started, True)
    assert all(r["healthy"] is True for r in started.results.values())
    cluster.wait_healthy(bed, timeout=5)
    assert cluster.etcdctl(bed, "get", "before", "--print-value-only").stdout.strip() == "stop"
    assert_run(service(ansible, "started"), False)
    assert_run(service(ansible, "started", check=True), False)

    pids = {m.name: cluster.listener_pid(m) for m in bed.members}
    assert_run(service(ansible, "restarted", check=True), True)
    assert pids == {m.name: cluster.listener_pid(m) for m in bed.members}
    for dummy in range(2):
        restarted = service(ansible, "restarted")
        assert_run(restarted, True)
        assert all(r["actions"] == ["stop", "start"] and r["healthy"] for r in restarted.results.values())
        new_pids = {m.name: cluster.listener_pid(m) for m in bed.members}
        assert all(new_pids[name] != pids[name] for name in pids), (pids, new_pids)
        pids = new_pids
    assert_run(service(ansible, "restarted", check=True), True)
    assert pids == {m.name: cluster.listener_pid(m) for m in bed.members}
    cluster.wait_healthy(bed, timeout=5)


def test_a_start_that_cannot_succeed_fails_in_time_with_the_log(live, ansible, backend):
    bed = live
    node3 = bed.member("node3")
    timeout = 15
    if backend == "supervisor":
        with cluster.bad_flag_in_program(bed, node3, "--no-such-flag"):
            began = time.monotonic()
            run = service(ansible, "started", hosts="node3", manager="supervisor", timeout=timeout)
            took = time.monotonic() - began
    else:
        assert_run(service(ansible, "stopped", hosts="node3", manager="static_pod"), True, hosts=("node3",))
        held = node3.held_manifest_dir / "etcd.yaml"
        good = held.read_text()
        manifest = yaml.safe_load(good)
        manifest["spec"]["containers"][0]["command"].append("--no-such-flag")
        held.write_text(yaml.safe_dump(manifest))
        try:
            began = time.monotonic()
            run = service(ansible, "started", hosts="node3", manager="static_pod", timeout=timeout)
            took = time.monotonic() - began
        finally:
            (node3.manifest_dir / "etcd.yaml").write_text(good)
    result = run.results["node3"]
    assert result["failed"]
    assert "flag provided but not defined: -no-such-flag" in result["msg"], result["msg"]
    assert "last" in result["msg"] and "lines of the member's log" in result["msg"]
    assert any("flag provided but not defined" in line for line in result["log_tail"])
    assert took < timeout + 15, took
    if backend == "static_pod":
        assert took >= timeout, "the kubelet keeps restarting a static pod, so only the timeout ends the wait"
    cluster.wait_healthy(bed)


def test_a_lone_member_cannot_get_healthy_and_says_why(live, ansible, backend):
    bed = live
    assert_run(service(ansible, "stopped"), True)
    run = service(ansible, "started", hosts="node1", timeout=5)
    result = run.results["node1"]
    assert result["failed"] and result["changed"] is True
    assert "did not answer a health check within 5.0s" in result["msg"]
    assert "majority" in result["msg"]
    assert_run(service(ansible, "started"), True, hosts=("node2", "node3"))
    cluster.wait_healthy(bed)


def test_stopped_fails_naming_what_still_listens(live, ansible, backend, tmp_path):
    bed = live
    node3 = bed.member("node3")
    assert_run(service(ansible, "stopped", hosts="node3"), True, hosts=("node3",))
    squatter = subprocess.Popen([sys.executable, "-c", "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                                 "s.bind(('127.0.0.13', 2380)); s.listen(); time.sleep(120)"])
    try:
        deadline = time.monotonic() + 10
        while not listening(node3) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert listening(node3), "the squatter could not bind 127.0.0.13:2380"
        run = service(ansible, "stopped", hosts="node3", timeout=2)
    finally:
        squatter.kill()
        squatter.wait()
    result = run.results["node3"]
    assert result["failed"] and result["changed"] is False
    assert "etcd did not stop within 2.0s" in result["msg"]
    assert "pid %d (%s -c import socket" % (squatter.pid, sys.executable) in result["msg"]
    assert "listens on 127.0.0.13:2380" in result["msg"]
    assert result["log_tail"] == []
    assert_run(service(ansible, "started", hosts="node3"), True, hosts=("node3",))


def test_bad_input_fails_before_anything_is_stopped(live, ansible, backend):
    bed = live
    run = service(ansible, "restarted", hosts="node2", cacert="/nonexistent/ca.crt")
    result = run.results["node2"]
    assert result["failed"] and result["changed"] is False
    assert "cacert file /nonexistent/ca.crt does not exist on this host" in result["msg"]
    assert "Traceback" not in run.output
    cluster.wait_healthy(bed, [bed.member("node2")], timeout=5)


def test_member_config_comes_from_the_running_etcd_and_from_its_manager(live, ansible, backend):
    bed = live
    checked = service(ansible, "started", check=True)
    assert_run(checked, False)
    for member in bed.members:
        result = checked.results[member.name]
        pid = cluster.listener_pid(member)
        manager = (f"supervisor program {member.service} in {bed.supervisor_conf}" if backend == "supervisor"
                   else f"static pod manifest {member.manifest_dir / 'etcd.yaml'}")
        pki = member.root / "pki"
        tls = {"cert-file": str(pki / "server.crt"), "key-file": str(pki / "server.key"),
               "trusted-ca-file": str(bed.cacert), "peer-cert-file": str(pki / "peer.crt"),
               "peer-key-file": str(pki / "peer.key"), "peer-trusted-ca-file": str(bed.cacert)}
        same = dict(name=member.name, initial_advertise_peer_urls=[member.peer_url], data_dir=str(member.data_dir),
                    wal_dir=None, program=str(services.etcd_bin_dir() / "etcd"), tls_files=tls)
        assert result["member_config"] == [
            dict(same, kind="process",
                 source=f"running process pid {pid} (/proc/{pid}/cmdline), config file {member.config_file}"),
            dict(same, kind=backend, source=f"{manager}, config file {member.config_file}")], result
        assert result["member_config_missing"] is None and result["member_config_unread"] == []

    node3 = bed.member("node3")
    assert_run(service(ansible, "stopped", hosts="node3"), True, hosts=("node3",))
    for check in (True, False):
        result = service(ansible, "stopped", hosts="node3", check=check).results["node3"]
        assert [(s["kind"], s["name"]) for s in result["member_config"]] == [(backend, "node3")], result
        assert result["member_config_missing"] is None
    held = service(ansible, "started", hosts="node3", check=True).results["node3"]
    if backend == "static_pod":
        assert held["member_config"][0]["source"].startswith(
            f"static pod manifest {node3.held_manifest_dir / 'etcd.yaml'}")
    assert_run(service(ansible, "started", hosts="node3"), True, hosts=("node3",))
