# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lost control-plane host's bundle put on the new host that takes its place, as the etcd_bundle_restore module
does it before a restore onto new hosts: every bundled file that is not there yet is written (a file already there is
kept, and reported when it differs); then what names the old host is made to name the new one - etcd's configuration
(name, URLs, a new initial cluster) where its manager keeps it (_host/member_config_edit), etcd's server and peer
certificates issued from the bundled etcd CA for the new names and addresses when the ones there do not cover them,
and kube-apiserver's --etcd-servers. Every file changed is copied into keep_dir first. A second run finds nothing to
do."""
from __future__ import annotations

import difflib
import json
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import CONNECTION, MEMBER_SERVICE, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._bundle import archive
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.archive import BundleError
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.cert_issue import (
    is_ip, issue_apiserver_serving_cert, issue_member_certs)
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.certs import check_chain, library
from ansible_collections.etcdops.dr.plugins.module_utils._crypto.envelope import private_key
from ansible_collections.etcdops.dr.plugins.module_utils._host import member_config_edit
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import write_atomic
from ansible_collections.etcdops.dr.plugins.module_utils._restore.phases import service_params
from ansible_collections.etcdops.dr.plugins.module_utils._service import member as member_service

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext

# The etcd static pod's manifest in the kubelet's dir (member_service's manifest_name).
MEMBER_MANIFEST = "etcd.yaml"
# The listen URLs hold the host's own addresses: the old host's address in them becomes the new host's.
LISTEN_FLAGS = ("listen-client-urls", "listen-peer-urls", "listen-metrics-urls")
# (certificate flag, key flag, CA flag, URL whose address the certificate must name)
CERT_PAIRS = (("cert-file", "key-file", "trusted-ca-file", "client_url"),
              ("peer-cert-file", "peer-key-file", "peer-trusted-ca-file", "peer_url"))

ARGUMENT_SPEC = CONNECTION.merge(MEMBER_SERVICE).merge(ArgumentSpec(dict(
    bundle=dict(type="path", required=True),
    decryption_key=dict(type="str", no_log=True),
    name=dict(type="str", required=True),
    client_url=dict(type="str", required=True),
    peer_url=dict(type="str", required=True),
    initial_cluster=dict(type="str", required=True),
    etcd_servers=dict(type="list", elements="str", default=[]),
    kube_apiserver_manifest=dict(type="path", default="/etc/kubernetes/manifests/kube-apiserver.yaml"),
    kube_held_manifest_dir=dict(type="path", default="/etc/kubernetes/etcdops-held-manifests"),
    etcd_ca_key=dict(type="path"),
    keep_dir=dict(type="path", required=True),
    timeout=dict(type="float", default=60),
)))


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def listen_values(text: str) -> dict[str, str]:
    """The listen URLs a member definition's text sets - a YAML config key, a flag in a command or a manifest item,
    an ETCD_ variable - read only to learn which of them hold the old address (the edit proves what it writes)."""
    found = {}
    for flag in LISTEN_FLAGS:
        variable = "ETCD_" + flag.upper().replace("-", "_")
        match = re.search(r"""(?:^|[\s"'-])(?:%s|%s)\s*[:=\s]\s*["']?([^\s"',]+(?:,[^\s"',]+)*)""" % (
            re.escape(flag), re.escape(variable)), text, re.M)
        if match:
            found[flag] = match.group(1)
    return found


def _cert_covers(cert_pem: bytes, ca_pem: bytes, address: str) -> str | None:
    """None when the certificate chains to the CA, has not expired and names `address` (an IP or DNS SAN); else why
    not."""
    x509 = library()[0]
    report = check_chain({"ca.crt": ca_pem, "member.crt": cert_pem})
    entry = next((c for c in report["certificates"] if c["path"] == "member.crt"), None)
    if entry is None:
        return "it cannot be read as a certificate"
    if entry["chains"] is not True:
        return "it is not signed by the etcd CA"
    if entry["expired"]:
        return "it has expired"
    try:
        sans = x509.load_pem_x509_certificate(cert_pem).extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "it names no address"
    names = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} | set(sans.get_values_for_type(x509.DNSName))
    return None if address in names else "it does not name %s" % address


def manifest_flags_edit(text: str, values: dict[str, str], where: str) -> str:
    """A static pod manifest with each `- --flag=value` item of `values` set (each must be there once), the rest as it
    was (proven by reading both back)."""
    import yaml  # pylint: disable=import-outside-toplevel
    lines = text.splitlines(keepends=True)
    for flag, value in values.items():
        item = re.compile(r"""^(\s*-\s+)(["']?)--%s=.*\2\s*$""" % re.escape(flag))
        found = [index for index, line in enumerate(lines) if item.match(line)]
        if len(found) != 1:
            raise BundleError("%s has %s `- --%s=...` item: set --%s=%s there by hand" % (
                where, "no" if not found else "more than one", flag, flag, value))
        lines[found[0]] = "%s%s\n" % (item.match(lines[found[0]]).group(1),  # type: ignore[union-attr]
                                      json.dumps("--%s=%s" % (flag, value)))
    after = "".join(lines)
    wanted = yaml.safe_load(text)
    for container in ((wanted or {}).get("spec") or {}).get("containers") or []:
        for field in ("command", "args"):
            items = container.get(field) or []
            for index, item in enumerate(items):
                name = str(item)[2:].partition("=")[0]
                if str(item).startswith("--") and name in values:
                    items[index] = "--%s=%s" % (name, values[name])
    if yaml.safe_load(after) != wanted:
        raise BundleError("%s: the edit would change more than %s: set them by hand" % (
            where, ", ".join("--%s=%s" % item for item in values.items())))
    return after


def manifest_flags(text: str) -> dict[str, str]:
    """The --flag=value items of a static pod manifest's containers."""
    import yaml  # pylint: disable=import-outside-toplevel
    flags = {}
    for container in ((yaml.safe_load(text) or {}).get("spec") or {}).get("containers") or []:
        for item in list(container.get("command") or []) + list(container.get("args") or []):
            name, has_value, value = str(item).partition("=")
            if name.startswith("--") and has_value:
                flags[name[2:]] = value
    return flags


class BundleRestore:
    """One new host made the successor of the host whose bundle it gets. `result` is what the module returns."""

    def __init__(self, params: dict[str, Any], host: HostContext) -> None:
        self.params = params
        self.host = host
        self.contents: dict[str, bytes] = {}
        self.entries: list[dict[str, Any]] = []
        self.to_place: list[dict[str, Any]] = []
        self.old: dict[str, Any] = {}
        self.service: member_service.MemberService | None = None
        # What plan() decided for the configuration, certificates and kube-apiserver, when every file was in place.
        self.adapt: tuple[list[Any], list[dict[str, Any]], str | None] | None = None
        self.result: dict[str, Any] = dict(
            changed=False, old_member=None, placed=[], kept_existing=[], identical=0, config_changes=[],
            config_diff="", certificates=[], kube_apiserver=None, kept_dir=params["keep_dir"],
            old_address_remaining=[])

    # ---- plan ---------------------------------------------------------------------------------------------------

    def plan(self) -> None:
        params, result = self.params, self.result
        key = private_key(params["decryption_key"], "decryption_key") if params["decryption_key"] else None
        manifest, self.contents = archive.load(params["bundle"], key)
        self.old = manifest.get("member") or {}
        if not self.old.get("peer_url") or not self.old.get("name"):
            raise BundleError("%s records no member (name, peer URL): it was taken by a collection before 1.0 or "
                              "without etcd_member_name; a rebuild cannot tell what to rename" % params["bundle"])
        result["old_member"] = self.old
        self.entries = manifest["files"]
        for entry in self.entries:
            state = self._state(entry)
            if state == "absent":
                self.to_place.append(entry)
            elif state == "same":
                result["identical"] += 1
            else:
                result["kept_existing"].append(entry["path"])
        result["placed"] = [self._destination(entry["path"]) for entry in self.to_place]
        if not self.to_place:
            self.adapt = self._plan_adapt()
        else:
            # The configuration, certificates and kube-apiserver's manifest are judged once the files are in place.
            result["changed"] = True
            result["config_changes"] = [dict(path=None, changed=None, why="read after the bundle is placed")]

    def _held_path(self, path: str) -> str | None:
        """Where a bundled static pod manifest of etcd or kube-apiserver is placed instead of the kubelet's dir: held,
        as the restore's stop leaves it, so that no kubelet starts them on this host before the restore does."""
        params = self.params
        manifests = os.path.normpath(params["manifest_dir"])
        if os.path.dirname(path) != manifests:
            return None
        if os.path.basename(path) == MEMBER_MANIFEST:
            return os.path.join(params["held_manifest_dir"], MEMBER_MANIFEST)
        if path == os.path.normpath(params["kube_apiserver_manifest"]):
            return os.path.join(params["kube_held_manifest_dir"], os.path.basename(path))
        return None

    def _destination(self, path: str) -> str:
        """Where the bundled file `path` is, or goes, on this host."""
        held = self._held_path(path)
        return held if held and not os.path.lexists(path) else path

    def _state(self, entry: dict[str, Any]) -> str:
        path = self._destination(entry["path"])
        if not os.path.lexists(path):
            return "absent"
        if entry["type"] == "symlink":
            return "same" if os.path.islink(path) and os.readlink(path) == entry["target"] else "differs"
        with open(path, "rb") as handle:
            return "same" if handle.read() == self.contents[entry["path"]] else "differs"

    def _plan_adapt(self) -> tuple[list[Any], list[dict[str, Any]], str | None]:
        """What names the old host: (config edits, certificates to issue, kube-apiserver manifest's new text)."""
        params, result = self.params, self.result
        service = self.service = member_service.MemberService(service_params(params, "stopped"),
                                                              self.host.checking())
        service.plan()
        values = {"name": params["name"], "initial-advertise-peer-urls": params["peer_url"],
                  "advertise-client-urls": params["client_url"], "initial-cluster": params["initial_cluster"],
                  "initial-cluster-state": "new"}
        probe = member_config_edit.plan(self.host, service.backend, params["config_file"], values)
        old_address, new_address = host_of(self.old["peer_url"]), host_of(params["peer_url"])
        for flag, value in listen_values("".join(edit.before for edit in probe)).items():
            if old_address and old_address in value and old_address != new_address:
                values[flag] = value.replace(old_address, new_address)
        edits = member_config_edit.plan(self.host, service.backend, params["config_file"], values)
        result["config_changes"] = [edit.describe() for edit in edits]
        result["config_diff"] = "".join("".join(difflib.unified_diff(
            edit.before.splitlines(True), edit.after.splitlines(True), edit.path, edit.path + " (new host)"))
            for edit in edits if edit.changed)
        sources = [source for source in service.result["member_config"] if source["kind"] != "process"]
        tls = (sources[0].get("tls_files") or {}) if sources else {}
        manifest_text, apiserver_certificates = self._plan_kube_apiserver()
        certificates = self._plan_certificates(tls) + apiserver_certificates
        result["certificates"] = certificates
        result["changed"] = (any(edit.changed for edit in edits) or any(c["issue"] for c in certificates)
                             or manifest_text is not None)
        return edits, certificates, manifest_text

    def _plan_certificates(self, tls: dict[str, str]) -> list[dict[str, Any]]:
        params = self.params
        planned = []
        for cert_flag, key_flag, ca_flag, url_option in CERT_PAIRS:
            if cert_flag not in tls:
                continue
            if key_flag not in tls or ca_flag not in tls:
                raise BundleError("etcd's configuration names --%s but not --%s and --%s: a certificate for the new "
                                  "host cannot be issued" % (cert_flag, key_flag, ca_flag))
            ca_path = tls[ca_flag]
            ca_key = params["etcd_ca_key"] or re.sub(r"\.(crt|pem)$", ".key", ca_path)
            address = host_of(params[url_option])
            why: str | None = "missing"
            if os.path.exists(tls[cert_flag]) and os.path.exists(ca_path):
                with open(tls[cert_flag], "rb") as cert, open(ca_path, "rb") as ca:
                    why = _cert_covers(cert.read(), ca.read(), address)
            elif not os.path.exists(ca_path):
                raise BundleError("the etcd CA %s (--%s) is neither on this host nor in the bundle: add its dir to "
                                  "backup_bundle_paths" % (ca_path, ca_flag))
            if why and not os.path.exists(ca_key):
                raise BundleError("the certificate %s must be issued anew (%s), and the etcd CA's key is not at %s: "
                                  "give etcd_ca_key, or add the CA's key to backup_bundle_paths" % (
                                      tls[cert_flag], why, ca_key))
            planned.append(dict(cert=tls[cert_flag], key=tls[key_flag], ca=ca_path, ca_key=ca_key, issue=bool(why),
                                why=why or "valid for %s and signed by the etcd CA" % address,
                                role="server" if cert_flag == "cert-file" else "peer"))
        return planned

    def _plan_kube_apiserver(self) -> tuple[str | None, list[dict[str, Any]]]:
        """kube-apiserver's manifest with the new --etcd-servers (and --advertise-address, when it was the old host's
        address), or None when it needs no change; and its serving certificate, to issue anew when it does not name
        this host's address."""
        params = self.params
        path = self._destination(os.path.normpath(params["kube_apiserver_manifest"]))
        if not params["etcd_servers"] or not os.path.exists(path):
            self.result["kube_apiserver"] = dict(path=path, changed=False, why="no manifest here" if params[
                "etcd_servers"] else "no etcd_servers given")
            return None, []
        with open(path) as handle:
            text = handle.read()
        flags = manifest_flags(text)
        old_address, new_address = host_of(self.old["peer_url"]), host_of(params["peer_url"])
        values = {"etcd-servers": ",".join(params["etcd_servers"])}
        if flags.get("advertise-address") == old_address:
            values["advertise-address"] = new_address
        after = manifest_flags_edit(text, values, "kube-apiserver manifest %s" % path)
        self.result["kube_apiserver"] = dict(path=path, changed=after != text, etcd_servers=params["etcd_servers"],
                                             advertise_address=values.get("advertise-address",
                                                                          flags.get("advertise-address")))
        certificates = []
        cert, key, ca = (flags.get(name) for name in ("tls-cert-file", "tls-private-key-file", "client-ca-file"))
        if cert and key and ca and os.path.exists(cert) and os.path.exists(ca):
            with open(cert, "rb") as cert_handle, open(ca, "rb") as ca_handle:
                why = _cert_covers(cert_handle.read(), ca_handle.read(), new_address)
            ca_key = re.sub(r"\.(crt|pem)$", ".key", ca)
            if why and not os.path.exists(ca_key):
                raise BundleError("kube-apiserver's serving certificate %s must be issued anew (%s), and the cluster "
                                  "CA's key is not at %s: add it to backup_bundle_paths" % (cert, why, ca_key))
            certificates.append(dict(cert=cert, key=key, ca=ca, ca_key=ca_key, issue=bool(why), role="apiserver",
                                     why=why or "valid for %s and signed by the cluster CA" % new_address))
        return (after if after != text else None), certificates

    def would(self) -> str:
        return self._summary("would place", "would be")

    # ---- apply --------------------------------------------------------------------------------------------------

    def apply(self) -> None:
        for entry in self.to_place:
            self._place(entry)
        edits, certificates, manifest_text = self.adapt or self._plan_adapt()
        keep_dir = self.params["keep_dir"]
        member_config_edit.apply(self.host, self.service.backend if self.service else None,
                                 [edit for edit in edits if edit.changed], keep_dir)
        for certificate in certificates:
            if certificate["issue"]:
                self._issue(certificate, keep_dir)
        if manifest_text is not None:
            path = self._destination(os.path.normpath(self.params["kube_apiserver_manifest"]))
            member_config_edit.keep_copy(keep_dir, path)
            write_atomic(path, manifest_text.encode("utf-8"), os.stat(path).st_mode & 0o7777)
        self._verify(certificates)
        self.result["changed"] = bool(self.to_place) or self.result["changed"]
        self.result["old_address_remaining"] = self._old_address_remaining()

    def _old_address_remaining(self) -> list[str]:
        """The bundled files that still name the lost host's address, as they are now on this host."""
        old_address = host_of(self.old["peer_url"])
        if not old_address or old_address == host_of(self.params["peer_url"]):
            return []
        pattern = re.compile(r"(?<![\w.])%s(?![\w])" % re.escape(old_address))
        found = []
        for entry in self.entries:
            path = entry["path"]
            path = self._destination(path)
            if entry["type"] != "file" or not os.path.isfile(path) or entry["size"] > 1024 * 1024:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if b"-----BEGIN" not in data and pattern.search(data.decode("utf-8", "replace")):
                found.append(path)
        return found

    def _place(self, entry: dict[str, Any]) -> None:
        path = self._destination(entry["path"])
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700 if path != entry["path"] else 0o755)
        if entry["type"] == "symlink":
            os.symlink(entry["target"], path)
            return
        write_atomic(path, self.contents[entry["path"]], int(entry["mode"], 8))
        try:
            os.chown(path, entry["uid"], entry["gid"])
        except (OSError, KeyError):
            pass

    def _issue(self, certificate: dict[str, Any], keep_dir: str) -> None:
        params = self.params
        with open(certificate["ca"], "rb") as ca, open(certificate["ca_key"], "rb") as ca_key:
            if certificate["role"] == "apiserver":
                with open(certificate["cert"], "rb") as existing:
                    issued = dict(apiserver=issue_apiserver_serving_cert(
                        ca.read(), ca_key.read(), params["name"], host_of(params["peer_url"]),
                        existing_cert_pem=existing.read(), drop_sans=[host_of(self.old["peer_url"])]))
            else:
                hosts = sorted({host_of(params["client_url"]), host_of(params["peer_url"])})
                addresses = [host for host in hosts if is_ip(host)]
                issued = issue_member_certs(ca.read(), ca_key.read(), params["name"], addresses,
                                            [host for host in hosts if host not in addresses])
        for field in ("cert", "key"):
            member_config_edit.keep_copy(keep_dir, certificate[field])
            directory = os.path.dirname(certificate[field])
            if not os.path.isdir(directory):
                os.makedirs(directory, mode=0o755)
            write_atomic(certificate[field], issued[certificate["role"]][field], 0o600 if field == "key" else 0o644)

    def _verify(self, certificates: list[dict[str, Any]]) -> None:
        """Each certificate, read back: signed by its bundled CA and naming this host's address (the client URL's for
        etcd's server certificate; the peer URL's, the host's own, for the peer's and kube-apiserver's)."""
        for certificate in certificates:
            url = self.params["client_url" if certificate["role"] == "server" else "peer_url"]
            with open(certificate["cert"], "rb") as cert, open(certificate["ca"], "rb") as ca:
                why = _cert_covers(cert.read(), ca.read(), host_of(url))
            if why:
                raise BundleError("%s, read back after it was written, is not usable: %s" % (certificate["cert"], why))
            certificate["verified"] = "signed by %s and valid for %s" % (certificate["ca"], host_of(url))

    def done(self) -> str:
        return self._summary("placed", "were")

    def _summary(self, verb: str, were: str) -> str:
        result = self.result
        parts = ["%s %d file(s) of the bundle of member %s, %d already there" % (
            verb, len(result["placed"]), self.old.get("name"), result["identical"])]
        if result["kept_existing"]:
            parts.append("kept %d file(s) already here that differ from the bundle: %s" % (
                len(result["kept_existing"]), ", ".join(result["kept_existing"])))
        changed = [c["path"] for c in result["config_changes"] if c.get("changed")]
        if changed:
            parts.append("etcd's configuration %s rewritten for %s at %s: %s" % (
                were, self.params["name"], self.params["peer_url"], ", ".join(changed)))
        issued = [c["cert"] for c in result["certificates"] if c["issue"]]
        if issued:
            parts.append("certificates %s issued from the etcd CA: %s" % (were, ", ".join(issued)))
        if (result["kube_apiserver"] or {}).get("changed"):
            parts.append("kube-apiserver's --etcd-servers %s set to %s" % (
                were, ",".join(self.params["etcd_servers"])))
        if result["old_address_remaining"]:
            parts.append("WARNING: the lost host's address %s is still named in %s: change it there by hand if it "
                         "must be this host's" % (host_of(self.old.get("peer_url") or ""),
                                                  ", ".join(result["old_address_remaining"])))
        return "; ".join(parts)
