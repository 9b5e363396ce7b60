"""A rebuild on a new host: the listen URLs read from any form of etcd's definition, a static pod manifest's flags set
with everything else proven unchanged, and which certificates are kept."""
import pytest
import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._bundle.archive import BundleError
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.cert_issue import issue_member_certs
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.place import (
    _cert_covers, listen_values, manifest_flags, manifest_flags_edit)
from ansible_collections.etcdops.dr.tests.unit.plugins.module_utils.test_bundle_certs import make_ca

MANIFEST = """apiVersion: v1
kind: Pod
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=10.0.0.1
    # the etcd servers
    - --etcd-servers=https://10.0.0.1:2379,https://10.0.0.2:2379
    - "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt"
    livenessProbe:
      httpGet:
        host: 10.0.0.1
"""


@pytest.mark.parametrize("text", [
    "listen-client-urls: https://10.0.0.1:2379,https://127.0.0.1:2379\nlisten-peer-urls: 'https://10.0.0.1:2380'\n",
    "    - --listen-client-urls=https://10.0.0.1:2379,https://127.0.0.1:2379\n    - --listen-peer-urls=https://10.0.0.1:2380\n",
    "command=etcd --listen-client-urls https://10.0.0.1:2379,https://127.0.0.1:2379 --listen-peer-urls=https://10.0.0.1:2380\n",
    "ETCD_LISTEN_CLIENT_URLS=\"https://10.0.0.1:2379,https://127.0.0.1:2379\"\nETCD_LISTEN_PEER_URLS=https://10.0.0.1:2380\n",
])
def test_listen_urls_are_read_from_every_form(text):
    assert listen_values(text) == {"listen-client-urls": "https://10.0.0.1:2379,https://127.0.0.1:2379",
                                   "listen-peer-urls": "https://10.0.0.1:2380"}


def test_manifest_flags_are_set_in_place_and_nothing_else_changes():
    after = manifest_flags_edit(MANIFEST, {"etcd-servers": "https://10.1.0.1:2379", "advertise-address": "10.1.0.1"},
                                "manifest")
    assert manifest_flags(after) == {"advertise-address": "10.1.0.1", "etcd-servers": "https://10.1.0.1:2379",
                                     "tls-cert-file": "/etc/kubernetes/pki/apiserver.crt"}
    assert "# the etcd servers" in after
    assert yaml.safe_load(after)["spec"]["containers"][0]["livenessProbe"]["httpGet"]["host"] == "10.0.0.1"


def test_a_flag_given_twice_or_not_at_all_is_refused_naming_the_value():
    with pytest.raises(BundleError, match="no `- --etcd-servers=...` item: set --etcd-servers=x there by hand"):
        manifest_flags_edit(MANIFEST.replace("--etcd-servers", "--etcd-cafile"), {"etcd-servers": "x"}, "manifest")
    doubled = MANIFEST.replace("    - \"--tls", "    - --etcd-servers=https://10.0.0.3:2379\n    - \"--tls")
    with pytest.raises(BundleError, match="more than one"):
        manifest_flags_edit(doubled, {"etcd-servers": "x"}, "manifest")


def test_a_certificate_is_kept_only_when_it_chains_and_names_the_new_address_or_dns_name():
    ca_pem, ca_key_pem = make_ca()
    other_pem, other_key_pem = make_ca("another-ca")
    issued = issue_member_certs(ca_pem, ca_key_pem, "cp4", ["10.0.0.4"], ["cp4.example"])["server"]["cert"]
    assert _cert_covers(issued, ca_pem, "10.0.0.4") is None
    assert _cert_covers(issued, ca_pem, "cp4.example") is None
    assert _cert_covers(issued, ca_pem, "10.0.0.1") == "it does not name 10.0.0.1"
    assert _cert_covers(issued, other_pem, "10.0.0.4") == "it is not signed by the etcd CA"
    foreign = issue_member_certs(other_pem, other_key_pem, "cp4", ["10.0.0.4"])["server"]["cert"]
    assert _cert_covers(foreign, ca_pem, "10.0.0.4") == "it is not signed by the etcd CA"
