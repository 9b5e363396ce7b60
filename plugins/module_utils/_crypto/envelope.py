# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The header of an etcdops.dr encrypted file, format 1 (docs/encryption.md), and the keys that open it: X25519
recipients, each holding the per-file key wrapped for it; the header authenticated with that file key."""
from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

MAGIC = b"ETCDOPSE"
VERSION = 1
CIPHER_AES_256_GCM = 1
CIPHERS = {CIPHER_AES_256_GCM: "AES-256-GCM"}
# Plaintext bytes per chunk; each chunk adds a 16-byte tag.
CHUNK_SIZE = 1024 * 1024
MIN_CHUNK_SIZE, MAX_CHUNK_SIZE = 4096, 64 * 1024 * 1024
TAG = 16
KEY_ID = 8
RAW_KEY = 32
SALT = 16
WRAPPED = RAW_KEY + TAG
STANZA = KEY_ID + RAW_KEY + WRAPPED
MAX_RECIPIENTS = 64
MAC = 32
# magic, version, cipher, chunk size, salt, recipient count
_FIXED = struct.Struct(">8sBBI16sB")
WRAP_INFO = b"etcdops.dr/1 wrap"
HEADER_INFO = b"etcdops.dr/1 header"
PAYLOAD_INFO = b"etcdops.dr/1 payload"
# Enough of a file to tell whether it is one of ours, and of which version.
SNIFF = len(MAGIC) + 1
PRIVATE_PEM, PUBLIC_PEM = "PRIVATE KEY", "PUBLIC KEY"


class CryptoError(EtcdOpsError):
    """An encrypted file or a key that cannot be used. `cause` names the kind: missing_key, wrong_key, bad_key,
    tampered, truncated, unsupported, no_library."""

    def __init__(self, msg: str, cause: str) -> None:
        super().__init__(msg)
        self.cause = cause


def library():
    """The parts of `cryptography` this needs; CryptoError(no_library) when it is not installed."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import x25519
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    except ImportError:
        raise CryptoError("the Python package cryptography is not installed for the interpreter that runs this "
                          "module: install it (pip install cryptography; see docs/hosts.md) to encrypt or decrypt "
                          "snapshots.", "no_library") from None
    return hashes, serialization, x25519, AESGCM, HKDF


def derive(secret: bytes, salt: bytes, info: bytes) -> bytes:
    hashes, dummy, dummy, dummy, HKDF = library()
    return HKDF(algorithm=hashes.SHA256(), length=RAW_KEY, salt=salt, info=info).derive(secret)


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).digest()[:KEY_ID].hex()


def _pem_kind(text: str) -> str | None:
    for kind in (PRIVATE_PEM, PUBLIC_PEM):
        if "-----BEGIN %s-----" % kind in text:
            return kind
    return None


def public_key(text: str, what: str = "a recipient") -> tuple[str, bytes]:
    """(key id, raw 32 bytes) of the X25519 public key in PEM `text`."""
    dummy, serialization, x25519, dummy, dummy = library()
    text = (text or "").strip()
    kind = _pem_kind(text)
    if kind == PRIVATE_PEM:
        raise CryptoError("%s is a PRIVATE key: backups are encrypted to public keys only, and the private key must "
                          "never reach the backup hosts; give its public half (openssl pkey -in key.pem -pubout)."
                          % what, "bad_key")
    try:
        key = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        raise CryptoError("%s is not a PEM public key (-----BEGIN PUBLIC KEY-----): make one with openssl genpkey "
                          "-algorithm X25519 -out key.pem; openssl pkey -in key.pem -pubout." % what,
                          "bad_key") from None
    if not isinstance(key, x25519.X25519PublicKey):
        raise CryptoError("%s is a %s public key, not X25519: make an X25519 key pair (openssl genpkey -algorithm "
                          "X25519)." % (what, type(key).__name__.replace("PublicKey", "").lstrip("_")), "bad_key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key_id(raw), raw


def private_key(text: str, what: str = "the decryption key") -> tuple[str, X25519PrivateKey]:
    """(key id, X25519PrivateKey) from PEM `text` (PKCS#8, unencrypted: keep it in Ansible Vault or a credential)."""
    dummy, serialization, x25519, dummy, dummy = library()
    text = (text or "").strip()
    if not text:
        raise CryptoError("%s is empty" % what, "missing_key")
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeError) as exc:
        hint = ("it is a PUBLIC key: the private key is needed to decrypt" if _pem_kind(text) == PUBLIC_PEM else
                "it is passphrase-protected: store it unencrypted inside Ansible Vault or an AWX credential instead"
                if "encrypted" in str(exc).lower() or "password" in str(exc).lower() else
                "give the X25519 private key in PEM (-----BEGIN PRIVATE KEY-----)")
        raise CryptoError("%s cannot be read: %s" % (what, hint), "bad_key") from None
    if not isinstance(key, x25519.X25519PrivateKey):
        raise CryptoError("%s is not an X25519 private key: give the key whose public half the backups were "
                          "encrypted to" % what, "bad_key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key_id(raw), key


@dataclass
class Header:
    version: int
    cipher: int
    chunk_size: int
    salt: bytes
    stanzas: list[tuple[str, bytes, bytes]]
    mac: bytes
    raw: bytes

    @property
    def length(self) -> int:
        return len(self.raw)

    @property
    def key_ids(self) -> list[str]:
        return [stanza[0] for stanza in self.stanzas]

    def describe(self) -> dict:
        return dict(format=self.version, cipher=CIPHERS.get(self.cipher, str(self.cipher)),
                    chunk_size=self.chunk_size, recipients=self.key_ids)


def _wrap_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    if shared == bytes(RAW_KEY):
        raise CryptoError("a recipient's public key is a low-order point (an all-zero shared secret): it is no usable "
                          "X25519 key", "bad_key")
    return derive(shared, ephemeral + recipient, WRAP_INFO)


def seal_header(file_key: bytes, recipients: list[tuple[str, bytes]], chunk_size: int = CHUNK_SIZE) -> Header:
    """A new header for `file_key`, wrapped for each recipient (key id, raw public key)."""
    dummy, serialization, x25519, AESGCM, dummy = library()
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise CryptoError("%d recipients: give between 1 and %d public keys" % (len(recipients), MAX_RECIPIENTS),
                          "bad_key")
    salt = os.urandom(SALT)
    body = [_FIXED.pack(MAGIC, VERSION, CIPHER_AES_256_GCM, chunk_size, salt, len(recipients))]
    stanzas = []
    for ident, raw in recipients:
        ephemeral = x25519.X25519PrivateKey.generate()
        ephemeral_raw = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        shared = ephemeral.exchange(x25519.X25519PublicKey.from_public_bytes(raw))
        # Each wrap key is used once: a fixed nonce is safe.
        wrapped = AESGCM(_wrap_key(shared, ephemeral_raw, raw)).encrypt(bytes(12), file_key, None)
        stanzas.append((ident, ephemeral_raw, wrapped))
        body.append(bytes.fromhex(ident) + ephemeral_raw + wrapped)
    unsigned = b"".join(body)
    mac = hmac.new(derive(file_key, salt, HEADER_INFO), unsigned, hashlib.sha256).digest()
    return Header(VERSION, CIPHER_AES_256_GCM, chunk_size, salt, stanzas, mac, unsigned + mac)


def is_encrypted(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def read_header(handle, name: str) -> Header:
    """The header at the start of the open file `handle` (named `name` in messages); its MAC is checked by unlock()."""
    head = handle.read(_FIXED.size)
    if len(head) < SNIFF or head[:len(MAGIC)] != MAGIC:
        raise CryptoError("%s is not an etcdops.dr encrypted file (no %r header)" % (name, MAGIC.decode()),
                          "not_encrypted")
    if head[len(MAGIC)] != VERSION:
        raise CryptoError("%s is in encrypted-file format version %d; this collection reads version %d: upgrade "
                          "etcdops.dr to read it" % (name, head[len(MAGIC)], VERSION), "unsupported")
    if len(head) < _FIXED.size:
        raise CryptoError("%s is truncated: it ends inside its header" % name, "truncated")
    dummy, version, cipher, chunk_size, salt, count = _FIXED.unpack(head)
    if cipher not in CIPHERS:
        raise CryptoError("%s uses cipher number %d, which format %d does not define: upgrade etcdops.dr to read it"
                          % (name, cipher, version), "unsupported")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE or not 1 <= count <= MAX_RECIPIENTS:
        raise CryptoError("%s has a damaged header (chunk size %d, %d recipients)" % (name, chunk_size, count),
                          "tampered")
    rest = handle.read(count * STANZA + MAC)
    if len(rest) < count * STANZA + MAC:
        raise CryptoError("%s is truncated: it ends inside its header" % name, "truncated")
    stanzas = []
    for index in range(count):
        stanza = rest[index * STANZA:(index + 1) * STANZA]
        stanzas.append((stanza[:KEY_ID].hex(), stanza[KEY_ID:KEY_ID + RAW_KEY], stanza[KEY_ID + RAW_KEY:]))
    return Header(version, cipher, chunk_size, salt, stanzas, rest[-MAC:], head + rest)


def unlock(header: Header, name: str, key: tuple[str, X25519PrivateKey] | None) -> bytes:
    """The file key, from the stanza for `key` (key id, X25519PrivateKey); the header's MAC is checked with it."""
    dummy, serialization, x25519, AESGCM, dummy = library()
    if key is None:
        raise CryptoError("%s is encrypted (to key ids %s) and no decryption key was given: give the private key of "
                          "one of them" % (name, ", ".join(header.key_ids)), "missing_key")
    ident, private = key
    for stanza_id, ephemeral_raw, wrapped in header.stanzas:
        if stanza_id != ident:
            continue
        shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(ephemeral_raw))
        own_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        try:
            file_key = AESGCM(_wrap_key(shared, ephemeral_raw, own_raw)).decrypt(bytes(12), wrapped, None)
        except Exception:
            raise CryptoError("%s: the file key wrapped for key id %s does not open with that key: the header was "
                              "tampered with" % (name, ident), "tampered") from None
        check_mac(header, name, file_key)
        return file_key
    raise CryptoError("%s is encrypted to key ids %s, and the decryption key given has id %s: give the private key "
                      "of one of them (an older backup may need an older key)"
                      % (name, ", ".join(header.key_ids), ident), "wrong_key")


def check_mac(header: Header, name: str, file_key: bytes) -> None:
    expected = hmac.new(derive(file_key, header.salt, HEADER_INFO), header.raw[:-MAC], hashlib.sha256).digest()
    if not hmac.compare_digest(expected, header.mac):
        raise CryptoError("%s: its header fails its authentication code: it was tampered with" % name, "tampered")
