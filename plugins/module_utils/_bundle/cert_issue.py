# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates for a replaced etcd member and a kube-apiserver, issued from the cluster's CA as kubeadm issues them.

From kubernetes/kubernetes cmd/kubeadm/app:
- phases/certs/certlist.go: etcd-server and etcd-peer have CommonName = the node name and ExtKeyUsage serverAuth +
  clientAuth; apiserver has CommonName `kube-apiserver` (constants.go APIServerCertCommonName) and serverAuth.
- util/pkiutil/pki_helpers.go: etcd SANs are DNS [node name, localhost] and IPs [advertise address, 127.0.0.1, ::1]
  plus the configured extra SANs; apiserver SANs are DNS [node name, kubernetes, kubernetes.default,
  kubernetes.default.svc, kubernetes.default.svc.<dnsDomain>] and IPs [the service subnet's first address, the
  advertise address] plus controlPlaneEndpoint and certSANs. Duplicates are removed, DNS names sorted.
  NewSignedCert: serial uniform in [1, 2^63-1), NotBefore = the CA's NotBefore, NotAfter = now + CertificateValidity
  (constants.go: 365 days), KeyUsage digitalSignature + keyEncipherment, BasicConstraints valid with cA false.
  The key: RSA-2048 unless the cluster's encryptionAlgorithm (kubeadm API: ECDSA-P256, RSA-2048, RSA-3072,
  RSA-4096) says otherwise; kubeadm makes the CA with the same algorithm, so the CA's key stands for it here.
- client-go util/keyutil: the key file is PKCS#1 `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`.
Go's x509.CreateCertificate signs RSA with SHA-256, ECDSA with SHA-256/384/512 by curve, and copies the CA's
SubjectKeyId into AuthorityKeyId."""
from __future__ import annotations

import datetime
import ipaddress
import secrets
from collections.abc import Iterable
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._bundle.certs import library
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

ALGORITHMS = ("RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256")
VALIDITY = datetime.timedelta(days=365)
APISERVER_CN = "kube-apiserver"
LOOPBACKS = ("127.0.0.1", "::1")
_MAX_SERIAL = (1 << 63) - 1


class IssueError(EtcdOpsError):
    """A certificate that cannot be issued (a CA or key that cannot be used, an unknown algorithm)."""


def _load_ca(ca_cert_pem: bytes, ca_key_pem: bytes) -> tuple[Any, Any]:
    x509, dummy, dummy2, serialization = library()
    try:
        cert = x509.load_pem_x509_certificate(ca_cert_pem)
        key = serialization.load_pem_private_key(ca_key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise IssueError("the CA certificate or key cannot be read: %s" % exc) from None
    if cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise IssueError("the CA key does not belong to the CA certificate %s" % cert.subject.rfc4514_string())
    return cert, key


def algorithm_of(ca_key: Any) -> str:
    """The kubeadm encryptionAlgorithm the CA's key stands for (RSA-2048 when it stands for none)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    if isinstance(ca_key, rsa.RSAPrivateKey) and "RSA-%d" % ca_key.key_size in ALGORITHMS:
        return "RSA-%d" % ca_key.key_size
    if isinstance(ca_key, ec.EllipticCurvePrivateKey) and ca_key.curve.name == "secp256r1":
        return "ECDSA-P256"
    return "RSA-2048"


def _new_key(algorithm: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    if algorithm not in ALGORITHMS:
        raise IssueError("encryption algorithm %s: kubeadm knows %s" % (algorithm, ", ".join(ALGORITHMS)))
    if algorithm == "ECDSA-P256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm.split("-")[1]))


def _signing_hash(ca_key: Any) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    hashes = library()[2]
    if isinstance(ca_key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    if isinstance(ca_key, ec.EllipticCurvePrivateKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(ca_key.curve.key_size, hashes.SHA256())
    return None   # Ed25519 and Ed448 sign without a separate hash


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import rsa
    serialization = library()[3]
    form = serialization.PrivateFormat.TraditionalOpenSSL   # PKCS#1 for RSA, SEC1 for EC: as client-go writes them
    if not isinstance(key, rsa.RSAPrivateKey) and not hasattr(key, "curve"):
        form = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())


def _ips(values: Iterable[str]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        try:
            ip = ipaddress.ip_address(str(value))
        except ValueError:
            raise IssueError("%s is not an IP address" % value) from None
        if ip not in out:
            out.append(ip)
    return out


def _issue(ca_cert: Any, ca_key: Any, common_name: str, dns: Iterable[str], ips: list[Any], usages: list[Any],
           algorithm: str | None, now: datetime.datetime | None) -> dict[str, bytes]:
    x509, dummy, dummy2, serialization = library()
    from cryptography.x509.oid import NameOID
    key = _new_key(algorithm or algorithm_of(ca_key))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_before = getattr(ca_cert, "not_valid_before_utc", None) or ca_cert.not_valid_before
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(secrets.randbelow(_MAX_SERIAL - 1) + 1)
               .not_valid_before(not_before).not_valid_after(now + VALIDITY)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.SubjectAlternativeName(
                   [x509.DNSName(name) for name in sorted(set(dns))] + [x509.IPAddress(ip) for ip in ips]),
                   critical=False))
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    except x509.ExtensionNotFound:
        pass
    cert = builder.sign(ca_key, _signing_hash(ca_key))
    return {"cert": cert.public_bytes(serialization.Encoding.PEM), "key": _key_pem(key)}


def issue_member_certs(ca_cert_pem: bytes, ca_key_pem: bytes, member_name: str, addresses: Iterable[str],
                       dns_names: Iterable[str] = (), encryption_algorithm: str | None = None,
                       now: datetime.datetime | None = None) -> dict[str, dict[str, bytes]]:
    """{"server": {"cert", "key"}, "peer": {"cert", "key"}} (PEM bytes) for etcd member `member_name`, as kubeadm's
    etcd-server and etcd-peer; `addresses` are its IPs, the advertise address first."""
    ca_cert, ca_key = _load_ca(ca_cert_pem, ca_key_pem)
    from cryptography.x509.oid import ExtendedKeyUsageOID
    ips = _ips([*addresses, *LOOPBACKS])
    dns = [member_name, "localhost", *dns_names]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return {role: _issue(ca_cert, ca_key, member_name, dns, ips, usages, encryption_algorithm, now)
            for role in ("server", "peer")}


def issue_apiserver_serving_cert(ca_cert_pem: bytes, ca_key_pem: bytes, node_name: str, advertise_address: str,
                                 service_ip: str = "", dns_domain: str = "", extra_sans: Iterable[str] = (),
                                 existing_cert_pem: bytes | None = None, drop_sans: Iterable[str] = (),
                                 encryption_algorithm: str | None = None,
                                 now: datetime.datetime | None = None) -> dict[str, bytes]:
    """{"cert", "key"} for kube-apiserver's serving certificate. With `existing_cert_pem` its SANs are kept, plus
    the node name, `advertise_address` and `extra_sans`, minus `drop_sans` (an address the host no longer has);
    without it the SANs are kubeadm's, from `service_ip` and `dns_domain` (both then required)."""
    x509 = library()[0]
    from cryptography.x509.oid import ExtendedKeyUsageOID
    ca_cert, ca_key = _load_ca(ca_cert_pem, ca_key_pem)
    dns: list[str] = [node_name]
    ips: list[str] = []
    if existing_cert_pem is not None:
        try:
            sans = x509.load_pem_x509_certificate(existing_cert_pem).extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value
        except (ValueError, x509.ExtensionNotFound) as exc:
            raise IssueError("the existing kube-apiserver certificate gives no SANs to keep: %s" % exc) from None
        dns += sans.get_values_for_type(x509.DNSName)
        ips += [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    elif not service_ip or not dns_domain:
        raise IssueError("without the existing certificate, the service IP and the cluster DNS domain are needed")
    else:
        dns += ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + dns_domain]
        ips.append(service_ip)
    ips.append(advertise_address)
    for san in extra_sans:
        (ips if is_ip(san) else dns).append(san)
    dropped = set(drop_sans)
    dropped_ips = set(_ips(san for san in dropped if is_ip(san)))
    return _issue(ca_cert, ca_key, APISERVER_CN, [name for name in dns if name not in dropped],
                  [ip for ip in _ips(ips) if ip not in dropped_ips], [ExtendedKeyUsageOID.SERVER_AUTH],
                  encryption_algorithm, now)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
