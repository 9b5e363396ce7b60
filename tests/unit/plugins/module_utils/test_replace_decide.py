"""Whether one member may be replaced, decided from the cluster as cluster_info.read() reports it: quorum without the
old member, one member at a time, no other learner, no alarm, a resume taking its own learner or voter into account,
a peer URL held by another member, the new member's etcd of the cluster's minor version."""
import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._replace.decide import (
    decide, initial_cluster, member_healthy, split_members, version_problem)

LEADER = "a1"


def member(member_id, name, peer_url=None, learner=False):
    return dict(id=member_id, name=name, peer_urls=[peer_url or "https://%s:2380" % name],
                client_urls=["https://%s:2379" % name], is_learner=learner)


def endpoint(member_id, name, leader=LEADER, errors=(), version="3.5.16"):
    """A member's endpoint that answered; member_id None for one that did not."""
    if member_id is None:
        return dict(endpoint="https://%s:2379" % name, reachable=False, member_id=None, leader_id=None,
                    errors=["connection refused"], version=None, cluster_id=None, name=None)
    return dict(endpoint="https://%s:2379" % name, reachable=True, member_id=member_id, leader_id=leader,
                errors=list(errors), version=version, cluster_id="c0ffee", name=name)


def cluster(members, down=(), alarms=(), leader=LEADER, endpoints=None):
    """cluster_info.read()'s shape: every member asked through its endpoint, those named in `down` not answering."""
    names = {m["id"]: m["name"] for m in members}
    return dict(answered=True, cluster_id="c0ffee", members=members, alarms=list(alarms),
                leader=dict(id=leader, name=names.get(leader)) if leader else None,
                endpoints=endpoints if endpoints is not None else [
                    endpoint(None if m["name"] in down else m["id"], m["name"]) for m in members])


THREE = [member("a1", "n1"), member("b2", "n2"), member("c3", "n3")]
FIVE = THREE + [member("d4", "n4"), member("e5", "n5")]
PEER3 = "https://n3:2380"


def test_a_member_that_is_down_in_a_healthy_cluster_may_be_replaced():
    decision = decide(cluster(THREE, down=["n3"]), "n3", PEER3, None, False)
    assert decision == dict(ok=True, problems=[], notes=[], old=THREE[2], new=None, voting=3, cluster_id="c0ffee",
                            leader=LEADER)


def test_a_healthy_member_is_replaced_only_when_forced():
    refused = decide(cluster(THREE), "n3", PEER3, None, False)
    assert not refused["ok"] and refused["old"] == THREE[2]
    assert refused["problems"] == ["member n3 (c3) is healthy: replacing it throws away a working member. If that "
                                   "is meant (a member to move, or data known bad), give replace_force=true."]
    forced = decide(cluster(THREE), "n3", PEER3, None, True)
    assert forced["ok"] and forced["problems"] == [] and forced["old"] == THREE[2]


def test_a_healthy_member_this_replacement_chose_already_needs_no_force_on_resume():
    journal = dict(step="planned", run_id="R1", old_member_id="c3")
    assert decide(cluster(THREE), "n3", PEER3, journal, False)["ok"]


def test_two_members_down_of_three_is_a_lost_quorum_for_recover_quorum():
    decision = decide(cluster(THREE, down=["n2", "n3"]), "n3", PEER3, None, False)
    assert not decision["ok"]
    assert decision["problems"] == [
        "without n3 the cluster has no quorum: 1 of its 3 voting members answer and follow a leader (n1). Removing "
        "and adding a member needs a majority, so a replacement cannot help: recover the cluster from the surviving "
        "member's data with etcdops.dr.recover_quorum (docs/runbook.md)."]


def test_a_cluster_that_does_not_answer_is_sent_to_recover_quorum():
    down = dict(answered=False, msg="no etcd endpoint answered: connection refused", members=[], endpoints=[],
                leader=None, alarms=[], cluster_id=None)
    decision = decide(down, "n3", PEER3, None, False)
    assert decision == dict(ok=False, notes=[], old=None, new=None, problems=[
        "the cluster does not answer through any member (no etcd endpoint answered: connection refused): a member "
        "can be replaced only while the others keep quorum. If most members are lost, recover the cluster from a "
        "survivor's data with etcdops.dr.recover_quorum (docs/runbook.md)."])


def test_members_that_answer_without_a_leader_or_with_errors_do_not_count():
    no_leader = cluster(THREE, down=["n3"], leader=None)
    assert "0 of its 3 voting members answer" in decide(no_leader, "n3", PEER3, None, False)["problems"][0]
    errors = cluster(THREE, endpoints=[endpoint("a1", "n1"), endpoint("b2", "n2", errors=["NOSPACE"]),
                                       endpoint(None, "n3")])
    assert "1 of its 3 voting members answer and follow a leader (n1)" in decide(
        errors, "n3", PEER3, None, False)["problems"][0]
    other_leader = cluster(THREE, endpoints=[endpoint("a1", "n1"), endpoint("b2", "n2", leader="b2"),
                                             endpoint(None, "n3")])
    assert not member_healthy(other_leader, THREE[1]) and member_healthy(other_leader, THREE[0])


def test_another_learner_in_the_cluster_is_refused():
    members = THREE + [member("f6", "", "https://n9:2380", learner=True)]
    decision = decide(cluster(members, down=["n3", ""]), "n3", PEER3, None, False)
    assert decision["problems"] == ["the cluster has a learner already (unnamed f6): etcd takes one learner at a "
                                    "time; promote or remove it first."]
    assert decision["voting"] == 3


def test_a_resume_counts_its_own_learner_as_the_new_member():
    # The old member is gone, the learner this run added (no name until it starts) is in its place.
    members = THREE[:2] + [member("f6", "", PEER3, learner=True)]
    journal = dict(step="added", run_id="R1", old_member_id="c3", new_member_id="f6")
    decision = decide(cluster(members, down=[""]), "n3", PEER3, journal, False)
    assert decision["ok"] and decision["problems"] == [] and decision["notes"] == []
    assert (decision["old"], decision["new"], decision["voting"]) == (None, members[2], 2)


def test_a_resume_counts_its_promoted_member_as_the_new_member_not_the_old():
    members = THREE[:2] + [member("f6", "n3", PEER3)]
    journal = dict(step="promoted", run_id="R1", old_member_id="c3", new_member_id="f6")
    decision = decide(cluster(members, down=["n3"]), "n3", PEER3, journal, False)
    assert decision["ok"] and (decision["old"], decision["new"], decision["voting"]) == (None, members[2], 3)
    # Running, it is healthy: that is not a reason to refuse, it is not the member to remove.
    assert decide(cluster(members), "n3", PEER3, journal, False)["ok"]


def test_a_member_removed_already_is_noted_and_only_added():
    decision = decide(cluster(THREE[:2]), "n3", PEER3, None, False)
    assert decision["ok"] and (decision["old"], decision["new"]) == (None, None)
    assert decision["notes"] == ["n3 is not a member of the cluster (removed already, or a new member): nothing is "
                                 "removed, a new member is added."]


def test_the_peer_url_of_another_member_is_refused():
    members = [member("a1", "n1"), member("b2", "n2", PEER3), member("c3", "n3", "https://10.0.0.3:2380")]
    decision = decide(cluster(members, down=["n3"]), "n3", PEER3, None, False)
    assert decision["problems"] == ["member c3 (https://10.0.0.3:2380) is named n3, but another member, n2 (b2), has "
                                    "its peer URL https://n3:2380: fix etcd_member_name or etcd_peer_url, or remove "
                                    "that member first."]
    assert decision["old"] == members[2]


def test_a_member_found_by_its_peer_url_alone_is_the_one_to_remove():
    members = THREE[:2] + [member("c3", "", PEER3)]
    old, new, problems = split_members(cluster(members), "n3", PEER3, None)
    assert (old, new, problems) == (members[2], None, [])


def test_a_raised_alarm_is_refused():
    decision = decide(cluster(THREE, down=["n3"], alarms=[dict(alarm="NOSPACE", member_id="a1")]), "n3", PEER3,
                      None, False)
    assert decision["problems"] == ["alarms are raised (NOSPACE on a1): clear them first (a NOSPACE cluster takes no "
                                    "membership change)."]


def test_five_members_with_another_one_down_replace_one_at_a_time():
    decision = decide(cluster(FIVE, down=["n3", "n5"]), "n3", PEER3, None, False)
    assert decision["voting"] == 5 and decision["old"] == FIVE[2]
    assert decision["problems"] == ["members n5 are not healthy too: replace one member at a time, while the rest of "
                                    "the cluster is healthy (etcdops.dr.health tells what is wrong). When more members "
                                    "are lost than this one and the cluster keeps quorum without all of them (2 of 5), "
                                    "replace them one by one with replace_force=true."]
    assert decide(cluster(FIVE, down=["n3"]), "n3", PEER3, None, False)["ok"]
    # Two of five lost: quorum holds without both, so they are replaced one by one with replace_force.
    forced = decide(cluster(FIVE, down=["n3", "n5"]), "n3", PEER3, None, True)
    assert forced["ok"] and forced["notes"] == ["members n5 are not healthy either; the cluster keeps quorum without "
                                                "them (replace_force)."]


def test_five_members_with_three_down_have_no_quorum():
    decision = decide(cluster(FIVE, down=["n3", "n4", "n5"]), "n3", PEER3, None, False)
    assert decision["problems"][0].startswith("without n3 the cluster has no quorum: 2 of its 5 voting members "
                                              "answer and follow a leader (n1, n2).")


def test_every_problem_is_reported_at_once():
    members = FIVE + [member("f6", "n6", learner=True)]
    decision = decide(cluster(members, down=["n5"], alarms=[dict(alarm="CORRUPT", member_id="b2")]), "n3", PEER3,
                      None, False)
    assert [problem.split(" ")[0] for problem in decision["problems"]] == ["members", "alarms", "member", "the"]


@pytest.mark.parametrize("local, versions, problem, not_checked", [
    ("3.5.17", ["3.5.16", "3.5.16", None], None, None),
    ("v3.5.0", ["3.5.16"], None, None),
    ("3.4.30", ["3.5.16", "3.5.15"],
     "the etcd of n3 is etcd 3.4.30, and the cluster runs etcd 3.5.15, 3.5.16: a member joins only a cluster of its "
     "own minor version; install etcd 3.5.15 there (etcdops.dr.prepare) or point the member's manager at it.", None),
    ("3.6.0", ["3.5.16"],
     "the etcd of n3 is etcd 3.6.0, and the cluster runs etcd 3.5.16: a member joins only a cluster of its own minor "
     "version; install etcd 3.5.16 there (etcdops.dr.prepare) or point the member's manager at it.", None),
    ("3.5.16", [None], None, "the etcd version was not compared: no member reported its version"),
    (None, ["3.5.16"], None, "the etcd version of the etcd of n3 was not compared: it could not be read"),
])
def test_the_new_members_etcd_must_be_of_the_clusters_minor_version(local, versions, problem, not_checked):
    endpoints = [endpoint("x%d" % index, "m%d" % index, version=version) for index, version in enumerate(versions)]
    assert version_problem(dict(endpoints=endpoints), local, "the etcd of n3") == (problem, not_checked)


def test_the_new_members_initial_cluster_names_every_member_sorted():
    members = [member("b2", "n2"), member("a1", "n1"), member("f6", "", PEER3, learner=True)]
    assert initial_cluster(members, "n3", PEER3, "f6") == (
        "n1=https://n1:2380,n2=https://n2:2380,n3=https://n3:2380")
    # Before the learner is in the list, the new member is added by name and peer URL.
    assert initial_cluster(members[:2], "n0", "https://n0:2380", "f6") == (
        "n0=https://n0:2380,n1=https://n1:2380,n2=https://n2:2380")
    two_urls = [dict(member("a1", "n1"), peer_urls=["https://n1:2380", "https://10.0.0.1:2380"])]
    assert initial_cluster(two_urls, "n3", PEER3, "f6") == (
        "n1=https://10.0.0.1:2380,n1=https://n1:2380,n3=https://n3:2380")
