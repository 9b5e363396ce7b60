"""The restore's decisions across the hosts, on the controller: its options before any host is touched, then every
host's preflight added up - Kubernetes mode and its bump, the revision the restored members start at, one file
everywhere, a snapshot of this cluster, each member's configuration - with every reason to stop at once."""
import copy

from ansible_collections.etcdops.dr.plugins.plugin_utils._restore_preflight import decide, option_problems

HOSTS = ["node1", "node2", "node3"]
SHA = "ab" * 32
OPTIONS = dict(restore_kubernetes="auto", restore_bump_revision=1000000000, restore_allow_foreign_snapshot=False,
               restore_require_cluster_match=True, run_id="20261207T000000Z")


def member(host):
    number = host[-1]
    return dict(name=host, peer_url="https://10.0.0.%s:2380" % number, client_url="https://10.0.0.%s:2379" % number,
                data_dir="/var/lib/etcd")


def snapshot(**facts):
    report = dict(sha256=SHA, revision=120, last_key_revision=120, compact_revision=None,
                  scheduled_compact_revision=None, key_count=50, kubernetes_key_count=40,
                  manifest=dict(cluster_id="c0", etcd_version="3.5.16"),
                  members=[dict(id="1", name="node1", peer_urls=["https://10.0.0.1:2380"])])
    report.update(facts)
    return report


def cluster(revision=150, leader="m2"):
    endpoints = [dict(endpoint=member(host)["client_url"], member_id="m" + host[-1], revision=revision,
                      version="3.5.16", reachable=True) for host in HOSTS]
    return dict(answered=True, cluster_id="c0", leader=dict(id=leader, name="node2"), endpoints=endpoints,
                members=[dict(name=host, peer_urls=[member(host)["peer_url"]]) for host in HOSTS])


def source(host, **wrong):
    values = dict(source="running process pid 1 (/proc/1/cmdline)", kind="process", name=host,
                  initial_advertise_peer_urls=[member(host)["peer_url"]], data_dir="/var/lib/etcd")
    values.update(wrong)
    return values


def preflights(**changes):
    """Every host's preflight as etcd_restore_phase returns it; changes: {host: {key: value}} merged in."""
    found = {}
    for host in HOSTS:
        found[host] = dict(
            member=member(host), problems={}, cluster=None,
            kube_apiserver_check=dict(found=True, manager="static_pod", changed=True, listening=True),
            restore_check=dict(sha256=SHA, snapshot=snapshot(), tool="etcdutl", tool_version="3.5.16", journal=None,
                               server_version="3.5.16", previous_data_dir="/var/lib/etcd.pre-restore-x"),
            service_check=dict(member_config=[source(host)], member_config_missing=None, member_config_unread=[]))
        for key, value in changes.get(host, {}).items():
            found[host][key] = value
    found["node1"]["cluster"] = changes.get("cluster", cluster())
    return found


def hostvars(found, external=None):
    """hostvars as the role leaves them: each etcd host's preflight, and the share of the kube-apiserver hosts outside
    the play that each etcd host checked (a loop over loop_var __restore_kube_host)."""
    found_vars = {host: {"__restore_preflight": result} for host, result in found.items()}
    for number, (host, result) in enumerate((external or {}).items()):
        results = found_vars[HOSTS[number % len(HOSTS)]].setdefault(
            "__restore_kube_apiserver_preflight", {"results": [], "changed": False})["results"]
        results.append(dict(result, __restore_kube_host=host, ansible_loop_var="__restore_kube_host"))
    return found_vars


def run(found=None, external=None, **options):
    return decide(dict(OPTIONS, **options), HOSTS, hostvars(found or preflights(), external))


def external_ok():
    return dict(changed=True, found=True, manager="systemd", listening=True, failed=False)


def test_a_sound_cluster_may_be_restored_in_kubernetes_mode_from_its_keys_under_registry():
    decision = run()
    assert decision["ok"] and decision["problems"] == [], decision["problems"]
    assert decision["kubernetes"] is True and decision["bump"] == 1000000000
    assert decision["kubernetes_reason"] == "the snapshot holds 40 keys under /registry/ (a Kubernetes cluster's)"
    # Stacked etcd: kube-apiserver is stopped on every etcd host that has one.
    assert decision["kube_apiserver_hosts"] == HOSTS and decision["kube_apiserver_external"] == []
    assert decision["warnings"] == []
    assert decision["expected_revision"] == decision["expected_revision_max"] == 120 + 1000000000
    assert decision["live_revision"] == 150 and decision["leader"] == "node2"
    assert decision["sha256"] == SHA and decision["snapshot"]["key_count"] == 50
    assert "node2: etcd's configuration checked: running process pid 1 (/proc/1/cmdline)" in decision["notes"]
    assert decision["checks_not_run"] == []


def test_without_keys_under_registry_there_is_no_bump_and_no_revision_check_even_with_kube_apiserver_on_the_hosts():
    found = preflights(cluster=cluster(revision=10 ** 12), **{host: dict(restore_check=dict(
        preflights()[host]["restore_check"], snapshot=snapshot(kubernetes_key_count=0))) for host in HOSTS})
    decision = run(found)
    assert decision["ok"] and decision["kubernetes"] is False and decision["bump"] == 0, decision["problems"]
    assert decision["expected_revision"] == 120 and decision["kube_apiserver_hosts"] == []
    assert ("kube-apiserver is configured on node1, node2, node3, but the snapshot holds no key under /registry/: this "
            "etcd is not taken for kube-apiserver's - it is left running and the revision is not bumped"
            in " ".join(decision["notes"])), decision["notes"]
    # restore_kubernetes overrides what the keys say, both ways.
    forced = run(found, restore_kubernetes="true", restore_bump_revision=10 ** 13)
    assert forced["ok"] and forced["kubernetes"] is True and forced["bump"] == 10 ** 13, forced["problems"]
    assert forced["kube_apiserver_hosts"] == HOSTS and forced["kubernetes_reason"] == "restore_kubernetes is true"
    off = run(restore_kubernetes="false")
    assert off["ok"] and off["kubernetes"] is False and off["bump"] == 0 and off["kube_apiserver_hosts"] == []


def no_kube_apiserver_on(found, *hosts):
    for host in hosts:
        found[host]["kube_apiserver_check"] = dict(found=False, manager="static_pod", changed=False, listening=False)
        found[host]["problems"]["kube_apiserver_check"] = "no kube-apiserver found on this host: static pod manifest x"
    return found


def test_keys_under_registry_without_any_kube_apiserver_host_bump_the_revision_and_say_so_loudly():
    """External etcd restored without restore_kube_apiserver_group: no manifest on the etcd hosts any more decides
    that this is no Kubernetes cluster's etcd."""
    decision = run(no_kube_apiserver_on(preflights(), *HOSTS))
    assert decision["ok"] and decision["kubernetes"] is True and decision["bump"] == 1000000000, decision["problems"]
    assert decision["kube_apiserver_hosts"] == [] and decision["expected_revision"] == 120 + 1000000000
    assert decision["warnings"] == [
        "WARNING: Kubernetes mode (the snapshot holds 40 keys under /registry/ (a Kubernetes cluster's)), but no "
        "kube-apiserver host is known: none was found on the etcd hosts and restore_kube_apiserver_group is not set. "
        "A kube-apiserver that uses this etcd keeps running through the restore; the revision is still bumped by "
        "1000000000. With etcd apart from the kube-apiservers (external etcd), set restore_kube_apiserver_group to "
        "their group (docs/hosts.md)."]
    # Found on some etcd hosts only: those are stopped, the others named.
    some = run(no_kube_apiserver_on(preflights(), "node3"))
    assert some["ok"] and some["kube_apiserver_hosts"] == ["node1", "node2"] and some["warnings"] == []
    assert "kube-apiserver is stopped on node1, node2 only: none was found on node3." in some["notes"]
    # A kube-apiserver that is there but cannot be controlled is refused, not skipped.
    broken = preflights()
    broken["node2"]["kube_apiserver_check"] = dict(found=None)
    broken["node2"]["problems"]["kube_apiserver_check"] = "cannot find supervisord's configuration: x."
    assert "node2: cannot find supervisord's configuration: x." in run(broken)["problems"]


def test_kube_apiserver_hosts_outside_the_etcd_hosts_are_stopped_from_restore_kube_apiserver_group():
    found = no_kube_apiserver_on(preflights(), "node2", "node3")
    external = {"cp1": external_ok(), "cp2": external_ok()}
    decision = run(found, external, restore_kube_apiserver_group="control_plane",
                   kube_apiserver_group_hosts=["cp1", "cp2"])
    assert decision["ok"] and decision["kubernetes"] is True and decision["bump"] == 1000000000, decision["problems"]
    assert decision["kube_apiserver_hosts"] == ["cp1", "cp2"] and decision["kube_apiserver_external"] == ["cp1", "cp2"]
    assert decision["warnings"] == []
    # node1's kube-apiserver is not the group's: left alone, and said so.
    assert "kube-apiserver on node1 is not in restore_kube_apiserver_group control_plane: it is left running." in (
        decision["notes"])
    # An etcd host in the group is stopped by its own phases, the others from the play.
    mixed = run(found, external, restore_kube_apiserver_group="control_plane",
                kube_apiserver_group_hosts=["cp1", "node1", "cp2"])
    assert mixed["ok"] and mixed["kube_apiserver_hosts"] == ["node1", "cp1", "cp2"]
    assert mixed["kube_apiserver_external"] == ["cp1", "cp2"]
    # An etcd host of the group without kube-apiserver is refused.
    wrong = run(found, external, restore_kube_apiserver_group="control_plane",
                kube_apiserver_group_hosts=["cp1", "node3"])
    assert ("node3 (in restore_kube_apiserver_group control_plane): no kube-apiserver found on this host: static pod "
            "manifest x; set restore_kube_apiserver_manager, _name or restore_kube_manifest_dir for it in the "
            "inventory.") in wrong["problems"], wrong["problems"]


def test_a_kube_apiserver_host_that_cannot_be_reached_found_or_checked_is_refused_before_anything_stops():
    external = {"cp1": dict(unreachable=True, msg="Failed to connect to the host via ssh: timed out", changed=False),
                "cp2": dict(failed=True, found=False, msg="no kube-apiserver found on this host: supervisor program "
                            "kube-apiserver is not there (manager supervisor); set the manager, name or manifest dirs "
                            "to what runs kube-apiserver here")}
    decision = run(preflights(), external, restore_kube_apiserver_group="control_plane",
                   kube_apiserver_group_hosts=["cp1", "cp2", "cp3"])
    assert not decision["ok"]
    assert decision["problems"] == [
        "cp1 (kube-apiserver host, in restore_kube_apiserver_group control_plane) cannot be reached: Failed to connect "
        "to the host via ssh: timed out. Make it reachable, or take it out of the group if it runs no kube-apiserver "
        "of this cluster.",
        "cp2 (kube-apiserver host, in restore_kube_apiserver_group control_plane): no kube-apiserver found on this "
        "host: supervisor program kube-apiserver is not there (manager supervisor); set the manager, name or manifest "
        "dirs to what runs kube-apiserver here; set restore_kube_apiserver_manager, _name or restore_kube_manifest_dir "
        "for it in the inventory.",
        "cp3 (kube-apiserver host, in restore_kube_apiserver_group control_plane) was not checked: its preflight did "
        "not run; run the restore with its preflight."]
    # Outside Kubernetes mode they are neither needed nor touched.
    off = run(preflights(), external, restore_kubernetes="false", restore_kube_apiserver_group="control_plane",
              kube_apiserver_group_hosts=["cp1", "cp2", "cp3"])
    assert off["ok"] and off["kube_apiserver_hosts"] == [] and off["kube_apiserver_external"] == []


def test_a_kube_apiserver_group_for_a_snapshot_without_keys_under_registry_is_refused_as_a_contradiction():
    found = preflights(**{host: dict(restore_check=dict(preflights()[host]["restore_check"], snapshot=snapshot(
        kubernetes_key_count=0))) for host in HOSTS})
    group = dict(restore_kube_apiserver_group="control_plane", kube_apiserver_group_hosts=["cp1"])
    decision = run(found, {"cp1": external_ok()}, **group)
    assert decision["problems"] == [
        "restore_kube_apiserver_group is control_plane, but the snapshot holds no key under /registry/, where "
        "kube-apiserver keeps its objects: is this etcd theirs? Set restore_kubernetes=true if they keep their data in "
        "it under another --etcd-prefix (they are stopped and the revision bumped), or restore_kubernetes=false to "
        "restore without touching them."]
    forced = run(found, {"cp1": external_ok()}, restore_kubernetes="true", **group)
    assert forced["ok"] and forced["bump"] == 1000000000 and forced["kube_apiserver_external"] == ["cp1"]


def test_keys_not_counted_leave_kubernetes_mode_to_the_kube_apiserver_hosts_as_a_check_not_run():
    found = preflights(**{host: dict(restore_check=dict(preflights()[host]["restore_check"], snapshot=snapshot(
        kubernetes_key_count=None))) for host in HOSTS})
    decision = run(found)
    assert decision["ok"] and decision["kubernetes"] is True and decision["kube_apiserver_hosts"] == HOSTS
    assert decision["checks_not_run"] == [
        "the snapshot's keys were not read, so whether it is a Kubernetes cluster's (keys under /registry/) is not "
        "known: Kubernetes mode is on, as kube-apiserver hosts are known; set restore_kubernetes to decide it"]
    alone = run(no_kube_apiserver_on(found, *HOSTS))
    assert alone["ok"] and alone["kubernetes"] is False and alone["bump"] == 0


def test_every_reason_to_stop_is_given_at_once():
    found = preflights(node2=dict(problems=dict(restore_check="refusing to restore /var/lib/etcd: x has sha256 y, "
                                                              "expected z (option sha256). Nothing was changed.")),
                       node3=dict(restore_check=dict(preflights()["node3"]["restore_check"], sha256="cd" * 32)))
    found["node1"]["service_check"]["member_config"] = [source("node1", name="other")]
    decision = run(found)
    assert not decision["ok"]
    text = " ".join(decision["problems"])
    assert "node2: refusing to restore /var/lib/etcd: x has sha256 y, expected z (restore_sha256)" in text
    assert "Nothing was changed" not in text
    assert "the snapshot differs between the hosts: node1 has sha256 %s, node2 has sha256 %s, node3 has sha256 %s" % (
        SHA, SHA, "cd" * 32) in text
    assert ("node1: running process pid 1 (/proc/1/cmdline) says name other, peer URLs https://10.0.0.1:2380, data dir "
            "/var/lib/etcd; the inventory says node1, https://10.0.0.1:2380, /var/lib/etcd.") in text
    assert "fix the inventory (etcd_member_name, etcd_peer_url, etcd_data_dir)" in text


def test_an_inventory_that_is_not_the_running_cluster_is_refused_unless_renaming_on_purpose():
    found = preflights()
    found["node2"]["member"] = dict(member("node2"), name="etcd-b")
    found["node2"]["service_check"]["member_config"] = []
    decision = run(found)
    assert any("the inventory does not match the members of the running cluster: the cluster has "
               "node1=https://10.0.0.1:2380, node2=https://10.0.0.2:2380, node3=https://10.0.0.3:2380; the play's hosts "
               "give etcd-b=https://10.0.0.2:2380, node1=https://10.0.0.1:2380" in problem
               for problem in decision["problems"]), decision["problems"]
    assert run(found, restore_require_cluster_match=False)["ok"]


def test_a_snapshot_of_another_cluster_is_refused_unless_allowed_and_one_without_members_is_a_check_not_run():
    other = snapshot(members=[dict(id="9", name="other-a", peer_urls=["http://10.9.9.9:2380"])],
                     manifest=dict(cluster_id="ff"))
    found = preflights(**{host: dict(restore_check=dict(preflights()[host]["restore_check"], snapshot=other))
                          for host in HOSTS})
    decision = run(found)
    assert any(problem.startswith("the snapshot is of another cluster: its members are other-a at http://10.9.9.9:2380 "
                                  "(cluster id ff), none of them a member of this inventory (node1 at "
                                  "https://10.0.0.1:2380") and ", cluster id c0)" in problem
               for problem in decision["problems"]), decision["problems"]
    assert run(found, restore_allow_foreign_snapshot=True)["ok"]
    # A cluster id that matches is enough, whatever the members are called now.
    same_id = preflights(**{host: dict(restore_check=dict(preflights()[host]["restore_check"], snapshot=snapshot(
        members=other["members"]))) for host in HOSTS})
    assert run(same_id)["ok"]
    empty = preflights(**{host: dict(restore_check=dict(preflights()[host]["restore_check"],
                                                        snapshot=snapshot(members=[]))) for host in HOSTS})
    decision = run(empty)
    assert decision["ok"] and decision["checks_not_run"] == [
        "the snapshot was not checked to be of this cluster: its database lists no members"]


def test_a_bump_that_does_not_clear_the_served_revision_is_refused_with_the_bump_that_would():
    decision = run(preflights(cluster=cluster(revision=1000000200)))
    problem = next(p for p in decision["problems"] if "is too small" in p)
    assert problem.startswith("restore_bump_revision 1000000000 is too small: the running cluster is at revision "
                              "1000000200, and the restored cluster would start at 1000000120")
    assert "Give restore_bump_revision at least 1000000081." in problem


def test_a_snapshot_whose_compaction_lies_above_its_keys_needs_a_larger_bump():
    found = preflights(**{host: dict(restore_check=dict(preflights()[host]["restore_check"], snapshot=snapshot(
        revision=5000, last_key_revision=100, compact_revision=5000))) for host in HOSTS})
    decision = run(found, restore_bump_revision=10)
    assert any(p.startswith("restore_bump_revision 10 is too small for this snapshot") for p in decision["problems"])


def test_an_old_tool_is_refused_in_kubernetes_mode_only():
    found = preflights(node2=dict(restore_check=dict(preflights()["node2"]["restore_check"], tool_version="3.5.9")))
    decision = run(found)
    assert any(p.startswith("node2: --bump-revision/--mark-compacted needs etcdutl 3.5.10 or newer; this one is 3.5.9")
               for p in decision["problems"]), decision["problems"]
    assert run(found, restore_kubernetes="false")["ok"]


def test_kube_apiserver_problems_count_in_kubernetes_mode_only():
    found = preflights(node1=dict(problems=dict(kube_apiserver_check="no kube-apiserver manifest here")))
    assert "node1: no kube-apiserver manifest here" in run(found)["problems"]
    assert run(found, restore_kubernetes=False)["ok"]


def test_an_interrupted_restore_is_taken_over_and_its_recorded_revision_stands_in():
    entry = dict(run_id="20261201T000000Z", step="swapped", snapshot="/s.db", kept_data_dir="/var/lib/etcd.pre-x",
                 live_revision=1000000300)
    found = preflights(node1=dict(restore_check=dict(preflights()["node1"]["restore_check"], journal=entry)),
                       cluster=dict(answered=False, msg="no etcd endpoint answered", members=[], endpoints=[]))
    decision = run(found)
    assert decision["live_revision"] == 1000000300 and [host for host, dummy in decision["interrupted"]] == ["node1"]
    assert any("which reached node1: swapped. This run takes it over" in note and "(/var/lib/etcd.pre-x)" in note
               and "<data_dir>.failed-restore-20261207T000000Z" in note for note in decision["notes"]), decision["notes"]
    assert any(note.startswith("the cluster does not answer (no etcd endpoint answered)") for note in decision["notes"])
    assert any("is too small" in p for p in decision["problems"])


def test_a_cluster_that_does_not_answer_leaves_the_revision_check_not_run():
    decision = run(preflights(cluster=dict(answered=False, msg="down", members=[], endpoints=[])))
    assert decision["ok"] and decision["leader"] is None and decision["live_revision"] is None
    assert decision["checks_not_run"] == ["the bumped revision was not compared with the running cluster's: the "
                                          "cluster does not answer and no journal recorded its revision"]


def test_member_configuration_that_cannot_be_read_is_a_check_not_run():
    found = preflights()
    found["node3"]["service_check"] = dict(member_config=[], member_config_missing="etcd does not run on this host",
                                           member_config_unread=["x"])
    found["node1"]["service_check"]["member_config_unread"] = ["supervisor program etcd runs a script"]
    decision = run(found)
    assert decision["ok"]
    assert decision["checks_not_run"] == ["node1: not checked: supervisor program etcd runs a script",
                                          "node3: member configuration not checked: etcd does not run on this host"]


def test_the_options_and_the_inventory_are_checked_before_any_host():
    members = {host: dict(etcd_member_name=host, etcd_peer_url=member(host)["peer_url"],
                          etcd_client_url=member(host)["client_url"]) for host in HOSTS}
    options = dict(restore_snapshot="/s.db", restore_snapshot_from="hosts", restore_snapshot_dir="/r",
                   restore_kubernetes="auto", restore_bump_revision=0)
    assert option_problems(options, HOSTS, members, 5, HOSTS) == []
    bad = dict(options, restore_snapshot="backups/s.db", restore_snapshot_dir="r", restore_kubernetes="maybe",
               restore_bump_revision=-1, restore_snapshot_from="elsewhere")
    broken = copy.deepcopy(members)
    del broken["node2"]["etcd_peer_url"]
    broken["node3"]["etcd_member_name"] = "node1"
    problems = option_problems(bad, HOSTS, broken, 2, HOSTS[:2])
    assert problems == [
        "restore_snapshot is backups/s.db, a relative path: give its absolute path.",
        "restore_snapshot_dir is r, a relative path: give an absolute one.",
        "restore_snapshot_from is elsewhere: use hosts, controller, a host of this play or a store URL "
        "(sftp://user@host[:port]/dir).",
        "restore_kubernetes is maybe: use auto, true or false.",
        "restore_bump_revision must be 0 or more.",
        "this play runs in batches (serial): restore every member at once.",
        "forks is 2, fewer than the 3 members: a member that starts waits for quorum, so all must start at once; run "
        "with --forks 3 or more (ansible.cfg, or the AWX job template).",
        "node2 lacks etcd_member_name, etcd_peer_url or etcd_client_url: set them in the inventory (see docs/hosts.md).",
        "member names (node1, node2, node1) and peer URLs (https://10.0.0.1:2380, , https://10.0.0.3:2380) must be "
        "unique across the hosts: fix etcd_member_name and etcd_peer_url."]
    store = dict(options, restore_snapshot_from="sftp://backup@10.0.0.9/etcd", restore_snapshot="a/latest")
    assert option_problems(store, HOSTS, members, 5, HOSTS) == [
        "restore_snapshot is a/latest: from a store give the file name there, or latest."]
    assert option_problems(dict(options, restore_snapshot=""), HOSTS, members, 5, HOSTS) == [
        "restore_snapshot is empty: give the path of the snapshot to restore."]
    assert option_problems(dict(options, restore_kube_apiserver_group="cp", kube_apiserver_group_hosts=["cp1"]),
                           HOSTS, members, 5, HOSTS) == []
    assert option_problems(dict(options, restore_kube_apiserver_group="cp", kube_apiserver_group_hosts=None),
                           HOSTS, members, 5, HOSTS) == [
        "restore_kube_apiserver_group is cp, which is no group of the inventory: give the group of the kube-apiserver "
        "hosts (see docs/hosts.md), or leave it empty when kube-apiserver runs on the etcd hosts."]
    assert option_problems(dict(options, restore_kube_apiserver_group="cp", kube_apiserver_group_hosts=[]),
                           HOSTS, members, 5, HOSTS) == [
        "restore_kube_apiserver_group is cp, a group without hosts: give the group of the kube-apiserver hosts (see "
        "docs/hosts.md), or leave it empty when kube-apiserver runs on the etcd hosts."]
