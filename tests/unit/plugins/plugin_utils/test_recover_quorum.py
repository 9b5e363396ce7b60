"""Which member a cluster that lost quorum is recovered from: the one whose database got furthest (consistent index,
then revision), or the one named; refused while the cluster has quorum or when no database is readable; the newest
backup and how far the recovery is beyond it."""
from ansible_collections.etcdops.dr.plugins.plugin_utils._recover_quorum import choose

HOSTS = ["node1", "node2", "node3"]
DOWN = dict(failed=True, msg=("no etcd endpoint answered: etcd endpoint https://n1:2379: connection refused: etcd is "
                              "not listening there; check that it runs on that host and the port is right."))


def data(index, revision, backup=None, term=2):
    return dict(readable=True, consistent_index=index, revision=revision, term=term, newest_backup=backup, error=None)


def lost(why="no database at /var/lib/etcd/member/snap/db"):
    return dict(readable=False, error=why, newest_backup=None)


def test_the_member_that_got_furthest_is_chosen_and_the_gain_over_the_newest_backup_is_told():
    backup = dict(path="/b/etcd-snapshot-1.db", revision=90, created="2026-12-07T10:00:00Z")
    older = dict(path="/b/etcd-snapshot-0.db", revision=70, created="2026-12-06T10:00:00Z")
    decision = choose(HOSTS, {"node1": data(120, 95, older), "node2": data(130, 100, backup), "node3": lost()}, DOWN)
    assert decision["ok"] and decision["source"] == "node2"
    assert (decision["consistent_index"], decision["revision"]) == (130, 100)
    assert decision["newest_backup"] == backup and decision["revisions_beyond_backup"] == 10
    assert decision["notes"] == ["node3: its data is not used: no database at /var/lib/etcd/member/snap/db."]
    assert set(decision["candidates"]) == {"node1", "node2"}


def test_a_tie_on_the_index_goes_to_the_higher_revision_then_to_the_first_host():
    assert choose(HOSTS, {"node1": data(5, 3), "node2": data(5, 4), "node3": data(5, 4)}, DOWN)["source"] == "node2"


def test_a_named_source_is_used_and_what_it_loses_is_said():
    decision = choose(HOSTS, {"node1": data(120, 95), "node2": data(130, 100), "node3": lost()}, DOWN, source="node1")
    assert decision["ok"] and decision["source"] == "node1"
    assert any("node1 was chosen, though node2 got further (consistent index 130, revision 100)" in note
               for note in decision["notes"])


def test_a_named_source_without_a_readable_database_is_refused():
    decision = choose(HOSTS, {"node1": data(1, 1), "node2": lost(), "node3": lost()}, DOWN, source="node3")
    assert not decision["ok"] and decision["source"] is None
    assert decision["problems"] == ["recover_quorum_source node3 has no readable database: choose one of node1."]


def test_no_readable_database_is_refused_naming_the_restore():
    decision = choose(HOSTS, {host: lost() for host in HOSTS}, DOWN)
    assert not decision["ok"] and decision["source"] is None and decision["revision"] is None
    assert "no member's data dir holds a readable etcd database" in decision["problems"][0]
    assert "etcdops.dr.restore" in decision["problems"][0]


def test_a_cluster_with_quorum_is_refused_unless_forced():
    cluster = dict(quorum=True, leader=dict(name="node1"),
                   endpoints=[dict(name="node1", endpoint="u1", reachable=True),
                              dict(name="node2", endpoint="u2", reachable=True)])
    infos = {"node1": data(9, 9), "node2": data(9, 9), "node3": lost()}
    refused = choose(HOSTS, infos, cluster)
    assert not refused["ok"]
    assert "the cluster has quorum (node1, node2 answer and follow leader node1)" in refused["problems"][0]
    assert "etcdops.dr.replace_member" in refused["problems"][0]
    assert choose(HOSTS, infos, cluster, force=True)["ok"]


def test_a_cluster_whose_quorum_could_not_be_checked_is_not_taken_for_one_without():
    wrong_ca = dict(failed=True, msg="no etcd endpoint answered: etcd endpoint https://n1:2379: the server's TLS "
                                     "certificate is not signed by the CA in cacert (/ca.crt)")
    infos = {"node1": data(9, 9), "node2": lost(), "node3": lost()}
    refused = choose(HOSTS, infos, wrong_ca)
    assert not refused["ok"] and "whether the cluster still has quorum could not be checked" in refused["problems"][0]
    down = dict(failed=True, msg="no etcd endpoint answered: etcd endpoint https://n1:2379: request failed: UNKNOWN "
                                 "context deadline exceeded. etcd endpoint https://n2:2379: connection refused: etcd is "
                                 "not listening there")
    assert choose(HOSTS, infos, down)["ok"]


def test_a_member_behind_the_newest_backup_is_refused_unless_forced():
    backup = dict(path="/b/etcd-snapshot-1.db", revision=90, created="2026-12-07T10:00:00Z")
    infos = {"node1": data(50, 60, backup), "node2": lost(), "node3": lost()}
    refused = choose(HOSTS, infos, DOWN)
    assert not refused["ok"] and "is newer than node1's data (revision 60)" in refused["problems"][0]
    forced = choose(HOSTS, infos, DOWN, force=True)
    assert forced["ok"] and forced["revisions_beyond_backup"] == -30
