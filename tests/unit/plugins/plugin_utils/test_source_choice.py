"""Source member choice: a healthy, voting, up-to-date follower first; members that are down are passed
over and named; a named source that cannot serve fails instead of being replaced; an unfit cluster is refused."""
from ansible_collections.etcdops.dr.plugins.plugin_utils._source_choice import choose_source

URLS = {"node1": "https://n1:2379", "node2": "https://n2:2379", "node3": "https://n3:2379"}
IDS = {"node1": "a1", "node2": "b2", "node3": "c3"}


def entry(host, leader="a1", raft_index=100, applied=None, **extra):
    values = dict(endpoint=URLS[host], reachable=True, cluster_id="c0", member_id=IDS[host], name=host,
                  leader_id=leader, raft_index=raft_index, raft_applied_index=applied or raft_index,
                  is_learner=False, errors=[])
    values.update(extra)
    return values


def down(host):
    return dict(endpoint=URLS[host], reachable=False, cluster_id=None, member_id=None, name=None, leader_id=None,
                raft_index=None, raft_applied_index=None, is_learner=None, errors=["connection refused"])


def cluster(*entries, leader="a1", alarms=()):
    return dict(cluster_id="c0", endpoints=list(entries), leader=dict(id=leader, name="node1") if leader else None,
                alarms=list(alarms))


def test_the_first_follower_is_chosen_sparing_the_leader():
    choice = choose_source(cluster(entry("node1"), entry("node2"), entry("node3")), URLS)
    assert choice["ok"] and choice["host"] == "node2" and choice["endpoint"] == URLS["node2"]
    assert choice["is_leader"] is False and choice["member_id"] == "b2" and "follower" in choice["why"]
    assert choice["skipped"] == [] and choice["problems"] == []


def test_a_stopped_member_is_passed_over_and_named():
    choice = choose_source(cluster(entry("node1"), down("node2"), entry("node3")), URLS)
    assert choice["host"] == "node3"
    assert choice["skipped"] == ["node2 (https://n2:2379): it did not answer: connection refused"]


def test_learners_laggards_and_members_with_errors_are_passed_over():
    choice = choose_source(cluster(entry("node1", raft_index=5000), entry("node2", is_learner=True, raft_index=5000),
                                   entry("node3", applied=3000, raft_index=5000)), URLS)
    assert choice["host"] == "node1" and choice["is_leader"] is True and "leader" in choice["why"]
    assert "learner" in choice["skipped"][0] and "2000 raft entries behind the leader (more than 1000)" in choice[
        "skipped"][1]
    erring = choose_source(cluster(entry("node1"), entry("node2", errors=["NOSPACE"]), entry("node3")), URLS)
    assert erring["host"] == "node3" and "it reports errors: NOSPACE" in erring["skipped"][0]


def test_prefer_follower_off_takes_the_first_fit_member():
    choice = choose_source(cluster(entry("node1"), entry("node2"), entry("node3")), URLS, prefer_follower=False)
    assert choice["host"] == "node1" and choice["is_leader"] is True


def test_a_named_source_is_used_or_refused_never_replaced():
    assert choose_source(cluster(entry("node1"), entry("node2"), entry("node3")), URLS, source="node1")["host"] == \
        "node1"
    refused = choose_source(cluster(entry("node1"), entry("node2"), down("node3")), URLS, source="node3")
    assert not refused["ok"] and refused["host"] is None
    assert refused["problems"] == ["backup_source node3 (https://n3:2379) cannot be the source: it did not answer: "
                                   "connection refused; choose another host or leave backup_source empty to choose "
                                   "one"]
    unknown = choose_source(cluster(entry("node1"), entry("node2"), entry("node3")), URLS, source="node9")
    assert not unknown["ok"] and "backup_source node9 is not a host of this play (node1, node2, node3)" in unknown[
        "problems"][0]


def test_an_unfit_cluster_is_refused_unless_told_otherwise():
    no_leader = cluster(entry("node1", leader=None), entry("node2", leader=None), entry("node3", leader=None),
                        leader=None)
    refused = choose_source(no_leader, URLS)
    assert not refused["ok"] and refused["cluster_unfit"] and "no member reports a leader" in refused["problems"][0]
    assert choose_source(no_leader, URLS, require_healthy=False)["host"] == "node1"
    alarmed = choose_source(cluster(entry("node1"), entry("node2"), entry("node3"),
                                    alarms=[dict(alarm="NOSPACE", member_id="b2")]), URLS)
    assert alarmed["problems"] == ["alarm NOSPACE is raised on member b2"]
    split = choose_source(cluster(entry("node1"), entry("node2", leader="b2"), entry("node3")), URLS)
    assert split["problems"] == ["members disagree about the leader: a1, b2"]


def test_no_member_fit_names_every_reason():
    choice = choose_source(cluster(entry("node1", is_learner=True), down("node2"), down("node3")), URLS)
    assert not choice["ok"] and not choice["cluster_unfit"]
    assert choice["problems"][0].startswith("no member can be the source: node1 (https://n1:2379): it is a learner")
    assert "node3 (https://n3:2379): it did not answer" in choice["problems"][0]


def test_a_member_of_another_cluster_is_not_chosen():
    stranger = entry("node2", cluster_id="ff")
    choice = choose_source(cluster(entry("node1"), stranger, entry("node3")), URLS, require_healthy=False)
    assert choice["host"] == "node3" and "belongs to cluster ff, not c0" in choice["skipped"][0]


def test_a_host_without_ssh_is_passed_over_and_cannot_be_named():
    healthy = cluster(entry("node1"), entry("node2"), entry("node3"))
    choice = choose_source(healthy, URLS, unreachable=["node2"])
    assert choice["host"] == "node3" and choice["skipped"] == ["node2 (https://n2:2379): its host is not reachable "
                                                               "over SSH"]
    named = choose_source(healthy, URLS, source="node2", unreachable=["node2"])
    assert not named["ok"] and "its host is not reachable over SSH" in named["problems"][0]
