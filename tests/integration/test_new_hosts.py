"""Every machine lost: the bed's cluster is backed up (snapshot and control-plane bundles, encrypted), then every
member's data, configuration, certificates, CA key and kubeadm layout are destroyed, and the cluster is rebuilt on
three other addresses with new member names (restore_new_hosts): keys exact, certificates issued from the old CA for
the new addresses, configuration and kube-apiserver's --etcd-servers naming the new URLs; the rebuild step changes
nothing when run again. Each new host runs where its lost predecessor's files were (the bed's hosts share one
filesystem, so a new machine's paths are its predecessor's): the supervisor program and paths are node1's, the name,
address and URLs new1's."""
import functools
import os
import shutil
import subprocess
import time

import yaml
from cryptography import x509

from ansible_collections.etcdops.dr.tests.integration.encryption_keys import key_pair
from ansible_collections.etcdops.dr.tests.integration.test_restore import custom_stats, restorable
from ansible_collections.etcdops.dr.tests.integration.test_stores import STATS, empty, store
from testbed import cluster, kubeadm, rebuild, scratch, services

__all__ = ["restorable", "store"]


def listening(address):
    return subprocess.run(["ss", "-Hltn", f"src {address}:2379"], capture_output=True, text=True,
                          check=True).stdout.strip()


def san_addresses(path):
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return {str(ip) for ip in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            .get_values_for_type(x509.IPAddress)}


def test_every_machine_lost_the_cluster_is_rebuilt_on_new_hosts_from_the_snapshot_and_its_bundles(
        restorable, store, ansible, tmp_path):
    bed = restorable
    saved = tmp_path / "saved"
    saved.mkdir()
    kubeadm.make(bed)
    cluster.run_as_static_pods(bed)
    for member in bed.members:
        shutil.copytree(member.root / "pki", saved / member.name / "pki")
        shutil.copy2(member.config_file, saved / member.name / "etcd.conf.yml")
    shutil.copy2(bed.pki / "ca.key", saved / "ca.key")
    try:
        _rebuild(bed, store, ansible, tmp_path, saved)
    finally:
        _put_the_bed_back(bed, saved)


def _rebuild(bed, store, ansible, tmp_path, saved):
    private, public, dummy = key_pair(tmp_path, "backup")
    backup_inventory = rebuild.backup_inventory(bed, tmp_path / "backup-inventory.yml")
    for number in range(30):
        cluster.etcdctl(bed, "put", f"/registry/configmaps/default/cm-{number:02d}", f"value-{number}")
    cluster.etcdctl(bed, "put", "/registry/leases/trailing", "x")
    cluster.etcdctl(bed, "del", "/registry/leases/trailing")
    before = scratch.key_values(functools.partial(cluster.etcdctl, bed))
    controller = tmp_path / "controller"
    backup = ansible.playbook("etcdops.dr.backup", "-i", backup_inventory, env=STATS,
                              extra_vars={"backup_fetch_dir": str(controller), "backup_stores": [store],
                                          "backup_encryption_recipients": [public]})
    assert backup.rc == 0, backup.output
    snapshot = controller / os.path.basename(custom_stats(backup)["etcd_backup"]["file"])
    old_sa_key = (kubeadm.root(bed.members[0]) / "pki" / "sa.key").read_bytes()
    old_ca_key = (bed.pki / "ca.key").read_bytes()

    rebuild.lose_every_machine(bed)
    rebuild.new_machines(bed)
    inventory = rebuild.new_inventory(bed, tmp_path / "new-inventory.yml", private)
    options = {"restore_snapshot": str(snapshot), "restore_snapshot_from": "controller", "restore_new_hosts": True,
               "restore_snapshot_dir": "{{ etcd_backup_dir }}/restore"}
    # Check mode, from the controller's copy: the mapping shown, nothing of the new hosts written.
    check = ansible.playbook("etcdops.dr.restore", "-i", inventory, check=True, extra_vars=options)
    assert check.rc == 0, check.output
    assert "node1 (https://127.0.0.11:2380) -> new1 as new1 (https://127.0.0.31:2380)" in check.output, check.output
    assert not bed.members[0].config_file.exists() and not (bed.pki / "ca.key").exists()

    # As under AWX, whose controller is a throwaway container: the snapshot and its bundles come from the store. Held
    # before the preflight, after the bundles were placed: the etcd manifest waits outside the kubelets' dirs, so no
    # etcd runs yet, under the lost members' names or the new ones.
    pause = tmp_path / "pause"
    pause.write_text("")
    log = open(tmp_path / "run.log", "w")
    run = ansible.start("etcdops.dr.restore", "-i", inventory, extra_vars=dict(
        options, restore_snapshot=snapshot.name, restore_snapshot_from=store["url"],
        restore_store={k: v for k, v in store.items() if k != "url"}, restore_controller_dir=str(tmp_path / "from-store")),
        env={"ETCDOPS_INTERRUPT_BEFORE": "Check every member before anything is stopped",
             "ETCDOPS_INTERRUPT_PAUSE": str(pause)}, output=log)
    deadline = time.monotonic() + 300
    while not (tmp_path / "pause.reached").exists():
        assert time.monotonic() < deadline and run.poll() is None, (tmp_path / "run.log").read_text()
        time.sleep(0.1)
    for member in bed.members:
        assert (member.held_manifest_dir / "etcd.yaml").exists() and not (member.manifest_dir / "etcd.yaml").exists()
        assert member.config_file.exists() and cluster.listener_pid(member) is None
    assert not [address for address in rebuild.NEW_ADDRESSES if listening(address)]
    pause.unlink()
    assert run.wait(timeout=600) == 0, (tmp_path / "run.log").read_text()
    new_endpoints = rebuild.new_urls("client")
    after = scratch.key_values(functools.partial(cluster.etcdctl, bed, endpoints=new_endpoints))
    assert after == before
    members = yaml.safe_load(cluster.etcdctl(bed, "member", "list", "-w", "json", endpoints=new_endpoints).stdout)
    assert sorted((m["name"], m["peerURLs"]) for m in members["members"]) == [
        (f"new{n}", [url]) for n, url in enumerate(rebuild.new_urls("peer"), start=1)]
    ca = x509.load_pem_x509_certificate(bed.cacert.read_bytes())
    for member, address in zip(bed.members, rebuild.NEW_ADDRESSES):
        config = yaml.safe_load(member.config_file.read_text())
        assert config["name"] == f"new{member.name[-1]}" and address in config["listen-client-urls"]
        assert member.address not in config["listen-peer-urls"] + config["advertise-client-urls"]
        for cert in ("server.crt", "peer.crt"):
            path = member.root / "pki" / cert
            assert address in san_addresses(path) and member.address not in san_addresses(path)
            x509.load_pem_x509_certificate(path.read_bytes()).verify_directly_issued_by(ca)
            assert path.read_bytes() != (saved / member.name / "pki" / cert).read_bytes()
        assert kubeadm.etcd_servers(member) == new_endpoints
        assert (member.manifest_dir / "etcd.yaml").exists(), "the restore started the held manifest"
        apiserver = kubeadm.root(member) / "pki" / "apiserver.crt"
        assert {address, "10.96.0.1"} <= san_addresses(apiserver) and member.address not in san_addresses(apiserver)
        x509.load_pem_x509_certificate(apiserver.read_bytes()).verify_directly_issued_by(
            x509.load_pem_x509_certificate((kubeadm.root(member) / "pki" / "ca.crt").read_bytes()))
        assert (kubeadm.root(member) / "pki" / "sa.key").read_bytes() == old_sa_key
    assert (bed.pki / "ca.key").read_bytes() == old_ca_key

    # The rebuild step again, in check mode and for real: nothing to place, rewrite or issue.
    again = ansible.playbook([{"hosts": "etcd", "gather_facts": False, "tasks": [{
        "name": "Run the module under test", "ignore_errors": True, "etcdops.dr.etcd_bundle_restore": {
            "bundle": "{{ etcd_backup_dir }}/restore/" + snapshot.name + ".bundle-{{ restore_new_host_of }}.tar.enc",
            "decryption_key": "{{ restore_decryption_key }}", "name": "{{ etcd_member_name }}",
            "client_url": "{{ etcd_client_url }}", "peer_url": "{{ etcd_peer_url }}",
            "initial_cluster": ",".join(f"new{n}={url}" for n, url in enumerate(rebuild.new_urls("peer"), start=1)),
            "etcd_servers": new_endpoints, "kube_apiserver_manifest": "{{ restore_new_hosts_kube_apiserver_manifest }}",
            "manifest_dir": "{{ etcd_manifest_dir }}", "held_manifest_dir": "{{ etcd_held_manifest_dir }}",
            "keep_dir": str(tmp_path / "kept"), "service_manager": "static_pod",
            "config_file": "{{ etcd_config_file }}"}}]}],
        "-i", inventory)
    for host, result in again.results.items():
        assert result.get("failed") is not True and result["changed"] is False, (host, result)
        assert result["placed"] == [] and result["identical"] > 10, result
        # kubeadm's scheduler.conf names the host's address: left as it was, and named in the result.
        member = bed.members[int(host[-1]) - 1]
        assert result["old_address_remaining"] == [str(kubeadm.root(member) / "scheduler.conf")], result
        assert "WARNING: the lost host's address %s is still named in" % member.address in result["msg"]


def _put_the_bed_back(bed, saved):
    """node1..3 as they were: supervisor programs with their configuration, certificates and CA key, and a cluster of
    their own again."""
    services.supervisorctl(bed, "stop", *[m.kubelet_service for m in bed.members], check=False)
    services.supervisorctl(bed, "stop", *[m.service for m in bed.members], check=False)
    for member in bed.members:
        for directory in (member.manifest_dir, member.held_manifest_dir):
            (directory / "etcd.yaml").unlink(missing_ok=True)
    for member in bed.members:
        shutil.rmtree(member.root / "pki", ignore_errors=True)
        shutil.copytree(saved / member.name / "pki", member.root / "pki")
        shutil.copy2(saved / member.name / "etcd.conf.yml", member.config_file)
        shutil.rmtree(member.data_dir, ignore_errors=True)
        empty(member.backup_dir)
    shutil.copy2(saved / "ca.key", bed.pki / "ca.key")
    kubeadm.remove(bed)
    services.supervisorctl(bed, "start", *[m.service for m in bed.members], check=False)
    cluster.wait_healthy(bed)
