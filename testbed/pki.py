"""A CA and kubeadm-like certificates for the test bed: one server and one peer certificate per
member, a client certificate for the modules, and a second, unrelated CA with its own client
certificate for the tests of untrusted certificates."""
import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 3650


def _write_key(path, key):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(path, cert):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name, organization=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _builder(subject, issuer, public_key):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS)))


def make_ca(cert_path, key_path, common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(_name(common_name), _name(common_name), key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert, key


def issue(ca, cert_path, key_path, common_name, *, server=False, client=False, addresses=(), dns_names=(),
          organization=None):
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    builder = (_builder(_name(common_name, organization), ca_cert.subject, key.public_key())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    alt_names = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses] + [x509.DNSName(d) for d in dns_names]
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    _write_key(key_path, key)
    _write_cert(cert_path, builder.sign(ca_key, hashes.SHA256()))


def load_ca(bed):
    """The bed's CA (certificate, key), to issue more certificates from."""
    return load_ca_files(bed.cacert, bed.pki / "ca.key")


def load_ca_files(cert_path, key_path):
    return (x509.load_pem_x509_certificate(cert_path.read_bytes()),
            serialization.load_pem_private_key(key_path.read_bytes(), None))


def create(bed, spare_address):
    """Create every certificate unless the CA already exists (certificates survive restarts); a member added to the
    bed since (the drill group) gets its certificates from the existing CA."""
    if bed.cacert.exists():
        ca = load_ca(bed)
        for member in bed.members + bed.drill_members:
            if not (member.root / "pki" / "peer.key").exists():
                _member_certs(ca, member)
        return
    pki = bed.pki
    ca = make_ca(bed.cacert, pki / "ca.key", "etcd-ca")
    for member in bed.members + bed.drill_members:
        _member_certs(ca, member)
    issue(ca, bed.client_cert, bed.client_key, "kube-etcd-healthcheck-client", client=True,
          organization="system:masters")
    issue(ca, pki / "scratch" / "server.crt", pki / "scratch" / "server.key", "scratch",
          server=True, addresses=(spare_address,))
    rogue = make_ca(pki / "rogue" / "ca.crt", pki / "rogue" / "ca.key", "not-the-etcd-ca")
    issue(rogue, pki / "rogue" / "client.crt", pki / "rogue" / "client.key", "intruder", client=True)


def _member_certs(ca, member):
    names = dict(addresses=(member.address, "127.0.0.1"), dns_names=(member.name, "localhost"))
    issue(ca, member.root / "pki" / "server.crt", member.root / "pki" / "server.key", member.name,
          server=True, client=True, **names)
    issue(ca, member.root / "pki" / "peer.crt", member.root / "pki" / "peer.key", member.name,
          server=True, client=True, **names)
