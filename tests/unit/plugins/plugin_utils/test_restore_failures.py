"""The failures of a restore's phases, as the role reads them from what each host registered: every failure counts,
two hosts failing in the same step (even alike) included; a host that could not be reached is lost, with its phase;
the verify speaks of the cluster; skipped results are not failures."""
from ansible_collections.etcdops.dr.plugins.plugin_utils._restore_failures import failures

HOSTS = ["node1", "node2", "node3"]
REGISTERED = {"stop_followers": "stop", "stop_leader": "stop", "restored": "restore"}


def failed(step, msg):
    return dict(failed=True, failed_step=step, msg=msg, phase="x")


def test_two_hosts_failing_in_one_step_are_both_recorded_with_the_step_id():
    hostvars = {
        "node1": dict(stop_followers=dict(changed=True), restored=failed("restore", "staging dir is immutable")),
        "node2": dict(stop_followers=dict(skipped=True), stop_leader=dict(changed=True),
                      restored=failed("restore", "no space left")),
        "node3": dict(stop_followers=dict(changed=True), restored=dict(changed=True)),
    }
    found = failures(HOSTS, hostvars, REGISTERED)
    assert [(f["host"], f["phase"], f["step"], f["lost"]) for f in found] == [
        ("node1", "restore", "restore", False), ("node2", "restore", "restore", False)]
    assert [f["text"] for f in found] == ["restore failed on node1: staging dir is immutable",
                                          "restore failed on node2: no space left"]


def test_the_label_is_for_display_only_and_a_lost_host_names_its_phase():
    hostvars = {
        "node1": dict(stop_followers=failed("kube_apiserver_stop", "still listens on :6443")),
        "node2": dict(stop_followers=failed("etcd_stop", "did not stop within 2s")),
        "node3": dict(stop_followers=dict(unreachable=True, msg="Failed to connect to the host via ssh")),
    }
    found = failures(HOSTS, hostvars, REGISTERED)
    assert [(f["step"], f["label"], f["lost"]) for f in found] == [
        ("kube_apiserver_stop", "stop kube-apiserver", False), ("etcd_stop", "stop etcd", False), (None, "stop", True)]
    assert found[2]["text"] == "stop could not reach node3: Failed to connect to the host via ssh"
    assert found[2]["left"].startswith("kube-apiserver may be stopped there")


def test_the_verify_names_the_cluster_and_two_hosts_failing_alike_both_count():
    verify = failed("verify", "the restored cluster did not become healthy")
    alike = failed("etcd_start", "etcd did not answer a health check within 8.0s")
    hostvars = {"node1": dict(restored=verify), "node2": dict(restored=alike), "node3": dict(restored=alike)}
    found = failures(HOSTS, hostvars, REGISTERED)
    assert [f["text"] for f in found] == ["the restored cluster did not become healthy",
                                          "start etcd failed on node2: etcd did not answer a health check within 8.0s",
                                          "start etcd failed on node3: etcd did not answer a health check within 8.0s"]


def test_nothing_failed_nothing_recorded():
    assert failures(HOSTS, {host: {} for host in HOSTS}, REGISTERED) == []


def test_kube_apiserver_hosts_outside_the_play_fail_on_their_own_names_and_are_never_lost_members():
    """Each etcd host delegates its share of the kube-apiserver hosts outside the play, in a loop: every item that
    failed or could not be reached is a failure of that kube-apiserver host, not of the etcd host that delegated it."""
    loop = "__restore_kube_host"
    hostvars = {
        "node1": dict(kube_stopped=dict(failed=True, msg="One or more items failed", results=[
            dict(failed=True, msg="kube-apiserver (supervisor program a) was stopped, but after 2s pid 9 still listens",
                 __restore_kube_host="cp1", ansible_loop_var=loop),
            dict(changed=True, __restore_kube_host="cp3", ansible_loop_var=loop)])),
        "node2": dict(kube_stopped=dict(changed=False, results=[
            dict(unreachable=True, msg="Failed to connect to the host via ssh", __restore_kube_host="cp2",
                 ansible_loop_var=loop)])),
        "node3": dict(kube_stopped=dict(skipped=True, results=[])),
    }
    found = failures(HOSTS, hostvars, {"kube_stopped": "stop"})
    assert [(f["host"], f["step"], f["lost"], f["kube_apiserver_host"]) for f in found] == [
        ("cp1", "kube_apiserver_stop", False, True), ("cp2", "kube_apiserver_stop", False, True)]
    assert [f["text"] for f in found] == [
        "stop kube-apiserver failed on cp1 (kube-apiserver host): kube-apiserver (supervisor program a) was stopped, "
        "but after 2s pid 9 still listens",
        "stop kube-apiserver could not reach cp2 (kube-apiserver host): Failed to connect to the host via ssh"]
    started = failures(HOSTS, hostvars, {"kube_stopped": "finish"})
    assert [f["label"] for f in started] == ["start kube-apiserver", "start kube-apiserver"]
