# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets as kube-apiserver stores them in etcd: read one with the bundle's EncryptionConfiguration, write one the
same way (for the tests and the test bed), and sum a sample up for the drill.

The wire format, from kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg:
- server/options/encryptionconfig/config.go: value = provider prefix (`k8s:enc:aescbc:v1:`, `k8s:enc:aesgcm:v1:`,
  `k8s:enc:secretbox:v1:`, `k8s:enc:kms:v1:<name>:`, `k8s:enc:kms:v2:<name>:`) + `<key name>:` + ciphertext;
  identity writes the object unchanged.
- storage/value/encrypt/aes/aes.go: aescbc = 16-byte IV + AES-CBC with PKCS#7 padding, no authenticated data;
  aesgcm = 12-byte nonce + AES-GCM ciphertext and 16-byte tag, the authenticated data being the etcd key
  (storage/etcd3/store.go: authenticatedDataString(key), the full key such as /registry/secrets/ns/name).
- storage/value/encrypt/secretbox/secretbox.go: 24-byte nonce + NaCl secretbox.Seal output; no authenticated data.
- storage/value/encrypt/identity/identity.go: `k8s:enc:` is reserved for encrypted data; JSON starts with `{`,
  protobuf with `k8s` and an encoding byte. apimachinery runtime/serializer/protobuf: the magic is `k8s\\x00` and a
  runtime.Unknown follows (field 1 typeMeta {1 apiVersion, 2 kind}, field 2 raw).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._bundle import secretbox
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.encryption_config import Provider, SecretsEncryption
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

ENCRYPTED = b"k8s:enc:"
PROTOBUF_MAGIC = b"k8s\x00"
KMS_PREFIXES = {b"k8s:enc:kms:v1:": "v1", b"k8s:enc:kms:v2:": "v2"}
KEYED = ("aescbc", "aesgcm", "secretbox")
STATES = ("decrypted", "failed", "unencrypted", "kms")
KMS_NOT_CHECKED = "key held outside: not checked"


class NoLibrary(EtcdOpsError):
    """The Python package cryptography is missing where AES is needed."""


@dataclass(frozen=True)
class Reading:
    """One stored value read: `state` is one of STATES; `plaintext` only when decrypted or unencrypted."""
    state: str
    provider: str
    key_name: str
    msg: str
    plaintext: bytes | None = None

    def describe(self) -> dict[str, str]:
        return {"state": self.state, "provider": self.provider, "key_name": self.key_name, "msg": self.msg}


def _library() -> Any:
    try:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise NoLibrary("the Python package cryptography is not installed for the interpreter that runs this module: "
                        "install it (pip install cryptography) to read Secrets encrypted with AES.") from None
    return InvalidTag, Cipher, algorithms, modes, AESGCM


def _aescbc_open(key: bytes, data: bytes, dummy: bytes) -> tuple[bytes | None, str]:
    if len(data) < 16 or len(data) % 16:
        return None, "does not decrypt it: the stored data is not an IV and whole AES blocks"
    dummy2, Cipher, algorithms, modes, dummy3 = _library()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
    result = decryptor.update(data[16:]) + decryptor.finalize()
    pad = result[-1] if result else 0
    # As aes.go checks it: a pad of 0 or longer than the data is refused, and every pad byte must equal it.
    if pad == 0 or pad > len(result) or result[-pad:] != bytes([pad]) * pad:
        return None, "does not decrypt it: invalid PKCS#7 padding (the wrong key)"
    return result[:-pad], ""


def _aesgcm_open(key: bytes, data: bytes, etcd_key: bytes) -> tuple[bytes | None, str]:
    if len(data) < 12 + 16:
        return None, "does not decrypt it: the stored data is shorter than a nonce and a tag"
    InvalidTag, dummy, dummy2, dummy3, AESGCM = _library()
    try:
        return AESGCM(key).decrypt(data[:12], data[12:], etcd_key), ""
    except InvalidTag:
        return None, ("does not decrypt it: the AES-GCM tag does not match (the wrong key, or the value was "
                      "moved from another etcd key)")


def _secretbox_open(key: bytes, data: bytes, dummy: bytes) -> tuple[bytes | None, str]:
    if len(data) < secretbox.NONCE_SIZE + secretbox.TAG_SIZE:
        return None, "does not decrypt it: the stored data is shorter than a nonce and a tag"
    plaintext = secretbox.open_box(key, data[:secretbox.NONCE_SIZE], data[secretbox.NONCE_SIZE:])
    if plaintext is None:
        return None, "does not decrypt it: the Poly1305 tag does not match (the wrong key)"
    return plaintext, ""


_OPENERS = {"aescbc": _aescbc_open, "aesgcm": _aesgcm_open, "secretbox": _secretbox_open}


def _proto_field(data: bytes, number: int) -> bytes | None:
    """The first length-delimited field `number` of a protobuf message, or None (absent or malformed)."""
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            dummy, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                return None
            if field == number:
                return data[pos:pos + size]
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            return None
    return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while pos < len(data):
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos
    return value, len(data) + 1


def object_kind(data: bytes) -> str | None:
    """The kind of a stored Kubernetes object (protobuf or JSON), or None when `data` is not one."""
    if data.startswith(PROTOBUF_MAGIC):
        type_meta = _proto_field(data[len(PROTOBUF_MAGIC):], 1)
        kind = _proto_field(type_meta, 2) if type_meta is not None else None
        return kind.decode("utf-8", "replace") if kind is not None else None
    if data.lstrip().startswith(b"{"):
        try:
            doc = json.loads(data)
        except ValueError:
            return None
        return str(doc.get("kind")) if isinstance(doc, dict) and doc.get("kind") else None
    return None


def _not_a_secret(plaintext: bytes) -> str:
    """Why `plaintext` is not a stored Secret, or "" when it is one."""
    kind = object_kind(plaintext)
    if kind == "Secret":
        return ""
    return "a %s, not a Secret" % kind if kind else "not a Kubernetes object (no k8s\\x00 protobuf, no JSON kind)"


def _keyed(config: SecretsEncryption, kind: str, rest: bytes, etcd_key: bytes) -> Reading:
    stored_name = rest.split(b":", 1)[0].decode("utf-8", "replace") if b":" in rest else ""
    providers = [p for p in config.providers if p.kind == kind]
    if not providers:
        return Reading("failed", kind, stored_name, "written with %s key %s, and the configuration has no %s "
                       "provider for secrets" % (kind, stored_name, kind))
    reasons = []
    for provider in providers:
        for key in provider.keys:
            name = key.name.encode()
            if rest.startswith(name + b":"):
                plaintext, why = _OPENERS[kind](key.secret, rest[len(name) + 1:], etcd_key)
                if plaintext is not None:
                    what = _not_a_secret(plaintext)
                    if not what:
                        return Reading("decrypted", kind, key.name, "", plaintext)
                    why = "decrypts to %s (the wrong key?)" % what
                reasons.append(why)
    if not reasons:
        return Reading("failed", kind, stored_name, "written with %s key %s, which the configuration does not hold"
                       % (kind, stored_name))
    return Reading("failed", kind, stored_name, "%s key %s: %s" % (kind, stored_name, "; ".join(reasons)))


def decrypt_stored_value(config: SecretsEncryption, etcd_key: str | bytes, value: bytes) -> Reading:
    """Read `value` (stored under `etcd_key`) as kube-apiserver would with `config`; never raises for a bad value."""
    key = etcd_key.encode() if isinstance(etcd_key, str) else etcd_key
    for prefix, version in KMS_PREFIXES.items():
        if value.startswith(prefix):
            name = value[len(prefix):].split(b":", 1)[0].decode("utf-8", "replace")
            if any(p.kind == "kms" and p.name == name and p.api_version == version for p in config.providers):
                return Reading("kms", "kms", name, KMS_NOT_CHECKED)
            return Reading("failed", "kms", name, "written by kms %s provider %s, which the configuration does not "
                           "name for secrets" % (version, name))
    for kind in KEYED:
        prefix = Provider(kind).prefix.encode()
        if value.startswith(prefix):
            return _keyed(config, kind, value[len(prefix):], key)
    if value.startswith(ENCRYPTED):
        return Reading("failed", "", "", "an encryption prefix this does not know: %r"
                       % value[:40].split(b":v")[0].decode("utf-8", "replace"))
    if not any(p.kind == "identity" for p in config.providers):
        return Reading("failed", "identity", "", "stored unencrypted, and the configuration has no identity provider "
                       "for secrets: kube-apiserver cannot read it")
    what = _not_a_secret(value)
    if what:
        return Reading("failed", "identity", "", "the unencrypted value is %s" % what)
    return Reading("unencrypted", "identity", "", "", value)


def encrypt_value(provider: str, key_name: str, key_bytes: bytes, etcd_key: str | bytes, plaintext: bytes,
                  nonce: bytes | None = None) -> bytes:
    """`plaintext` as kube-apiserver stores it with `provider` (aescbc, aesgcm, secretbox, identity) and the key;
    `nonce` (the IV for aescbc) is random unless given, for known-answer tests."""
    if provider == "identity":
        return plaintext
    if provider not in KEYED:
        raise ValueError("cannot write with provider %s" % provider)
    head = Provider(provider).prefix.encode() + key_name.encode() + b":"
    aad = etcd_key.encode() if isinstance(etcd_key, str) else etcd_key
    if provider == "secretbox":
        nonce = nonce or os.urandom(secretbox.NONCE_SIZE)
        return head + nonce + secretbox.seal(key_bytes, nonce, plaintext)
    dummy, Cipher, algorithms, modes, AESGCM = _library()
    if provider == "aesgcm":
        nonce = nonce or os.urandom(12)
        return head + nonce + AESGCM(key_bytes).encrypt(nonce, plaintext, aad)
    nonce = nonce or os.urandom(16)
    pad = 16 - len(plaintext) % 16
    encryptor = Cipher(algorithms.AES(key_bytes), modes.CBC(nonce)).encryptor()
    return head + nonce + encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
