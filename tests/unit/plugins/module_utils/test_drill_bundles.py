"""The drill's check of the control-plane bundles: Secrets sampled from a snapshot's database (plain and encrypted,
written by the test-only bbolt writer), each bundle opened with the drill's key, its certificates and its
EncryptionConfiguration proven on the sample - and every way it fails or cannot run, with no key material in what
it returns."""
import base64
import datetime
import io
import json
import os

import pytest
import yaml

from ansible_collections.etcdops.dr.plugins.module_utils._bundle import archive, cert_issue, take
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.stored_values import encrypt_value
from ansible_collections.etcdops.dr.plugins.module_utils._crypto import envelope
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.stream import Sealer
from ansible_collections.etcdops.dr.plugins.module_utils._drill import bundles
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import EtcdDb
from ansible_collections.etcdops.dr.tests.unit.bolt_writer import BoltWriter, EtcdState
from ansible_collections.etcdops.dr.tests.unit.crypto_keys import ALICE, MALLORY
from ansible_collections.etcdops.dr.tests.unit.plugins.module_utils.test_bundle_certs import make_ca
from ansible_collections.etcdops.dr.tests.unit.runner_drive import Host, drive

SNAPSHOT = "etcd-snapshot-20261208T010000Z.db"
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def field(number, data):
    assert len(data) < 128
    return bytes([number << 3 | 2, len(data)]) + data


def stored_object(kind=b"Secret", name=b"x"):
    """kube-apiserver's protobuf encoding: the magic, then runtime.Unknown{typeMeta{apiVersion, kind}, raw}."""
    return b"k8s\x00" + field(1, field(1, b"v1") + field(2, kind)) + field(2, b"\x0a" + bytes([len(name)]) + name)


def encryption_config(providers):
    return yaml.safe_dump({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
                           "resources": [{"resources": ["secrets"], "providers": providers}]})


def aescbc(key=KEY, name="key1"):
    return {"aescbc": {"keys": [{"name": name, "secret": base64.b64encode(key).decode()}]}}


def database(path, secrets, others=(), deleted=(), encrypt_to=None):
    """A snapshot file (with etcd's sha256 trailer) holding `secrets` {etcd key: stored value}; sealed to
    `encrypt_to` (a public PEM) as the backup encrypts one."""
    state = EtcdState()
    for key in others:
        state.put(key.encode(), b"other")
    for key, value in secrets.items():
        state.put(key.encode(), value)
    for key in deleted:
        state.delete(key.encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = str(path) + ".plain"
    BoltWriter().write(plain, state.tree(), trailer=True)
    if not encrypt_to:
        os.rename(plain, path)
        return str(path)
    out = io.BytesIO()
    sealer = Sealer(out, [envelope.public_key(encrypt_to)])
    sealer.write(open(plain, "rb").read())
    sealer.close()
    os.unlink(plain)
    path.write_bytes(out.getvalue())
    return str(path)


@pytest.fixture
def layout(tmp_path):
    """A kubeadm-like layout: a cluster CA and its key, kube-apiserver's serving certificate issued by it, sa.key and
    sa.pub, and a manifest that names an EncryptionConfiguration (aescbc, KEY)."""
    root = tmp_path / "kubernetes"
    (root / "pki").mkdir(parents=True)
    (root / "manifests").mkdir()
    ca_cert, ca_key = make_ca("kubernetes")
    (root / "pki" / "ca.crt").write_bytes(ca_cert)
    (root / "pki" / "ca.key").write_bytes(ca_key)
    issued = cert_issue.issue_apiserver_serving_cert(ca_cert, ca_key, "node1", "10.0.0.1", service_ip="10.96.0.1",
                                                     dns_domain="cluster.local")
    (root / "pki" / "apiserver.crt").write_bytes(issued["cert"])
    (root / "pki" / "apiserver.key").write_bytes(issued["key"])
    encryption = root / "enc" / "encryption.yaml"
    encryption.parent.mkdir()
    encryption.write_text(encryption_config([aescbc(), {"identity": {}}]))
    manifest = {"kind": "Pod", "spec": {"containers": [{"name": "kube-apiserver", "command": [
        "kube-apiserver", "--encryption-provider-config=%s" % encryption]}]}}
    (root / "manifests" / "kube-apiserver.yaml").write_text(yaml.safe_dump(manifest))
    return root, encryption


def take_bundle(tmp_path, root, host="node1", snapshot=SNAPSHOT, recipients=(ALICE[1],)):
    params = dict(take.ARGUMENT_SPEC.defaults(), dest_dir=str(tmp_path / "backups"), snapshot_name=snapshot,
                  host_label=host, paths=[str(root / "pki" / "**"), str(root / "manifests" / "*.yaml")],
                  kube_apiserver_manifest=str(root / "manifests" / "kube-apiserver.yaml"),
                  recipients=list(recipients), plaintext=not recipients)
    return drive(take.Bundle(params, Host()))["path"]


def secrets(count, key=KEY, provider="aescbc", key_name="key1"):
    found = {}
    for number in range(count):
        etcd_key = "/registry/secrets/team-a/s%02d" % number
        found[etcd_key] = encrypt_value(provider, key_name, key, etcd_key, stored_object(name=b"s%02d" % number))
    return found


def statuses(entry):
    return {part: entry[part]["status"] for part in ("archive", "certificates", "secrets")}


def test_the_sample_is_each_live_secret_at_its_newest_value_newest_first(tmp_path):
    path = database(tmp_path / "plain.db", {"/registry/secrets/a/one": b"v1", "/registry/secrets/a/two": b"v2",
                                            "/registry/secrets/a/gone": b"v3"},
                    others=["/registry/configmaps/a/c", "/registry/secretsnot/x"], deleted=["/registry/secrets/a/gone"])
    state_path = tmp_path / "rewritten.db"
    state = EtcdState()
    state.put(b"/registry/secrets/a/one", b"old")
    state.put(b"/registry/secrets/a/one", b"new")
    state.put(b"/registry/secrets/a/two", b"two")
    BoltWriter().write(str(state_path), state.tree(), trailer=True)
    with EtcdDb(path) as db:
        assert bundles.sample_secrets(db) == [(b"/registry/secrets/a/two", b"v2"), (b"/registry/secrets/a/one", b"v1")]
    with EtcdDb(str(state_path)) as db:
        assert bundles.sample_secrets(db) == [(b"/registry/secrets/a/two", b"two"), (b"/registry/secrets/a/one", b"new")]
        assert len(bundles.sample_secrets(db, limit=1)) == 1


def test_an_encrypted_snapshot_is_sampled_through_its_chunks_with_the_key(tmp_path):
    path = database(tmp_path / (SNAPSHOT + ".enc"), secrets(25), encrypt_to=ALICE[1])
    sample = bundles.read_sample(path, envelope.private_key(ALICE[0]))
    assert len(sample) == bundles.SAMPLE and all(k.startswith(b"/registry/secrets/team-a/") for k, dummy in sample)
    with pytest.raises(Exception, match="no decryption key"):
        bundles.read_sample(path, None)


def test_a_good_bundle_opens_chains_and_decrypts_every_sampled_secret(tmp_path, layout):
    root, dummy = layout
    snapshot = database(tmp_path / "backups" / (SNAPSHOT + ".enc"), secrets(5), encrypt_to=ALICE[1])
    bundle = take_bundle(tmp_path, root, snapshot=SNAPSHOT + ".enc")
    assert bundles.bundles_beside(snapshot) == [bundle]
    result = bundles.check_bundles(snapshot, [bundle], ALICE[0])
    (entry,) = result["bundles"]
    assert result["secrets_sampled"] == 5 and result["sample_problem"] is None
    assert entry["host"] == "node1", entry
    assert statuses(entry) == {"archive": "passed", "certificates": "passed", "secrets": "passed"}, entry
    assert entry["secrets"]["summary"]["decrypted"] == 5 and entry["secrets"]["summary"]["failed"] == 0
    assert "5 sampled: 5 decrypted" in entry["secrets"]["detail"] and "writer aescbc key key1" in entry["secrets"]["detail"]
    assert entry["certificates"]["detail"].startswith("2 certificates (1 CAs), 2 chain to a bundled CA; first to expire")
    assert entry["archive"]["detail"].endswith("each matching the sha256 its manifest records, decrypted with key id %s"
                                               % envelope.private_key(ALICE[0])[0])
    certs = {os.path.basename(c["path"]): c for c in entry["certificates"]["certificates"]}
    assert certs["apiserver.crt"]["chains"] is True and certs["ca.crt"]["is_ca"]
    assert 360 < certs["apiserver.crt"]["days_left"] <= 366
    text = json.dumps(result)
    for secret in (KEY, base64.b64encode(KEY)):
        assert secret.decode("latin-1") not in text
    assert "PRIVATE KEY" not in text and "BEGIN" not in text


def test_a_bundle_whose_key_is_not_the_secrets_fails_naming_bundle_provider_and_key(tmp_path, layout):
    root, dummy = layout
    snapshot = database(tmp_path / "backups" / SNAPSHOT, secrets(4, key=OTHER_KEY))
    bundle = take_bundle(tmp_path, root)
    (entry,) = bundles.check_bundles(snapshot, [bundle], ALICE[0])["bundles"]
    assert statuses(entry) == {"archive": "passed", "certificates": "passed", "secrets": "failed"}
    detail = entry["secrets"]["detail"]
    assert detail.startswith(os.path.basename(bundle) + ":") and "aescbc key key1" in detail
    assert "does not read 4 of 4 sampled Secrets" in detail and "take a new backup" in detail
    assert "/registry/secrets/team-a/" in detail


def test_a_damaged_bundle_fails_and_its_other_checks_do_not_run(tmp_path, layout):
    root, dummy = layout
    snapshot = database(tmp_path / "backups" / SNAPSHOT, secrets(2))
    bundle = take_bundle(tmp_path, root, recipients=())
    data = bytearray(open(bundle, "rb").read())
    # Inside the first file after the manifest: its bytes no longer match the sha256 the manifest records.
    at = data.index(b"-----BEGIN") + 20
    data[at] ^= 0x01
    open(bundle, "wb").write(bytes(data))
    (entry,) = bundles.check_bundles(snapshot, [bundle], None)["bundles"]
    assert statuses(entry) == {"archive": "failed", "certificates": "not_run", "secrets": "not_run"}
    assert os.path.basename(bundle) in entry["archive"]["detail"] and "damaged" in entry["archive"]["detail"]
    assert "take a new backup" in entry["archive"]["detail"]


def test_a_bundle_encrypted_to_another_key_fails_and_without_a_key_is_not_checked(tmp_path, layout):
    root, dummy = layout
    snapshot = database(tmp_path / "backups" / SNAPSHOT, secrets(2))
    bundle = take_bundle(tmp_path, root, recipients=(MALLORY[1],))
    (wrong,) = bundles.check_bundles(snapshot, [bundle], ALICE[0])["bundles"]
    assert wrong["archive"]["status"] == "failed" and "drill_decryption_key" in wrong["archive"]["detail"]
    (none,) = bundles.check_bundles(snapshot, [bundle], None)["bundles"]
    assert statuses(none) == {"archive": "not_run", "certificates": "not_run", "secrets": "not_run"}
    assert "drill_decryption_key" in none["archive"]["detail"]


@pytest.mark.parametrize("providers, stored, status, words", [
    ([{"identity": {}}, aescbc()], {"/registry/secrets/a/s": stored_object()}, "passed",
     "Secrets are stored unencrypted"),
    ([{"kms": {"name": "vault", "apiVersion": "v2"}}, {"identity": {}}],
     {"/registry/secrets/a/s": b"k8s:enc:kms:v2:vault:" + b"\x00" * 40}, "not_run", "key held outside: not checked"),
    ([aescbc()], {}, "not_run", "no Secret in the snapshot"),
    ([{"secretbox": {"keys": [{"name": "sb", "secret": base64.b64encode(KEY).decode()}]}}],
     secrets(3, provider="secretbox", key_name="sb"), "passed", "3 decrypted"),
    ([{"aesgcm": {"keys": [{"name": "g", "secret": base64.b64encode(KEY).decode()}]}}],
     secrets(2, provider="aesgcm", key_name="g"), "passed", "2 decrypted"),
], ids=["identity", "kms", "no-secrets", "secretbox", "aesgcm"])
def test_what_the_secrets_check_says_for_each_kind_of_configuration(tmp_path, layout, providers, stored, status, words):
    root, encryption = layout
    encryption.write_text(encryption_config(providers))
    snapshot = database(tmp_path / "backups" / SNAPSHOT, stored, others=["/registry/namespaces/a"])
    bundle = take_bundle(tmp_path, root)
    (entry,) = bundles.check_bundles(snapshot, [bundle], ALICE[0])["bundles"]
    assert entry["secrets"]["status"] == status and words in entry["secrets"]["detail"], entry["secrets"]


def test_an_expired_certificate_fails_the_certificates_check(tmp_path, layout):
    root, dummy = layout
    snapshot = database(tmp_path / "backups" / SNAPSHOT, secrets(1))
    bundle = take_bundle(tmp_path, root)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=400)
    (entry,) = bundles.check_bundles(snapshot, [bundle], ALICE[0], now=later)["bundles"]
    assert entry["certificates"]["status"] == "failed" and "expired on" in entry["certificates"]["detail"]
    assert "kubeadm certs renew" in entry["certificates"]["detail"]


def test_another_hosts_bundle_is_not_opened_on_this_host_and_no_bundle_is_said(tmp_path, layout):
    root, dummy = layout
    snapshot = database(tmp_path / "backups" / SNAPSHOT, secrets(1))
    mine, theirs = take_bundle(tmp_path, root, host="node1"), take_bundle(tmp_path, root, host="node2")
    result = bundles.check_bundles(snapshot, bundles.bundles_beside(snapshot), ALICE[0], opens_only="node1")
    by_host = {entry["host"]: statuses(entry) for entry in result["bundles"]}
    assert by_host == {"node1": {"archive": "passed", "certificates": "passed", "secrets": "passed"},
                       "node2": {"archive": "not_run", "certificates": "not_run", "secrets": "not_run"}}
    assert "opened only on node2 or on the controller" in result["bundles"][1]["archive"]["detail"]
    assert archive.bundle_host(os.path.basename(theirs)) == "node2" and mine != theirs
    empty = bundles.check_bundles(snapshot, [], ALICE[0])
    assert empty["bundles"] == [] and empty["not_run"] == "no control-plane bundle beside the snapshot"
