"""Certificates issued as kubeadm issues them, checked by check_chain: chains, SANs, usages, key types, matching
keys, and the failures (a foreign CA, an expired certificate, a lone private key) listed as problems."""
import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.etcdops.dr.plugins.module_utils._bundle.cert_issue import (
    IssueError, issue_apiserver_serving_cert, issue_member_certs)
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.certs import ISSUER_NOT_BUNDLED, check_chain

NOW = datetime.datetime.now(datetime.timezone.utc)


def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(name="etcd-ca", key=None, days=3650, age=datetime.timedelta(minutes=5)):
    """A self-signed CA as kubeadm makes one: BasicConstraints cA=true, a subject key identifier."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - age)
            .not_valid_after(NOW + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), pem_key(key)


RSA_CA = make_ca()


def load(pem):
    return x509.load_pem_x509_certificate(pem)


def sans(cert):
    value = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return value.get_values_for_type(x509.DNSName), [str(ip) for ip in value.get_values_for_type(x509.IPAddress)]


def test_member_certs_as_kubeadm_issues_them():
    issued = issue_member_certs(*RSA_CA, "etcd-2", ["10.0.0.12", "10.0.0.12"], dns_names=["etcd-2.example"],
                                now=NOW)
    ca = load(RSA_CA[0])
    for role in ("server", "peer"):
        cert = load(issued[role]["cert"])
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "etcd-2"
        assert sans(cert) == (["etcd-2", "etcd-2.example", "localhost"], ["10.0.0.12", "127.0.0.1", "::1"])
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
            ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        assert cert.not_valid_before_utc == ca.not_valid_before_utc
        assert cert.not_valid_after_utc - NOW < datetime.timedelta(days=365, seconds=1)
        assert cert.not_valid_after_utc - NOW > datetime.timedelta(days=364)
        assert 1 <= cert.serial_number < 2 ** 63
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        assert aki == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        assert issued[role]["key"].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
        assert cert.public_key().key_size == 2048
    assert load(issued["server"]["cert"]).serial_number != load(issued["peer"]["cert"]).serial_number
    files = {"etcd/ca.crt": RSA_CA[0], "etcd/ca.key": RSA_CA[1], "etcd/server.crt": issued["server"]["cert"],
             "etcd/server.key": issued["server"]["key"], "etcd/peer.crt": issued["peer"]["cert"],
             "etcd/peer.key": issued["peer"]["key"]}
    report = check_chain(files, now=NOW)
    assert report["ok"] and report["problems"] == []
    by_path = {c["path"]: c for c in report["certificates"]}
    assert by_path["etcd/server.crt"]["chains"] is True and by_path["etcd/server.crt"]["issuer_path"] == "etcd/ca.crt"
    assert by_path["etcd/server.crt"]["key"] == "etcd/server.key" and by_path["etcd/ca.crt"]["is_ca"]
    assert by_path["etcd/ca.crt"]["chains"] is True   # self-signed
    assert by_path["etcd/peer.crt"]["days_left"] in (364, 365)
    assert by_path["etcd/peer.crt"]["subject"] == "CN=etcd-2" and by_path["etcd/peer.crt"]["issuer"] == "CN=etcd-ca"


def test_the_key_type_follows_the_ca_or_the_algorithm_given():
    ec_ca = make_ca(key=ec.generate_private_key(ec.SECP256R1()))
    issued = issue_member_certs(*ec_ca, "etcd-1", ["10.0.0.11"])
    cert = load(issued["server"]["cert"])
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    assert issued["server"]["key"].startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    bigger = issue_member_certs(*ec_ca, "etcd-1", ["10.0.0.11"], encryption_algorithm="RSA-3072")
    assert load(bigger["peer"]["cert"]).public_key().key_size == 3072
    with pytest.raises(IssueError, match="kubeadm knows"):
        issue_member_certs(*ec_ca, "etcd-1", ["10.0.0.11"], encryption_algorithm="DSA-1024")
    assert check_chain({"ca.crt": ec_ca[0], "server.crt": issued["server"]["cert"]}, now=NOW)["ok"]


def test_an_ed25519_ca_chains():
    ed_ca = make_ca(key=ed25519.Ed25519PrivateKey.generate())
    issued = issue_member_certs(*ed_ca, "etcd-1", ["10.0.0.11"])
    report = check_chain({"ca.crt": ed_ca[0], "server.crt": issued["server"]["cert"]}, now=NOW)
    assert [c["chains"] for c in report["certificates"]] == [True, True]


def test_a_certificate_from_another_ca_with_the_same_name_does_not_chain():
    impostor = make_ca()   # also CN=etcd-ca, another key
    issued = issue_member_certs(*impostor, "etcd-1", ["10.0.0.11"])
    report = check_chain({"ca.crt": RSA_CA[0], "server.crt": issued["server"]["cert"]}, now=NOW)
    server = [c for c in report["certificates"] if c["path"] == "server.crt"][0]
    assert server["chains"] is False and not report["ok"]
    assert "server.crt (CN=etcd-1): its issuer CN=etcd-ca in the bundle did not sign it" in report["problems"]


def test_an_issuer_outside_the_bundle():
    issued = issue_member_certs(*make_ca("front-proxy-ca"), "etcd-1", ["10.0.0.11"])
    report = check_chain({"server.crt": issued["server"]["cert"], "server.key": issued["server"]["key"]}, now=NOW)
    assert report["certificates"][0]["chains"] == ISSUER_NOT_BUNDLED and report["ok"]


def test_expired_and_expiring_certificates_are_problems():
    ca = make_ca(age=datetime.timedelta(days=800))
    old = issue_member_certs(*ca, "etcd-1", ["10.0.0.11"], now=NOW - datetime.timedelta(days=400))
    soon = issue_member_certs(*ca, "etcd-1", ["10.0.0.11"], now=NOW - datetime.timedelta(days=350))
    report = check_chain({"ca.crt": ca[0], "old.crt": old["server"]["cert"], "soon.crt": soon["server"]["cert"]},
                         now=NOW)
    by_path = {c["path"]: c for c in report["certificates"]}
    assert by_path["old.crt"]["expired"] and by_path["old.crt"]["days_left"] < 0 and by_path["old.crt"]["chains"]
    assert not by_path["soon.crt"]["expired"] and by_path["soon.crt"]["days_left"] in (14, 15)
    assert [p.split(" ")[0] for p in report["problems"]] == ["old.crt", "soon.crt"]
    assert "expired on" in report["problems"][0] and "expires in 1" in report["problems"][1]


def test_key_pairs_and_lone_keys():
    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_pub = sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    lone = pem_key(ec.generate_private_key(ec.SECP256R1()))
    report = check_chain({"sa.key": pem_key(sa), "sa.pub": sa_pub, "stray.key": lone, "notes.txt": b"hello",
                          "ca.crt": RSA_CA[0], "ca.key": RSA_CA[1]}, now=NOW)
    keys = {k["path"]: k for k in report["keys"]}
    assert keys["sa.key"]["matches"] == ["sa.pub"] and keys["sa.pub"]["matches"] == ["sa.key"]
    assert keys["ca.key"]["matches"] == ["ca.crt"] and keys["stray.key"]["matches"] == []
    assert report["problems"] == ["stray.key: no certificate or public key in the bundle matches this private key",
                                  "notes.txt: no PEM block in the file"]
    assert not report["ok"]


def test_an_empty_bundle_is_not_ok():
    assert check_chain({}) == {"certificates": [], "keys": [], "unreadable": [], "problems": [], "ok": False}


def test_apiserver_certificate_fresh_and_reissued():
    ca = make_ca("kubernetes")
    fresh = issue_apiserver_serving_cert(*ca, "cp-1", "10.0.0.21", service_ip="10.96.0.1",
                                         dns_domain="cluster.local", extra_sans=["api.example", "192.0.2.7"])
    cert = load(fresh["cert"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kube-apiserver"
    assert sans(cert) == (["api.example", "cp-1", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                           "kubernetes.default.svc.cluster.local"], ["10.96.0.1", "10.0.0.21", "192.0.2.7"])
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    # The host moved from 10.0.0.21 to 10.0.1.21 and lost the extra address: the rest of the SANs is kept.
    again = load(issue_apiserver_serving_cert(*ca, "cp-1", "10.0.1.21", existing_cert_pem=fresh["cert"],
                                              drop_sans=["10.0.0.21", "192.0.2.7"])["cert"])
    assert sans(again) == (sans(cert)[0], ["10.96.0.1", "10.0.1.21"])
    assert ipaddress.ip_address("10.0.1.21") in again.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.IPAddress)
    with pytest.raises(IssueError, match="service IP and the cluster DNS domain"):
        issue_apiserver_serving_cert(*ca, "cp-1", "10.0.0.21")


def test_a_ca_key_that_is_not_the_ca_s():
    with pytest.raises(IssueError, match="does not belong to the CA certificate CN=etcd-ca"):
        issue_member_certs(RSA_CA[0], make_ca()[1], "etcd-1", ["10.0.0.11"])
    with pytest.raises(IssueError, match="cannot be read"):
        issue_member_certs(b"not a pem", RSA_CA[1], "etcd-1", ["10.0.0.11"])
    with pytest.raises(IssueError, match="not an IP address"):
        issue_member_certs(*RSA_CA, "etcd-1", ["etcd-1.example"])
