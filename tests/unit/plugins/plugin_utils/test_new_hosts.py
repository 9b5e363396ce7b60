"""Which lost member each new host replaces in a rebuild on new hosts: by restore_new_host_of or the same name, with
every ambiguity refused and named."""
import json

import pytest

from ansible_collections.etcdops.dr.plugins.plugin_utils._new_hosts import plan

SNAPSHOT = "etcd-snapshot-20261208T010000Z.db.enc"


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / SNAPSHOT
    path.write_text("snapshot")
    for number in (1, 2, 3):
        bundle = tmp_path / f"{SNAPSHOT}.bundle-cp{number}.tar.enc"
        bundle.write_text("bundle")
        (tmp_path / (bundle.name + ".json")).write_text(json.dumps({"member": {
            "name": f"cp{number}", "peer_url": f"https://10.0.0.{number}:2380",
            "client_url": f"https://10.0.0.{number}:2379"}}))
    # Another snapshot's bundle is not this one's.
    (tmp_path / "etcd-snapshot-20261207T010000Z.db.enc.bundle-cp1.tar.enc.json").write_text("{}")
    return path


def hostvars(**hosts):
    return {host: dict(etcd_member_name=host, etcd_peer_url="https://10.1.0.%d:2380" % index, **values)
            for index, (host, values) in enumerate(hosts.items(), start=1)}


def test_each_host_replaces_the_member_it_names_or_its_namesake(snapshot):
    variables = hostvars(new1={"restore_new_host_of": "cp1"}, cp2={}, new3={"restore_new_host_of": "cp3"})
    result = plan(["new1", "cp2", "new3"], variables, str(snapshot))
    assert result["ok"], result
    assert {host: entry["old_member"] for host, entry in result["mapping"].items()} == {
        "new1": "cp1", "cp2": "cp2", "new3": "cp3"}
    assert result["mapping"]["new1"]["bundle"] == str(snapshot) + ".bundle-cp1.tar.enc"
    assert "cp1 (https://10.0.0.1:2380) -> new1 as new1 (https://10.1.0.1:2380)" in result["shown"]


def test_ambiguity_is_refused_with_the_fix(snapshot):
    unsaid = plan(["new1", "new2", "new3"], hostvars(new1={"restore_new_host_of": "cp1"}, new2={}, new3={}),
                  str(snapshot))
    assert not unsaid["ok"]
    assert "which lost member each of new2, new3 replaces is not said" in unsaid["problems"][0]
    assert "new2: restore_new_host_of=cp2; new3: restore_new_host_of=cp3" in unsaid["problems"][0]
    twice = plan(["new1", "new2", "new3"], hostvars(new1={"restore_new_host_of": "cp1"},
                                                    new2={"restore_new_host_of": "cp1"},
                                                    new3={"restore_new_host_of": "cp3"}), str(snapshot))
    assert any("new1 and new2 both replace member cp1" in p for p in twice["problems"]), twice
    assert any("members cp2, which no new host replaces" in p for p in twice["problems"]), twice
    unknown = plan(["new1"], hostvars(new1={"restore_new_host_of": "cp9"}), str(snapshot))
    assert "no bundle beside the snapshot was taken beside that member (bundles of: cp1, cp2, cp3)" in \
        unknown["problems"][0]


def test_no_bundle_or_a_damaged_manifest_is_named(tmp_path, snapshot):
    lonely = tmp_path / "other" / SNAPSHOT
    lonely.parent.mkdir()
    lonely.write_text("snapshot")
    result = plan(["cp1"], hostvars(cp1={}), str(lonely))
    assert "there is no control-plane bundle beside" in result["problems"][0]
    (tmp_path / f"{SNAPSHOT}.bundle-cp2.tar.enc.json").write_text("{not json")
    (tmp_path / f"{SNAPSHOT}.bundle-cp3.tar.enc").unlink()
    broken = plan(["cp1"], hostvars(cp1={}), str(snapshot))
    assert any("bundle-cp2.tar.enc.json cannot be read" in p for p in broken["problems"]), broken
    assert any("bundle-cp3.tar.enc has a manifest but the bundle itself is missing" in p
               for p in broken["problems"]), broken
