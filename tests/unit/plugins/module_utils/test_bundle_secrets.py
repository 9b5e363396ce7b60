"""Secrets as kube-apiserver stores them: the EncryptionConfiguration's providers for secrets, each provider's wire
format (known answers and round trips), and the failures a drill must report instead of a trace."""
import base64
import json

import pytest

from ansible_collections.etcdops.dr.plugins.module_utils._bundle import secretbox
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.encryption_config import (
    EncryptionConfigError, parse_encryption_config)
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.secrets_summary import summarize_secrets
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.stored_values import (
    decrypt_stored_value, encrypt_value, object_kind)

ETCD_KEY = "/registry/secrets/default/db-password"
K32 = bytes(range(32))
K32B = bytes(range(100, 132))
K16 = bytes(range(16))


def b64(raw):
    return base64.b64encode(raw).decode()


def field(number, data):
    assert len(data) < 128
    return bytes([number << 3 | 2, len(data)]) + data


def protobuf_object(kind=b"Secret"):
    """What kube-apiserver's protobuf serializer writes: the magic, then runtime.Unknown{typeMeta, raw}."""
    return b"k8s\x00" + field(1, field(1, b"v1") + field(2, kind)) + field(2, b"\x0a\x05hello")


SECRET = protobuf_object()


def config(*providers, resources=("secrets",), kind="EncryptionConfiguration",
           api_version="apiserver.config.k8s.io/v1", extra_entries=()):
    doc = {"apiVersion": api_version, "kind": kind,
           "resources": [*extra_entries, {"resources": list(resources), "providers": list(providers)}]}
    return parse_encryption_config(json.dumps(doc))


def keyed(kind, *keys):
    return {kind: {"keys": [{"name": name, "secret": b64(raw)} for name, raw in keys]}}


IDENTITY = {"identity": {}}


# --- the configuration -------------------------------------------------------------------------------------------

def test_providers_in_order_and_the_first_writes():
    parsed = config(keyed("aescbc", ("new", K32), ("old", K16)), keyed("secretbox", ("sb", K32B)), IDENTITY,
                    {"kms": {"name": "vault", "apiVersion": "v2", "endpoint": "unix:///kms.sock"}})
    assert [p.kind for p in parsed.providers] == ["aescbc", "secretbox", "identity", "kms"]
    assert parsed.writer.kind == "aescbc" and [k.name for k in parsed.writer.keys] == ["new", "old"]
    assert parsed.writer.keys[1].secret == K16
    assert parsed.providers[3].prefix == "k8s:enc:kms:v2:vault:"
    assert parsed.describe()["providers"][0] == {"kind": "aescbc", "keys": ["new", "old"]}
    assert b64(K32) not in json.dumps(parsed.describe()) and b64(K16) not in json.dumps(parsed.describe())


def test_kms_api_version_defaults_to_v1():
    parsed = config({"kms": {"name": "old", "endpoint": "unix:///kms.sock"}})
    assert parsed.writer.api_version == "v1" and parsed.writer.prefix == "k8s:enc:kms:v1:old:"


def test_the_legacy_kind_is_accepted_and_others_refused():
    assert config(IDENTITY, kind="EncryptionConfig", api_version="v1").writer.kind == "identity"
    with pytest.raises(EncryptionConfigError, match="EncryptionConfiguration"):
        config(IDENTITY, kind="Pod", api_version="v1")


@pytest.mark.parametrize("resources, rule", [(["secrets"], "secrets"), (["secrets."], "secrets"),
                                             (["*."], "*."), (["*.*"], "*.*")])
def test_secrets_found_by_name_or_wildcard(resources, rule):
    parsed = config(keyed("aesgcm", ("k", K32)), resources=resources)
    assert parsed.rule == rule and parsed.writer.kind == "aesgcm"


def test_the_exact_rule_wins_over_a_later_wildcard_and_other_resources_do_not_count():
    parsed = config(keyed("aesgcm", ("k", K32)), resources=["*.*"],
                    extra_entries=[{"resources": ["secrets"], "providers": [keyed("aescbc", ("c", K32))]},
                                   {"resources": ["configmaps"], "providers": [keyed("secretbox", ("s", K32))]}])
    assert parsed.rule == "secrets" and [p.kind for p in parsed.providers] == ["aescbc"]


def test_nothing_names_secrets_so_identity():
    parsed = config(keyed("aesgcm", ("k", K32)), resources=["configmaps", "deployments.apps"])
    assert parsed.rule == "" and parsed.writer.kind == "identity"


def test_a_resource_masked_by_an_earlier_wildcard_is_refused():
    with pytest.raises(EncryptionConfigError, match="masked by the earlier rule"):
        config(IDENTITY, resources=["secrets"], extra_entries=[{"resources": ["*."], "providers": [IDENTITY]}])


@pytest.mark.parametrize("provider, message", [
    (keyed("aescbc", ("k", b"short")), "5 bytes"),
    (keyed("secretbox", ("k", K16)), "16 bytes, secretbox takes 32"),
    ({"aescbc": {"keys": [{"name": "k", "secret": "not base64!"}]}}, "not base64"),
    ({"aescbc": {"keys": []}}, "at least one key"),
    ({"identity": {}, "aescbc": {"keys": [{"name": "k", "secret": b64(K32)}]}}, "exactly one"),
    ({"kms": {"name": "x", "apiVersion": "v3"}}, "only v1 and v2"),
])
def test_configurations_kube_apiserver_refuses(provider, message):
    with pytest.raises(EncryptionConfigError, match=message):
        config(provider)


def test_not_yaml():
    with pytest.raises(EncryptionConfigError, match="not valid YAML"):
        parse_encryption_config("resources: [\n")


# --- known answers -----------------------------------------------------------------------------------------------

# NaCl's secretbox vector: key and nonce from libsodium test/default/secretbox.c, the message its m[32:], the box
# c[16:] of test/default/secretbox2.c (jedisct1/libsodium; the vector of "Cryptography in NaCl", 2009).
NACL_KEY = bytes.fromhex("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389")
NACL_NONCE = bytes.fromhex("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37")
NACL_MESSAGE = bytes.fromhex(
    "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f4"
    "1db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52"
    "f0a089bc76897040e082f937763848645e0705")
NACL_BOX = bytes.fromhex(
    "f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b"
    "4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da"
    "99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5")
# libsodium test/default/core1.c: HSalsa20 of this shared secret with a zero nonce is the key above.
NACL_SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
# RFC 8439 section 2.5.2.
POLY_KEY = bytes.fromhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
POLY_TAG = bytes.fromhex("a8061dc1305136c6c22b8baf0c0127a9")
# The GCM specification (McGrew and Viega, gcm-spec.pdf), appendix B, test case 16: AES-256, with authenticated data.
GCM_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
GCM_NONCE = bytes.fromhex("cafebabefacedbaddecaf888")
GCM_PLAIN = bytes.fromhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
                          "49a6b525b16aedf5aa0de657ba637b39")
GCM_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
GCM_OUT = bytes.fromhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
                        "56828838c5f61e6393ba7a0abcc9f662" "76fc6ece0f4e1768cddf8853bb2d551b")


def test_hsalsa20_and_poly1305_known_answers():
    assert secretbox.hsalsa20(NACL_SHARED, bytes(16)) == NACL_KEY
    message = b"Cryptographic Forum Research Group"
    assert secretbox.poly1305_python(POLY_KEY, message) == POLY_TAG
    assert secretbox.poly1305(POLY_KEY, message) == POLY_TAG


def test_secretbox_known_answer_both_ways():
    assert secretbox.seal(NACL_KEY, NACL_NONCE, NACL_MESSAGE) == NACL_BOX
    assert secretbox.open_box(NACL_KEY, NACL_NONCE, NACL_BOX) == NACL_MESSAGE
    damaged = NACL_BOX[:-1] + bytes([NACL_BOX[-1] ^ 1])
    assert secretbox.open_box(NACL_KEY, NACL_NONCE, damaged) is None


def test_secretbox_without_cryptography_s_poly1305(monkeypatch):
    monkeypatch.setattr(secretbox, "poly1305", secretbox.poly1305_python)
    assert secretbox.seal(NACL_KEY, NACL_NONCE, NACL_MESSAGE) == NACL_BOX
    assert secretbox.open_box(NACL_KEY, NACL_NONCE, NACL_BOX) == NACL_MESSAGE


def test_secretbox_value_is_prefix_key_name_nonce_then_the_box():
    value = encrypt_value("secretbox", "k1", NACL_KEY, ETCD_KEY, NACL_MESSAGE, nonce=NACL_NONCE)
    assert value == b"k8s:enc:secretbox:v1:k1:" + NACL_NONCE + NACL_BOX


def test_aesgcm_value_is_prefix_key_name_nonce_then_ciphertext_and_tag_over_the_etcd_key():
    value = encrypt_value("aesgcm", "g", GCM_KEY, GCM_AAD, GCM_PLAIN, nonce=GCM_NONCE)
    assert value == b"k8s:enc:aesgcm:v1:g:" + GCM_NONCE + GCM_OUT


def test_aescbc_value_is_prefix_key_name_iv_then_pkcs7_padded_blocks():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    iv = bytes(range(16, 32))
    value = encrypt_value("aescbc", "c", K32, ETCD_KEY, b"x" * 16, nonce=iv)
    head = b"k8s:enc:aescbc:v1:c:" + iv
    assert value.startswith(head) and len(value) == len(head) + 32   # a whole block of padding after 16 bytes
    decryptor = Cipher(algorithms.AES(K32), modes.CBC(iv)).decryptor()
    assert decryptor.update(value[len(head):]) + decryptor.finalize() == b"x" * 16 + bytes([16]) * 16


# --- reading stored values ---------------------------------------------------------------------------------------

ALL = config(keyed("aesgcm", ("g1", K32)), keyed("aescbc", ("c1", K32), ("c0", K16)), keyed("secretbox", ("s1", K32B)),
             IDENTITY, {"kms": {"name": "vault", "apiVersion": "v2", "endpoint": "unix:///kms.sock"}})


@pytest.mark.parametrize("kind, name, key", [("aesgcm", "g1", K32), ("aescbc", "c1", K32), ("aescbc", "c0", K16),
                                             ("secretbox", "s1", K32B)])
@pytest.mark.parametrize("plaintext", [SECRET, json.dumps({"kind": "Secret", "apiVersion": "v1"}).encode()])
def test_round_trip_with_every_provider_and_key(kind, name, key, plaintext):
    reading = decrypt_stored_value(ALL, ETCD_KEY, encrypt_value(kind, name, key, ETCD_KEY, plaintext))
    assert (reading.state, reading.provider, reading.key_name, reading.msg) == ("decrypted", kind, name, "")
    assert reading.plaintext == plaintext


def test_aesgcm_binds_the_value_to_its_etcd_key():
    value = encrypt_value("aesgcm", "g1", K32, ETCD_KEY, SECRET)
    moved = decrypt_stored_value(ALL, "/registry/secrets/default/other", value)
    assert moved.state == "failed" and "moved from another etcd key" in moved.msg
    # aescbc and secretbox authenticate nothing but the ciphertext: a move goes unnoticed, as in kube-apiserver.
    for kind, name, key in (("aescbc", "c1", K32), ("secretbox", "s1", K32B)):
        value = encrypt_value(kind, name, key, ETCD_KEY, SECRET)
        assert decrypt_stored_value(ALL, "/registry/secrets/x/y", value).state == "decrypted"


@pytest.mark.parametrize("kind, name, wrong", [("aesgcm", "g1", K32B), ("aescbc", "c1", K32B),
                                               ("secretbox", "s1", K32)])
def test_a_wrong_key_is_a_failure_naming_provider_and_key(kind, name, wrong):
    reading = decrypt_stored_value(ALL, ETCD_KEY, encrypt_value(kind, name, wrong, ETCD_KEY, SECRET * 4))
    assert reading.state == "failed" and reading.provider == kind and reading.key_name == name
    assert reading.msg.startswith("%s key %s: " % (kind, name)) and "wrong key" in reading.msg
    assert reading.plaintext is None


def test_a_key_the_configuration_does_not_hold():
    reading = decrypt_stored_value(ALL, ETCD_KEY, encrypt_value("aescbc", "gone", K32, ETCD_KEY, SECRET))
    assert reading.state == "failed" and reading.msg == ("written with aescbc key gone, which the configuration "
                                                         "does not hold")


def test_a_provider_the_configuration_does_not_have():
    only_gcm = config(keyed("aesgcm", ("g1", K32)))
    reading = decrypt_stored_value(only_gcm, ETCD_KEY, encrypt_value("secretbox", "s1", K32, ETCD_KEY, SECRET))
    assert reading.state == "failed" and "has no secretbox provider" in reading.msg


def test_a_later_provider_with_the_same_prefix_is_tried_after_a_failing_one():
    rotating = config(keyed("aescbc", ("k", K16)), keyed("aescbc", ("k", K32)))
    reading = decrypt_stored_value(rotating, ETCD_KEY, encrypt_value("aescbc", "k", K32, ETCD_KEY, SECRET * 3))
    assert reading.state == "decrypted"


def test_a_decryption_that_is_not_a_secret_fails():
    value = encrypt_value("secretbox", "s1", K32B, ETCD_KEY, protobuf_object(b"ConfigMap"))
    expected = "secretbox key s1: decrypts to a ConfigMap, not a Secret (the wrong key?)"
    assert decrypt_stored_value(ALL, ETCD_KEY, value).msg == expected
    value = encrypt_value("aesgcm", "g1", K32, ETCD_KEY, b"random bytes")
    assert "not a Kubernetes object" in decrypt_stored_value(ALL, ETCD_KEY, value).msg


def test_unencrypted_values():
    assert decrypt_stored_value(ALL, ETCD_KEY, SECRET).state == "unencrypted"
    assert decrypt_stored_value(ALL, ETCD_KEY, b"garbage").state == "failed"
    no_identity = config(keyed("aesgcm", ("g1", K32)))
    reading = decrypt_stored_value(no_identity, ETCD_KEY, SECRET)
    assert reading.state == "failed" and "no identity provider" in reading.msg


def test_kms_values_are_not_checked_but_must_be_configured():
    reading = decrypt_stored_value(ALL, ETCD_KEY, b"k8s:enc:kms:v2:vault:\x0a\x01x")
    assert (reading.state, reading.key_name, reading.msg) == ("kms", "vault", "key held outside: not checked")
    assert decrypt_stored_value(ALL, ETCD_KEY, b"k8s:enc:kms:v1:vault:xx").state == "failed"
    assert decrypt_stored_value(ALL, ETCD_KEY, b"k8s:enc:rot13:v1:k:xx").state == "failed"


@pytest.mark.parametrize("value", [b"k8s:enc:aesgcm:v1:g1:", b"k8s:enc:aesgcm:v1:g1:short", b"k8s:enc:aescbc:v1:c1:" +
                                   bytes(17), b"k8s:enc:aescbc:v1:c1:", b"k8s:enc:secretbox:v1:s1:" + bytes(39)])
def test_truncated_values_fail_without_a_trace(value):
    assert decrypt_stored_value(ALL, ETCD_KEY, value).state == "failed"


def test_object_kind():
    assert object_kind(SECRET) == "Secret" and object_kind(b"k8s\x00\xff") is None
    assert object_kind(b'{"kind": "Secret"}') == "Secret" and object_kind(b"{not json") is None


# --- the drill's summary -----------------------------------------------------------------------------------------

def test_summary_counts_per_state_and_provider():
    samples = [("/registry/secrets/a/%d" % i, encrypt_value("aesgcm", "g1", K32, "/registry/secrets/a/%d" % i, SECRET))
               for i in range(3)]
    samples += [("/registry/secrets/b/old", encrypt_value("aescbc", "c0", K16, "x", SECRET)),
                ("/registry/secrets/b/plain", SECRET),
                ("/registry/secrets/b/kms", b"k8s:enc:kms:v2:vault:zz"),
                (b"/registry/secrets/b/bad", encrypt_value("aesgcm", "g1", K32B, "/registry/secrets/b/bad", SECRET))]
    report = summarize_secrets(ALL, samples)
    assert (report["samples"], report["decrypted"], report["failed"], report["unencrypted"], report["kms"]) == \
        (7, 4, 1, 1, 1)
    assert report["checked"] and not report["ok"] and report["stale"] == 3
    assert report["by_provider"]["aesgcm"]["keys"] == {"g1": 4}
    assert report["by_provider"]["aescbc"]["decrypted"] == 1
    assert report["failures"] == [{"key": "/registry/secrets/b/bad", "state": "failed", "provider": "aesgcm",
                                   "key_name": "g1", "msg": report["failures"][0]["msg"]}]
    assert "1 Secrets under a KMS provider: key held outside: not checked" in report["notes"]


def test_summary_identity_writer_and_empty_sample():
    plain = config(IDENTITY, keyed("aescbc", ("c1", K32)))
    report = summarize_secrets(plain, [(ETCD_KEY, SECRET)])
    assert report["ok"] and report["unencrypted"] == 1
    assert report["notes"] == ["Secrets are stored unencrypted: the first provider for secrets is identity"]
    empty = summarize_secrets(ALL, [])
    assert not empty["checked"] and not empty["ok"] and empty["notes"] == ["no Secret was sampled: not checked"]
