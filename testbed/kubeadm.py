"""A kubeadm-like control-plane layout on each member's host (its own dir, as every path of the bed): the etcd CA
(the bed's), a cluster CA, a front-proxy CA, sa.key, kube-apiserver's serving certificate, admin.conf, a
kube-apiserver static pod manifest that names an EncryptionConfiguration (aescbc) and the etcd servers. Made for the
bundle tests, removed after them: a layout left behind would turn the bundle on in every later backup."""
import base64
import os
import shutil

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import pki

ENCRYPTION_KEY_NAME = "key1"


def root(member):
    return member.root / "kubernetes"


def manifest(member):
    return root(member) / "manifests" / "kube-apiserver.yaml"


def encryption_config(member):
    return root(member) / "enc" / "encryption.yaml"


def bundle_vars(member):
    """The backup role's host vars that point the bundle at this member's layout."""
    return {"backup_bundle_detect": [str(root(member) / "pki" / "ca.crt")],
            "backup_bundle_paths": [str(root(member) / "pki" / "**"), str(root(member) / "manifests" / "*.yaml"),
                                    str(root(member) / "*.conf"), str(root(member) / "enc" / "nothing-matches-*")],
            "backup_bundle_kube_apiserver_manifest": str(manifest(member))}


def inventory(bed, path, host_vars=None):
    """The bed's inventory at `path` with each member's bundle variables: host_vars(member), by default
    bundle_vars(member)."""
    doc = yaml.safe_load(bed.inventory.read_text())
    for member in bed.members:
        doc["all"]["children"]["etcd"]["hosts"][member.name].update((host_vars or bundle_vars)(member))
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def encryption_config_text(key):
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", "resources": [{
        "resources": ["secrets"],
        "providers": [{"aescbc": {"keys": [{"name": ENCRYPTION_KEY_NAME,
                                            "secret": base64.b64encode(key).decode()}]}}, {"identity": {}}]}]}
    return yaml.safe_dump(doc, sort_keys=False)


def make(bed, members=None, aescbc_key=None):
    """The layout on each of `members` (default: all), sharing the cluster's CAs, sa.key and encryption key.
    Returns the aescbc key (bytes)."""
    members = members or bed.members
    aescbc_key = aescbc_key or os.urandom(32)
    shared = bed.root / "kube-pki"
    if not (shared / "ca.key").exists():
        pki.make_ca(shared / "ca.crt", shared / "ca.key", "kubernetes")
        pki.make_ca(shared / "front-proxy-ca.crt", shared / "front-proxy-ca.key", "front-proxy-ca")
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (shared / "sa.key").write_bytes(sa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
        (shared / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    cluster_ca = pki.load_ca_files(shared / "ca.crt", shared / "ca.key")
    for member in members:
        top = root(member)
        (top / "pki" / "etcd").mkdir(parents=True, exist_ok=True)
        (top / "manifests").mkdir(exist_ok=True)
        (top / "enc").mkdir(exist_ok=True)
        for name in ("ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.key", "sa.pub"):
            shutil.copy2(shared / name, top / "pki" / name)
        shutil.copy2(bed.cacert, top / "pki" / "etcd" / "ca.crt")
        shutil.copy2(bed.pki / "ca.key", top / "pki" / "etcd" / "ca.key")
        pki.issue(cluster_ca, top / "pki" / "apiserver.crt", top / "pki" / "apiserver.key", "kube-apiserver",
                  server=True, addresses=(member.address, "10.96.0.1"),
                  dns_names=("kubernetes", "kubernetes.default", "kubernetes.default.svc", member.name))
        encryption_config(member).write_text(encryption_config_text(aescbc_key))
        encryption_config(member).chmod(0o600)
        write_manifest(bed, member)
        key_data = base64.b64encode((top / "pki" / "apiserver.key").read_bytes()).decode()
        (top / "admin.conf").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "users": [
            {"name": "kubernetes-admin", "user": {"client-key-data": key_data}}]}))
        (top / "admin.conf").chmod(0o600)
        # As kubeadm writes it: the scheduler reaches kube-apiserver at the host's advertise address.
        (top / "scheduler.conf").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [
            {"name": "kubernetes", "cluster": {"server": f"https://{member.address}:6443"}}]}))
        (top / "scheduler.conf").chmod(0o600)
    return aescbc_key


def write_manifest(bed, member, etcd_servers=None):
    top = root(member)
    servers = etcd_servers or ",".join(bed.client_urls)
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-apiserver", "namespace": "kube-system"},
           "spec": {"containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.31.0",
                                    "command": ["kube-apiserver", f"--advertise-address={member.address}",
                                                f"--etcd-servers={servers}",
                                                f"--etcd-cafile={top / 'pki' / 'etcd' / 'ca.crt'}",
                                                f"--encryption-provider-config={encryption_config(member)}",
                                                f"--tls-cert-file={top / 'pki' / 'apiserver.crt'}",
                                                f"--tls-private-key-file={top / 'pki' / 'apiserver.key'}",
                                                f"--client-ca-file={top / 'pki' / 'ca.crt'}"]}]}}
    manifest(member).write_text(yaml.safe_dump(doc, sort_keys=False))


def etcd_servers(member):
    """--etcd-servers of the member's kube-apiserver manifest, as a list."""
    doc = yaml.safe_load(manifest(member).read_text())
    for arg in doc["spec"]["containers"][0]["command"]:
        if arg.startswith("--etcd-servers="):
            return arg.split("=", 1)[1].split(",")
    return []


def remove(bed, members=None):
    for member in members or bed.members:
        shutil.rmtree(root(member), ignore_errors=True)
