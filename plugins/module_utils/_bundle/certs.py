# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control-plane bundle's certificates: which chain to a CA in the bundle, which expire, which keys match.

A CA is a certificate with BasicConstraints cA=true; a certificate chains when a bundled CA with its issuer's name
verified its signature (RSA PKCS#1 v1.5, ECDSA or Ed25519, as kubeadm's Go x509 signs). kubeadm's layout pairs
`<name>.crt` with `<name>.key`, and the service-account keys as `sa.key` with `sa.pub`
(kubernetes/kubernetes cmd/kubeadm/app/util/pkiutil/pki_helpers.go pathForCert/pathForKey/pathForPublicKey)."""
from __future__ import annotations

import datetime
import re
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

ISSUER_NOT_BUNDLED = "issuer not bundled"
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.S)
# Within this many days an expiry is reported as a problem to fix now.
SOON_DAYS = 30


class NoLibrary(EtcdOpsError):
    """The Python package cryptography is missing."""


def library() -> Any:
    """The parts of `cryptography` the certificate code needs; NoLibrary when it is not installed."""
    try:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
    except ImportError:
        raise NoLibrary("the Python package cryptography is not installed for the interpreter that runs this module: "
                        "install it (pip install cryptography) to check or issue certificates.") from None
    return x509, InvalidSignature, hashes, serialization


def _spki(public_key: Any) -> bytes:
    dummy, dummy2, dummy3, serialization = library()
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read(path: str, data: bytes, certs: list[dict[str, Any]], keys: list[dict[str, Any]],
          unreadable: list[dict[str, str]]) -> None:
    x509, dummy, dummy2, serialization = library()
    blocks = list(_BLOCK.finditer(data))
    if not blocks:
        unreadable.append({"path": path, "msg": "no PEM block in the file"})
    for index, block in enumerate(blocks):
        kind, raw = block.group(1).decode(), block.group(0)
        try:
            if kind == "CERTIFICATE":
                certs.append({"path": path, "index": index, "cert": x509.load_pem_x509_certificate(raw)})
            elif kind.endswith("PRIVATE KEY"):
                private = serialization.load_pem_private_key(raw, password=None)
                keys.append({"path": path, "kind": "private", "spki": _spki(private.public_key())})
            elif kind == "PUBLIC KEY":
                keys.append({"path": path, "kind": "public", "spki": _spki(serialization.load_pem_public_key(raw))})
            else:
                unreadable.append({"path": path, "msg": "a PEM block of type %s is not checked" % kind})
        except (ValueError, TypeError) as exc:
            unreadable.append({"path": path, "msg": "%s block %d cannot be read: %s" % (kind, index, exc)})


def _is_ca(cert: Any) -> bool:
    x509 = library()[0]
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: Any, ca: Any) -> bool:
    dummy, InvalidSignature, dummy2, dummy3 = library()
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chain(entry: dict[str, Any], cas: list[dict[str, Any]]) -> tuple[bool | str, str]:
    """(True, the CA's path) | (False, "") when a CA with the issuer's name did not sign it | (not bundled, "")."""
    cert = entry["cert"]
    named = [ca for ca in cas if ca["cert"].subject == cert.issuer]
    if not named:
        return ISSUER_NOT_BUNDLED, ""
    for ca in named:
        if _issued_by(cert, ca["cert"]):
            return True, ca["path"]
    return False, ""


def _not_after(cert: Any) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def check_chain(pem_files: dict[str, bytes], now: datetime.datetime | None = None) -> dict[str, Any]:
    """The report on the bundle's PEM files ({path: content}): certificates, keys, unreadable blocks, problems, ok."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    certs: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    unreadable: list[dict[str, str]] = []
    for path in sorted(pem_files):
        _read(path, pem_files[path], certs, keys, unreadable)
    cas = [entry for entry in certs if _is_ca(entry["cert"])]
    problems: list[str] = []
    report_certs = []
    for entry in certs:
        cert = entry["cert"]
        chains, issuer_path = _chain(entry, cas)
        spki = _spki(cert.public_key())
        key = next((k["path"] for k in keys if k["kind"] == "private" and k["spki"] == spki), None)
        not_after = _not_after(cert)
        days_left = (not_after - now).days
        name = "%s (%s)" % (entry["path"], cert.subject.rfc4514_string())
        if not_after <= now:
            problems.append("%s expired on %s" % (name, not_after.date().isoformat()))
        elif days_left < SOON_DAYS:
            problems.append("%s expires in %d days" % (name, days_left))
        if chains is False:
            problems.append("%s: its issuer %s in the bundle did not sign it" % (name, cert.issuer.rfc4514_string()))
        report_certs.append({"path": entry["path"], "index": entry["index"], "subject": cert.subject.rfc4514_string(),
                             "issuer": cert.issuer.rfc4514_string(), "not_after": not_after.isoformat(),
                             "days_left": days_left, "expired": not_after <= now, "is_ca": _is_ca(cert),
                             "chains": chains, "issuer_path": issuer_path, "key": key})
    report_keys = []
    for key in keys:
        matches = sorted({c["path"] for c in certs if _spki(c["cert"].public_key()) == key["spki"]} |
                         {k["path"] for k in keys if k is not key and k["kind"] != key["kind"] and
                          k["spki"] == key["spki"]})
        if key["kind"] == "private" and not matches:
            problems.append("%s: no certificate or public key in the bundle matches this private key" % key["path"])
        report_keys.append({"path": key["path"], "kind": key["kind"], "matches": matches})
    problems.extend("%s: %s" % (item["path"], item["msg"]) for item in unreadable)
    return {"certificates": report_certs, "keys": report_keys, "unreadable": unreadable, "problems": problems,
            "ok": bool(certs) and not problems}
