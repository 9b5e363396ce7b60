# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube-apiserver's --encryption-provider-config: which providers read and write Secrets, as kube-apiserver decides.

Facts from kubernetes/kubernetes, staging/src/k8s.io/apiserver:
- pkg/apis/apiserver/v1/register.go: the file is `apiVersion: apiserver.config.k8s.io/v1, kind:
  EncryptionConfiguration`, also accepted as `apiVersion: v1, kind: EncryptionConfig` ("due to a docs bug").
- pkg/apis/apiserver/v1/types.go and defaults.go: resources[].resources / .providers; a provider is one of aesgcm,
  aescbc, secretbox (keys: name + base64 secret), identity ({}), kms (name, apiVersion defaulting to v1).
- pkg/apis/config/validation/validation.go: exactly one provider per list element; AES keys of 16, 24 or 32 bytes,
  secretbox keys of 32; secrets in standard base64.
- pkg/server/options/encryptionconfig/config.go: a resource's providers are those of every entry naming it, in
  order; a resource named after an earlier `*.` (core group) or `*.*` entry is refused as masked; the lookup for
  `secrets` is `secrets`, then `*.`, then `*.*`, and identity when nothing names it. The first provider writes;
  reads try each provider whose prefix the value carries (value/transformer.go).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

try:
    import yaml
except ImportError:
    yaml = None  # type: ignore[assignment]

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

KINDS = ("aesgcm", "aescbc", "secretbox", "identity", "kms")
ACCEPTED = {("apiserver.config.k8s.io/v1", "EncryptionConfiguration"), ("v1", "EncryptionConfig")}
KEY_SIZES = {"aesgcm": (16, 24, 32), "aescbc": (16, 24, 32), "secretbox": (32,)}
# Where the lookup for the core group's `secrets` looks, in order (config.go transformerFromOverrides).
SECRETS_RULES = ("secrets", "*.", "*.*")


class EncryptionConfigError(EtcdOpsError):
    """A configuration kube-apiserver would refuse, or one this cannot read."""


@dataclass(frozen=True)
class Key:
    name: str
    secret: bytes


@dataclass(frozen=True)
class Provider:
    """One provider: `kind` is one of KINDS; `keys` for aes*/secretbox; `name` and `api_version` for kms."""
    kind: str
    keys: tuple[Key, ...] = ()
    name: str = ""
    api_version: str = ""

    @property
    def prefix(self) -> str:
        """What kube-apiserver writes before the ciphertext (before the key name for aes*/secretbox)."""
        if self.kind == "identity":
            return ""
        if self.kind == "kms":
            return "k8s:enc:kms:%s:%s:" % (self.api_version, self.name)
        return "k8s:enc:%s:v1:" % self.kind

    @property
    def label(self) -> str:
        return "kms %s %s" % (self.api_version, self.name) if self.kind == "kms" else self.kind

    def describe(self) -> dict[str, Any]:
        """The provider without its key material, for a report."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "kms":
            out.update(name=self.name, api_version=self.api_version)
        elif self.keys:
            out["keys"] = [key.name for key in self.keys]
        return out


@dataclass(frozen=True)
class SecretsEncryption:
    """The providers that apply to Secrets, in order, and the rule that chose them ("" when none did: identity)."""
    providers: tuple[Provider, ...]
    rule: str

    @property
    def writer(self) -> Provider:
        return self.providers[0]

    def describe(self) -> dict[str, Any]:
        return {"rule": self.rule, "writer": self.writer.describe(),
                "providers": [provider.describe() for provider in self.providers]}


def _fail(where: str, msg: str) -> EncryptionConfigError:
    return EncryptionConfigError("encryption configuration: %s: %s" % (where, msg))


def _keys(kind: str, body: Any, where: str) -> tuple[Key, ...]:
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list) or not body["keys"]:
        raise _fail(where, "%s needs at least one key" % kind)
    keys = []
    for index, item in enumerate(body["keys"]):
        at = "%s.keys[%d]" % (where, index)
        if not isinstance(item, dict) or not item.get("name") or not item.get("secret"):
            raise _fail(at, "a key needs a name and a secret")
        try:
            secret = base64.b64decode(str(item["secret"]), validate=True)
        except (binascii.Error, ValueError):
            raise _fail(at, "key %s: the secret is not base64" % item["name"]) from None
        if len(secret) not in KEY_SIZES[kind]:
            sizes = " or ".join(map(str, KEY_SIZES[kind]))
            raise _fail(at, "key %s: %d bytes, %s takes %s" % (item["name"], len(secret), kind, sizes))
        keys.append(Key(str(item["name"]), secret))
    return tuple(keys)


def _provider(item: Any, where: str) -> Provider:
    found = [kind for kind in KINDS if isinstance(item, dict) and item.get(kind) is not None]
    if len(found) != 1:
        raise _fail(where, "each provider entry names exactly one of %s" % ", ".join(KINDS))
    kind, body = found[0], item[found[0]]
    if kind == "identity":
        return Provider("identity")
    if kind == "kms":
        if not isinstance(body, dict) or not body.get("name"):
            raise _fail(where, "a kms provider needs a name")
        version = str(body.get("apiVersion") or "v1")
        if version not in ("v1", "v2"):
            raise _fail(where, "kms apiVersion %s: only v1 and v2 exist" % version)
        return Provider("kms", name=str(body["name"]), api_version=version)
    return Provider(kind, keys=_keys(kind, body, where + "." + kind))


def _rules(doc: dict[str, Any]) -> dict[str, list[Provider]]:
    """{resource as written: its providers}, refusing a resource masked by an earlier wildcard as config.go does."""
    rules: dict[str, list[Provider]] = {}
    entries = doc.get("resources")
    if not isinstance(entries, list) or not entries:
        raise _fail("resources", "at least one entry is needed")
    for index, entry in enumerate(entries):
        where = "resources[%d]" % index
        if not isinstance(entry, dict) or not entry.get("resources") or not entry.get("providers"):
            raise _fail(where, "an entry needs resources and providers")
        providers = [_provider(item, "%s.providers[%d]" % (where, pos)) for pos, item in enumerate(entry["providers"])]
        for resource in entry["resources"]:
            name = _normalise(str(resource))
            group = name.split(".", 1)[1] if "." in name else ""
            for wildcard in ("*." + group, "*.*"):
                if wildcard in rules:
                    raise _fail(where, "resource %s is masked by the earlier rule %s" % (resource, wildcard))
            rules.setdefault(name, []).extend(providers)
    return rules


def _normalise(resource: str) -> str:
    """`secrets` and `secrets.` both mean the core group's secrets (schema.ParseGroupResource)."""
    return resource[:-1] if resource.endswith(".") and resource != "*." else resource


def parse_encryption_config(text: str) -> SecretsEncryption:
    """The providers for Secrets in the configuration `text` (YAML or JSON); EncryptionConfigError if unusable."""
    if yaml is None:
        raise EncryptionConfigError("the encryption configuration is YAML, and PyYAML is not installed for the "
                                    "Python that runs the module on this host")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EncryptionConfigError("the encryption configuration is not valid YAML: %s"
                                    % str(exc).splitlines()[0]) from None
    if not isinstance(doc, dict):
        raise EncryptionConfigError("the encryption configuration is not a YAML mapping")
    if (doc.get("apiVersion"), doc.get("kind")) not in ACCEPTED:
        raise EncryptionConfigError("the encryption configuration is apiVersion %s kind %s; kube-apiserver reads "
                                    "apiserver.config.k8s.io/v1 EncryptionConfiguration (or v1 EncryptionConfig)"
                                    % (doc.get("apiVersion"), doc.get("kind")))
    rules = _rules(doc)
    for rule in SECRETS_RULES:
        if rule in rules:
            return SecretsEncryption(tuple(rules[rule]), rule)
    return SecretsEncryption((Provider("identity"),), "")
