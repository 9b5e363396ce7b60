# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's check of the control-plane bundles beside a snapshot: each archive whole (opened with the drill's
key), its certificates chained to the bundled CAs with their expiry, and its EncryptionConfiguration proven on a
sample of the Secrets in the snapshot's own database.

Everything is read in this process: the snapshot's database with the collection's bbolt reader (an encrypted one
through its chunks, decrypted in memory), the bundles with archive.load. Nothing is written; the result names
providers and key names, never key material. A bundle of another host is opened only on the controller (`opens_only`
names the host whose bundles may be opened where this runs, so that no host holds another's keys in plaintext)."""
from __future__ import annotations

import datetime
import json
import os
import time
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._bundle import archive
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.certs import ISSUER_NOT_BUNDLED, check_chain
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.encryption_config import (
    Provider, SecretsEncryption, parse_encryption_config)
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.secrets_summary import summarize_secrets
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.db import (
    TOMBSTONE, VALUE_HEAD, EtcdDb, EtcdDbError, revision_of)
from ansible_collections.etcdops.dr.plugins.module_utils._etcd.proto_fields import wire_fields
from ansible_collections.etcdops.dr.plugins.module_utils._snapshot.file import MANIFEST_SUFFIX, companions

SAMPLE = 20
SECRETS_PREFIX = b"/registry/secrets/"
PEM_SUFFIXES = (".crt", ".key", ".pub", ".pem")
# mvccpb.KeyValue: field 5 is the value.
VALUE_FIELD = 5


def bundles_beside(snapshot: str) -> list[str]:
    """The bundle files of `snapshot` in its dir (their manifests left out), sorted."""
    directory, name = os.path.split(snapshot)
    names = os.listdir(directory or ".") if os.path.isdir(directory or ".") else []
    return [os.path.join(directory, found) for found in companions(names, name) if not found.endswith(MANIFEST_SUFFIX)]


def _private_key(pem: str | None) -> Any:
    if not pem:
        return None
    from ansible_collections.etcdops.dr.plugins.module_utils._crypto import (  # pylint: disable=import-outside-toplevel
        envelope)
    return envelope.private_key(pem)


def sample_secrets(db: EtcdDb, limit: int = SAMPLE) -> list[tuple[bytes, bytes]]:
    """Up to `limit` (etcd key, stored value) of live keys under /registry/secrets/, the most recently written first:
    the key bucket is walked from its newest revision, the first entry of each key being its current one (a
    tombstone: deleted, passed over)."""
    keys = db.bucket(b"key")
    if keys is None:
        raise EtcdDbError("%s is a bbolt database but not etcd's: it has no 'key' bucket" % db.path)
    seen: set[bytes] = set()
    found: list[tuple[bytes, bytes]] = []
    for revision_key, head in db.items(keys, reverse=True, value_bytes=VALUE_HEAD):
        if len(found) >= limit:
            break
        if not head:
            continue
        key = db.user_key(head, whole=False)
        entry = None
        if key is None and len(head) == VALUE_HEAD:
            entry = db.get(keys, revision_key)
            key = db.user_key(entry)
        if key is None:
            raise EtcdDbError("%s is damaged: the key bucket entry at revision %s holds no key" % (
                db.path, revision_of(revision_key)))
        if not key.startswith(SECRETS_PREFIX) or key in seen:
            continue
        seen.add(key)
        if len(revision_key) == 18 and revision_key[17] == TOMBSTONE:
            continue
        entry = entry if entry is not None else db.get(keys, revision_key) or b""
        values = wire_fields(entry).get(VALUE_FIELD) or [b""]
        found.append((key, bytes(values[0])))
    return found


def read_sample(snapshot: str, key: Any, limit: int = SAMPLE) -> list[tuple[bytes, bytes]]:
    """sample_secrets() of the snapshot file (an encrypted one decrypted chunk by chunk in memory with `key`)."""
    from ansible_collections.etcdops.dr.plugins.module_utils._crypto import (  # pylint: disable=import-outside-toplevel
        envelope, stream)
    if envelope.is_encrypted(snapshot):
        if key is None:
            raise EtcdOpsError("%s is encrypted and no decryption key was given" % snapshot)
        with stream.open_file(snapshot, key) as opened:
            with EtcdDb(snapshot, opened) as db:
                return sample_secrets(db, limit)
    with EtcdDb(snapshot) as db:
        return sample_secrets(db, limit)


def _encrypted(path: str) -> bool:
    from ansible_collections.etcdops.dr.plugins.module_utils._crypto import (  # pylint: disable=import-outside-toplevel
        envelope)
    try:
        return envelope.is_encrypted(path)
    except OSError:
        return False


def _outer_manifest(path: str) -> dict[str, Any]:
    try:
        with open(path + MANIFEST_SUFFIX, "rb") as handle:
            doc = json.loads(handle.read())
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def _certificates(contents: dict[str, bytes], now: datetime.datetime | None) -> dict[str, Any]:
    """check_chain() of the bundle's PEM files, summed up: `failed` for an expired certificate or one its bundled
    issuer did not sign; other problems (expiring within 30 days, an issuer outside the bundle, a lone key) noted."""
    pems = {path: data for path, data in contents.items() if path.endswith(PEM_SUFFIXES)}
    if not pems:
        return dict(status="not_run", detail="the bundle holds no certificate or key (.crt, .key, .pub, .pem)",
                    certificates=[], problems=[])
    found = check_chain(pems, now)
    shown = ("path", "subject", "issuer", "not_after", "days_left", "expired", "is_ca", "chains")
    certs = [{name: cert[name] for name in shown} for cert in found["certificates"]]
    bad = [cert for cert in certs if cert["expired"] or cert["chains"] is False]
    cas = [cert for cert in certs if cert["is_ca"]]
    chained = [cert for cert in certs if cert["chains"] is True]
    outside = [cert for cert in certs if cert["chains"] == ISSUER_NOT_BUNDLED]
    soonest = min(certs, key=lambda cert: cert["days_left"]) if certs else None
    detail = "%d certificates (%d CAs), %d chain to a bundled CA%s" % (
        len(certs), len(cas), len(chained), ", %d issued outside the bundle" % len(outside) if outside else "")
    if soonest:
        detail += "; first to expire %s on %s (%d days left)" % (soonest["path"], soonest["not_after"][:10],
                                                                 soonest["days_left"])
    if found["problems"]:
        detail += "; problems: %s" % "; ".join(found["problems"])
    if bad:
        detail += ". Renew the certificates (kubeadm certs renew) and take a new backup"
    status = "failed" if bad else "passed" if certs else "not_run"
    if not certs:
        detail = "no certificate in the bundle's PEM files; " + detail
    return dict(status=status, detail=detail, certificates=certs, problems=found["problems"])


def _encryption(contents: dict[str, bytes], where: str | None, name: str) -> tuple[SecretsEncryption | None, str]:
    """(the providers for Secrets, a note) from the bundled EncryptionConfiguration; (None, why) when unusable."""
    if not where:
        return SecretsEncryption((Provider("identity"),), ""), (
            "kube-apiserver named no --encryption-provider-config when the bundle was taken (identity)")
    data = contents.get(where)
    if data is None:
        return None, "the EncryptionConfiguration %s is not in the bundle" % where
    try:
        return parse_encryption_config(data.decode("utf-8", "replace")), "EncryptionConfiguration %s" % where
    except EtcdOpsError as exc:
        return None, "%s (%s in %s)" % (exc.msg, where, name)


def _secrets(name: str, config: SecretsEncryption | None, note: str, samples: list[tuple[bytes, bytes]] | None,
             sample_problem: str | None) -> dict[str, Any]:
    if config is None:
        return dict(status="failed", detail="%s: %s. Secrets in the snapshot cannot be read with this bundle: find "
                    "the configuration kube-apiserver ran with and take a new backup" % (name, note), summary=None)
    if samples is None:
        return dict(status="not_run", detail="the snapshot's database could not be read for its Secrets: %s"
                    % sample_problem, summary=None)
    summary = summarize_secrets(config, samples)
    writer = config.writer
    counts = "%d sampled: %d decrypted, %d unencrypted, %d under KMS, %d failed" % (
        summary["samples"], summary["decrypted"], summary["unencrypted"], summary["kms"], summary["failed"])
    notes = "; ".join(summary["notes"])
    if not summary["checked"]:
        return dict(status="not_run", detail="no Secret in the snapshot (nothing under /registry/secrets/): the "
                    "bundle's %s was not proven" % note, summary=summary)
    if summary["failed"]:
        first = summary["failures"][0]
        keys = sorted({"%s key %s" % (f["provider"] or "unknown provider", f["key_name"] or "(none)")
                       for f in summary["failures"]})
        return dict(status="failed", summary=summary, detail=(
            "%s: its %s does not read %d of %d sampled Secrets (%s; %s: %s): the bundle's keys are not the ones "
            "kube-apiserver wrote them with, so a control plane rebuilt from it could not read them. Find the "
            "EncryptionConfiguration (and keys) kube-apiserver runs with, put it where its manifest names it, and "
            "take a new backup; keep the old keys in it until every Secret is rewritten" % (
                name, note, summary["failed"], summary["samples"], ", ".join(keys), first["key"], first["msg"])))
    if summary["decrypted"] == 0 and summary["unencrypted"] == 0:
        return dict(status="not_run", summary=summary, detail="%s; %s" % (counts, notes))
    detail = "%s with %s (writer %s)" % (counts, note, writer.label + (" key " + writer.keys[0].name
                                                                       if writer.keys else ""))
    if notes:
        detail += "; " + notes
    return dict(status="passed", detail=detail, summary=summary)


def check_one(path: str, key: Any, samples: list[tuple[bytes, bytes]] | None, sample_problem: str | None,
              now: datetime.datetime | None = None) -> dict[str, Any]:
    """One bundle checked: its archive, certificates and Secrets, each {status, detail}; no key material."""
    name = os.path.basename(path)
    outer = _outer_manifest(path)
    entry: dict[str, Any] = dict(name=name, path=path, host=outer.get("host") or archive.bundle_host(name),
                                 member=outer.get("member") or {}, encrypted=outer.get("encrypted"),
                                 recipients=outer.get("recipients") or [], files=None,
                                 encryption_provider_config=outer.get("encryption_provider_config"))
    if key is None and _encrypted(path):
        skipped = dict(status="not_run", detail="%s is encrypted and the drill was given no key: give it the private "
                       "key of one of its recipients (drill_decryption_key) to check it" % name)
        entry.update(archive=skipped, certificates=dict(skipped, certificates=[], problems=[]),
                     secrets=dict(skipped, summary=None))
        return entry
    try:
        manifest, contents = archive.load(path, key)
    except EtcdOpsError as exc:
        why = exc.msg
        what = ("the drill's key is not one of its recipients: give the private key of one of %s "
                "(drill_decryption_key)" % (", ".join(entry["recipients"]) or "its recipients")
                if getattr(exc, "cause", None) in ("wrong_key", "missing_key") else
                "take a new backup, or drill a copy of this backup set from another place (the controller's dir, a "
                "store) where the bundle is whole")
        entry.update(archive=dict(status="failed", detail="%s cannot be opened: %s; %s" % (name, why, what)),
                     certificates=dict(status="not_run", detail="the archive could not be opened", certificates=[],
                                       problems=[]),
                     secrets=dict(status="not_run", detail="the archive could not be opened", summary=None))
        return entry
    except OSError as exc:
        entry.update(archive=dict(status="failed", detail="%s cannot be read: %s" % (name, exc)),
                     certificates=dict(status="not_run", detail="the archive could not be read", certificates=[],
                                       problems=[]),
                     secrets=dict(status="not_run", detail="the archive could not be read", summary=None))
        return entry
    files = len(manifest.get("files") or [])
    entry["files"] = files
    entry["archive"] = dict(status="passed", detail="%s: %d files, each matching the sha256 its manifest records%s" % (
        name, files, ", decrypted with key id %s" % key[0] if key and entry["encrypted"] else ""))
    entry["certificates"] = _certificates(contents, now)
    where = manifest.get("encryption_provider_config")
    config, note = _encryption(contents, where, name)
    entry["secrets"] = _secrets(name, config, note, samples, sample_problem)
    return entry


def check_bundles(snapshot: str, bundles: list[str], key_pem: str | None = None, limit: int = SAMPLE,
                  opens_only: str | None = None, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The drill's bundle check of `snapshot`'s `bundles` (paths); `opens_only`: the one host whose bundles may be
    opened here (None: any, as on the controller). Never raises for a bad bundle or snapshot: each is reported."""
    began = time.monotonic()
    result: dict[str, Any] = dict(snapshot=snapshot, found=len(bundles), sample_limit=limit, secrets_sampled=None,
                                  sample_problem=None, bundles=[], not_run=None, seconds=None)
    if not bundles:
        result["not_run"] = "no control-plane bundle beside the snapshot"
        return result
    key = None
    key_problem = None
    try:
        key = _private_key(key_pem)
    except EtcdOpsError as exc:
        key_problem = exc.msg
    samples = None
    if key_problem:
        result["sample_problem"] = key_problem
    else:
        try:
            samples = read_sample(snapshot, key, limit)
            result["secrets_sampled"] = len(samples)
        except (EtcdOpsError, OSError) as exc:
            result["sample_problem"] = getattr(exc, "msg", str(exc))
    for path in bundles:
        host = _outer_manifest(path).get("host") or archive.bundle_host(os.path.basename(path))
        if opens_only is not None and host != opens_only:
            result["bundles"].append(_elsewhere(path, host, opens_only))
            continue
        if key_problem:
            result["bundles"].append(_elsewhere(path, host, None, key_problem))
            continue
        result["bundles"].append(check_one(path, key, samples, result["sample_problem"], now))
    result["seconds"] = round(time.monotonic() - began, 3)
    return result


def _elsewhere(path: str, host: str, here: str | None, why: str | None = None) -> dict[str, Any]:
    reason = why or ("the bundle of %s is opened only on %s or on the controller (its keys never in plaintext on "
                     "another host, here %s): drill from the controller's dir or a store to check it" % (
                         host, host, here))
    skipped = dict(status="not_run", detail=reason)
    return dict(name=os.path.basename(path), path=path, host=host, member={}, encrypted=None, recipients=[],
                files=None, encryption_provider_config=None, archive=dict(skipped),
                certificates=dict(skipped, certificates=[], problems=[]), secrets=dict(skipped, summary=None))
