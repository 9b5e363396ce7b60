"""Every machine of the bed lost, and new hosts to rebuild on (restore_new_hosts): the backup inventory whose bundles
hold what a kubeadm host needs, the loss itself, and the inventory of the new hosts. The bed's hosts share one
filesystem, so a new machine's paths are its predecessor's: new1 runs node1's static pod with node1's files, under
its own name, address and URLs (the drill group's addresses, where the bed's sshd listens)."""
import shutil

import yaml

from . import kubeadm, services

NEW_ADDRESSES = ("127.0.0.31", "127.0.0.32", "127.0.0.33")


def bundle_vars(bed, member):
    """The kubeadm layout, and what stands for the rest of a kubeadm host: the etcd static pod manifest in the kubelet's
    dir, the member's etcd config file and certificates, and the etcd CA with its key."""
    paths = kubeadm.bundle_vars(member)
    paths["backup_bundle_paths"] += [str(member.manifest_dir / "*.yaml"), str(member.config_file),
                                     str(member.root / "pki" / "**"), str(bed.cacert), str(bed.pki / "ca.key")]
    return paths


def backup_inventory(bed, path):
    """The bed's inventory with each member's bundle variables."""
    return kubeadm.inventory(bed, path, lambda member: bundle_vars(bed, member))


def new_inventory(bed, path, private_key):
    """The bed's inventory with its etcd group replaced by new1..3: new names, addresses and URLs, node1..3's paths,
    run as static pods."""
    doc = yaml.safe_load(bed.inventory.read_text())
    old = doc["all"]["children"]["etcd"]["hosts"]
    hosts = {}
    for number, (member, address) in enumerate(zip(bed.members, NEW_ADDRESSES), start=1):
        hosts[f"new{number}"] = dict(
            old[member.name], ansible_host=address, etcd_member_name=f"new{number}", etcd_service_manager="static_pod",
            etcd_client_url=f"https://{address}:2379", etcd_peer_url=f"https://{address}:2380",
            restore_new_host_of=member.name, restore_new_hosts_kube_apiserver_manifest=str(kubeadm.manifest(member)))
    doc["all"]["children"]["etcd"]["hosts"] = hosts
    doc["all"]["vars"]["restore_decryption_key"] = private_key
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def new_urls(kind):
    return [f"https://{address}:{2379 if kind == 'client' else 2380}" for address in NEW_ADDRESSES]


def lose_every_machine(bed):
    """Every member's process (its kubelet and the pod), data, configuration, certificates, manifests and layout gone,
    and the etcd CA's key."""
    services.supervisorctl(bed, "stop", *[m.kubelet_service for m in bed.members])
    for member in bed.members:
        shutil.rmtree(member.manifest_dir)
        shutil.rmtree(member.held_manifest_dir, ignore_errors=True)
        shutil.rmtree(member.data_dir)
        member.config_file.unlink()
        shutil.rmtree(member.root / "pki")
    kubeadm.remove(bed)
    (bed.pki / "ca.key").unlink()


def new_machines(bed):
    """The new machines installed, their kubelets running with no manifest yet."""
    for member in bed.members:
        member.manifest_dir.mkdir(exist_ok=True)
    services.supervisorctl(bed, "start", *[m.kubelet_service for m in bed.members])
