"""etcd_cluster_info against the live 3-member test bed, through ansible-playbook over SSH."""
import json

import pytest

from testbed import cluster, layout, scratch

MODULE = "etcdops.dr.etcd_cluster_info"


def _hex(number):
    return "%x" % number


def _live_view(bed):
    """What etcdctl (not our code) says about the cluster."""
    statuses = cluster.endpoint_status(bed)
    members = json.loads(cluster.etcdctl(bed, "member", "list", "-w", "json").stdout)["members"]
    return statuses, members


def _assert_no_traceback(run):
    """No Python traceback in what the user sees, nor anywhere in the result. (ansible-core 2.19 adds an
    `exception` key to every failure; it holds a traceback only when tracebacks are switched on.)"""
    assert "Traceback" not in run.output
    for result in run.results.values():
        assert "module_stderr" not in result, result
        assert "Traceback" not in json.dumps(result) and 'File \\"' not in json.dumps(result), result


@pytest.mark.parametrize("library", ["pyetcd", "etcd3"])
def test_reports_members_leader_and_revision_of_live_cluster(live, ansible, library):
    for i in range(5):
        cluster.etcdctl(live, "put", f"/registry/test/key{i}", f"value{i}")
    statuses, members = _live_view(live)

    run = ansible.module(MODULE, {"hash_kv": True, "client_library": library})

    # db size and raft index move on their own (backend commits, raft heartbeats): bound them by
    # etcdctl's readings before and after the run.
    after = {s["Endpoint"]: s["Status"] for s in cluster.endpoint_status(live)}

    assert run.rc == 0, run.output
    _assert_no_traceback(run)
    assert sorted(run.results) == ["node1", "node2", "node3"]
    leader = _hex(statuses[0]["Status"]["leader"])
    for host, result in run.results.items():
        assert result["changed"] is False
        assert result["client_library"] == library
        assert result["healthy"] is True, result["health_problems"]
        assert result["cluster_id"] == _hex(statuses[0]["Status"]["header"]["cluster_id"])
        assert sorted((m["id"], m["name"], m["peer_urls"], m["client_urls"], m["is_learner"])
                      for m in result["members"]) == sorted(
            (_hex(m["ID"]), m["name"], m["peerURLs"], m["clientURLs"], m.get("isLearner", False)) for m in members)
        assert result["leader"]["id"] == leader
        by_url = {e["endpoint"]: e for e in result["endpoints"]}
        for status in statuses:
            entry = by_url[status["Endpoint"]]
            assert entry["reachable"] is True
            assert entry["member_id"] == _hex(status["Status"]["header"]["member_id"])
            assert entry["name"] == live.member(entry["name"]).name
            assert entry["revision"] == status["Status"]["header"]["revision"]
            assert entry["leader_id"] == leader
            assert entry["version"] == status["Status"]["version"]
            assert status["Status"]["dbSize"] <= entry["db_size"] <= after[status["Endpoint"]]["dbSize"]
            assert 0 < entry["db_size_in_use"] <= entry["db_size"]
            assert entry["raft_term"] == status["Status"]["raftTerm"]
            assert status["Status"]["raftIndex"] <= entry["raft_index"] <= after[status["Endpoint"]]["raftIndex"]
            assert entry["hash_kv"]["revision"] == result["hash_kv_revision"]
        assert result["hash_kv_revision"] == statuses[0]["Status"]["header"]["revision"]
        assert result["hash_kv_consistent"] is True
        assert len({e["hash_kv"]["hash"] for e in result["endpoints"]}) == 1
        assert result["alarms"] == []


def test_check_mode_returns_the_same_facts(live, ansible):
    applied = ansible.module(MODULE, hosts="node1")
    checked = ansible.module(MODULE, hosts="node1", check=True)
    assert applied.rc == 0 and checked.rc == 0, checked.output
    for key in ("cluster_id", "members", "leader", "healthy"):
        assert checked.results["node1"][key] == applied.results["node1"][key]
    assert checked.results["node1"]["changed"] is False


def test_stopped_member_is_reported_unreachable_while_others_answer(live, ansible):
    stopped = live.member("node3")
    cluster.stop_member(live, stopped)
    try:
        run = ansible.module(MODULE, {"hash_kv": True}, hosts="node1")
    finally:
        cluster.start_member(live, stopped)
    assert run.rc == 0, run.output
    _assert_no_traceback(run)
    result = run.results["node1"]
    by_url = {e["endpoint"]: e for e in result["endpoints"]}
    assert by_url[stopped.client_url]["reachable"] is False
    assert "connection refused" in by_url[stopped.client_url]["errors"][0]
    for member in ("node1", "node2"):
        assert by_url[live.member(member).client_url]["reachable"] is True
    assert result["healthy"] is False
    assert any(stopped.client_url in problem for problem in result["health_problems"])
    assert result["leader"]["name"] in ("node1", "node2")
    assert result["hash_kv_consistent"] is True


def test_health_playbook_reports_healthy_cluster(live, ansible):
    run = ansible.playbook("etcdops.dr.health")
    assert run.rc == 0, run.output
    assert "3 members" in run.stdout and "healthy" in run.stdout


def test_health_playbook_fails_when_a_member_is_down(live, ansible):
    stopped = live.member("node2")
    cluster.stop_member(live, stopped)
    try:
        run = ansible.playbook("etcdops.dr.health")
    finally:
        cluster.start_member(live, stopped)
    assert run.rc != 0
    assert "not healthy" in run.stdout and stopped.client_url in run.stdout


PKI = layout.bed().pki
BAD_INPUT = {
    "endpoint_unreachable": ({"endpoints": ["https://127.0.0.11:2399"]}, ["2399", "connection refused"]),
    "wrong_ca": ({"cacert": str(PKI / "rogue" / "ca.crt")}, ["not signed by the CA in cacert", "rogue/ca.crt"]),
    "client_cert_missing": ({"cert": None, "key": None}, ["requires a client certificate", "set cert and key"]),
    "client_cert_not_trusted": ({"cert": str(PKI / "rogue" / "client.crt"), "key": str(PKI / "rogue" / "client.key")},
                                ["rejected the client certificate", "rogue/client.crt"]),
    "cacert_file_missing": ({"cacert": "/nonexistent/ca.crt"}, ["cacert file /nonexistent/ca.crt does not exist"]),
    "url_without_scheme": ({"endpoints": ["127.0.0.11:2379"]}, ["must start with https:// or http://"]),
    "url_without_port": ({"endpoints": ["https://127.0.0.11"]}, ["has no port"]),
    "url_bad_port": ({"endpoints": ["https://127.0.0.11:99999"]}, ["is not a valid URL"]),
    "http_to_tls_server": ({"endpoints": ["http://127.0.0.11:2379"]}, ["probably serves TLS"]),
    "cert_without_key": ({"key": None}, ["parameters are required together: cert, key"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_with_clear_message(live, ansible, case):
    overrides, expected = BAD_INPUT[case]
    args = {"endpoints": [live.member("node1").client_url], "cacert": str(live.cacert),
            "cert": str(live.client_cert), "key": str(live.client_key)}
    args.update(overrides)
    args = {k: v for k, v in args.items() if v is not None}

    run = ansible.module(MODULE, args, hosts="node1", defaults=False)

    result = run.results["node1"]
    assert result["failed"] is True
    for text in expected:
        assert text in result["msg"], result["msg"]
    _assert_no_traceback(run)


def test_missing_python_client_names_the_package(live, ansible):
    # Debian's own Python has neither etcd-sdk-python nor etcd3 (nor grpc).
    run = ansible.module(MODULE, hosts="node1", host_vars={"ansible_python_interpreter": "/usr/bin/python3"})
    result = run.results["node1"]
    assert result["failed"] is True
    assert "etcd-sdk-python" in result["msg"] and "etcd3" in result["msg"]
    assert "pip install" in result["msg"]
    _assert_no_traceback(run)


def test_wrong_password_is_reported(live, ansible, tmp_path):
    """Password auth on a scratch member with authentication enabled (the main cluster uses client
    certificates only, like kubeadm)."""
    with scratch.scratch_member(live, tmp_path / "auth-data") as member:
        member.etcdctl("user", "add", "root:right-password")
        member.etcdctl("auth", "enable")
        base = {"endpoints": [member.client_url], "cacert": str(live.cacert), "user": "root"}

        good = ansible.module(MODULE, dict(base, password="right-password"), hosts="node1", defaults=False)
        bad = ansible.module(MODULE, dict(base, password="wrong-password"), hosts="node1", defaults=False)

    assert good.results["node1"].get("failed") is not True, good.results["node1"]
    assert good.results["node1"]["members"][0]["name"] == "scratch"
    result = bad.results["node1"]
    assert result["failed"] is True
    assert "rejected user 'root' or its password" in result["msg"]
    assert "wrong-password" not in bad.output and "right-password" not in good.output
    _assert_no_traceback(bad)
