"""etcd_cluster_info's main() with the client seam faked: results, health reasoning and failures."""
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.etcdops.dr.plugins.module_utils._etcd import client as _client
from ansible_collections.etcdops.dr.plugins.module_utils._etcd import cluster_info as _cluster_info
from ansible_collections.etcdops.dr.plugins.modules import etcd_cluster_info

MEMBERS = [dict(id="a1", name="node1", peer_urls=["https://10.0.0.1:2380"], client_urls=["https://10.0.0.1:2379"],
                is_learner=False),
           dict(id="b2", name="node2", peer_urls=["https://10.0.0.2:2380"], client_urls=["https://10.0.0.2:2379"],
                is_learner=False)]


class FakeConnection:
    library_name = "pyetcd"

    def __init__(self, endpoint, member_id, revision=10, leader="a1", fail=None, hash_value=7, alarms=()):
        self.endpoint = endpoint
        self.member_id = member_id
        self.revision = revision
        self.leader = leader
        self.fail = fail
        self.hash_value = hash_value
        self._alarms = list(alarms)
        self.hashed_at = None

    def open(self):
        if self.fail:
            raise _client.EtcdError(self.fail, endpoint=self.endpoint)
        return self

    def close(self):
        pass

    def status(self):
        return dict(cluster_id="c0", member_id=self.member_id, revision=self.revision, version="3.5.1", db_size=100,
                    db_size_in_use=80, leader_id=self.leader, raft_index=5, raft_term=2, raft_applied_index=5,
                    is_learner=False, errors=[])

    def members(self):
        return MEMBERS

    def alarms(self):
        return self._alarms

    def hash_kv(self, revision):
        self.hashed_at = revision
        return dict(hash=self.hash_value, compact_revision=-1, revision=revision)


def run(monkeypatch, capsys, connections, **args):
    monkeypatch.setattr(_cluster_info, "connect_all", lambda params: connections)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            etcd_cluster_info.main()
    return json.loads(capsys.readouterr().out)


def test_healthy_cluster(monkeypatch, capsys):
    conns = [FakeConnection("https://10.0.0.1:2379", "a1", revision=12), FakeConnection("https://10.0.0.2:2379", "b2")]
    result = run(monkeypatch, capsys, conns, hash_kv=True)
    assert result["healthy"] is True and result["changed"] is False
    assert result["leader"] == {"id": "a1", "name": "node1"}
    assert [e["name"] for e in result["endpoints"]] == ["node1", "node2"]
    assert result["hash_kv_revision"] == 10 and conns[0].hashed_at == 10
    assert result["hash_kv_consistent"] is True
    assert result["msg"] == "cluster c0: 2 members, leader node1, healthy"


def test_differing_hashes_and_alarms_make_it_unhealthy(monkeypatch, capsys):
    conns = [FakeConnection("https://10.0.0.1:2379", "a1", alarms=[dict(member_id="b2", alarm="NOSPACE")]),
             FakeConnection("https://10.0.0.2:2379", "b2", hash_value=8)]
    result = run(monkeypatch, capsys, conns, hash_kv=True)
    assert result["healthy"] is False
    assert result["hash_kv_consistent"] is False
    assert "alarm NOSPACE raised on member b2" in result["health_problems"]
    assert "members' KV hashes differ at revision 10" in result["health_problems"]


def test_unreachable_member_is_reported_not_fatal(monkeypatch, capsys):
    conns = [FakeConnection("https://10.0.0.1:2379", "a1", fail="etcd endpoint https://10.0.0.1:2379: connection refused."),
             FakeConnection("https://10.0.0.2:2379", "b2")]
    result = run(monkeypatch, capsys, conns)
    assert result["endpoints"][0]["reachable"] is False
    assert result["endpoints"][1]["reachable"] is True
    assert result["members"] == MEMBERS
    assert result["healthy"] is False
    assert result["hash_kv_revision"] is None and result["hash_kv_consistent"] is None


def test_no_endpoint_answering_fails_with_each_reason(monkeypatch, capsys):
    conns = [FakeConnection("https://10.0.0.%d:2379" % i, "x", fail="etcd endpoint %d: refused." % i) for i in (1, 2)]
    result = run(monkeypatch, capsys, conns)
    assert result["failed"] is True
    assert result["msg"] == "no etcd endpoint answered: etcd endpoint 1: refused. etcd endpoint 2: refused."


def test_disagreeing_leaders_are_a_problem(monkeypatch, capsys):
    conns = [FakeConnection("https://10.0.0.1:2379", "a1", leader="a1"),
             FakeConnection("https://10.0.0.2:2379", "b2", leader="b2")]
    result = run(monkeypatch, capsys, conns)
    assert any("disagree about the leader" in p for p in result["health_problems"])


def test_missing_library_fails_with_package_name(monkeypatch, capsys):
    def missing(params):
        raise _client.ClientLibraryMissing("the Python etcd client is not usable: ... Install etcd-sdk-python or etcd3")
    monkeypatch.setattr(_cluster_info, "connect_all", missing)
    with patch_module_args({}):
        with pytest.raises(SystemExit):
            etcd_cluster_info.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert "Failed to import the required Python library (etcd-sdk-python or etcd3)" in result["msg"]


def test_endpoint_that_fails_after_status_is_not_counted_reachable(monkeypatch, capsys):
    class BrokenMembers(FakeConnection):
        def members(self):
            raise _client.EtcdError("etcd endpoint https://10.0.0.1:2379: request failed: INTERNAL boom.")
    conns = [BrokenMembers("https://10.0.0.1:2379", "a1"), FakeConnection("https://10.0.0.2:2379", "b2")]
    result = run(monkeypatch, capsys, conns)
    assert result["endpoints"][0]["reachable"] is False
    assert "INTERNAL boom" in result["endpoints"][0]["errors"][0]
    assert result["members"] == MEMBERS and result["cluster_id"] == "c0"
    assert result["healthy"] is False


def test_quorum_counts_the_members_that_answer_and_follow_the_leader(monkeypatch, capsys):
    three = MEMBERS + [dict(id="c3", name="node3", peer_urls=["https://10.0.0.3:2380"],
                            client_urls=["https://10.0.0.3:2379"], is_learner=False)]
    monkeypatch.setattr(FakeConnection, "members", lambda self: three)
    two_of_three = [FakeConnection("https://10.0.0.1:2379", "a1"), FakeConnection("https://10.0.0.2:2379", "b2"),
                    FakeConnection("https://10.0.0.3:2379", "c3", fail="connection refused")]
    result = run(monkeypatch, capsys, two_of_three)
    assert result["healthy"] is False and result["quorum"] is True and result["missing_members"] == ["node3"]
    one_of_three = [FakeConnection("https://10.0.0.1:2379", "a1"),
                    FakeConnection("https://10.0.0.2:2379", "b2", fail="connection refused"),
                    FakeConnection("https://10.0.0.3:2379", "c3", fail="connection refused")]
    result = run(monkeypatch, capsys, one_of_three)
    assert result["quorum"] is False and result["missing_members"] == ["node2", "node3"]
